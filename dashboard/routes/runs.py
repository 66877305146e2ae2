"""GET /api/runs and /api/runs/{id}: gradings started from the page, while and after they run."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from dashboard.deps import RunsDep
from dashboard.models import ERRORS, RunOut

router = APIRouter(prefix="/api/runs", tags=["runs"], responses=ERRORS)


@router.get("", response_model=list[RunOut])
def list_runs(runs: RunsDep, site: str | None = None) -> list[dict[str, Any]]:
    """Gradings started since the dashboard started, newest first (the gradebook keeps them all)."""
    return [run.to_dict() for run in runs.all() if not site or run.site == site]


@router.get("/{run_id}", response_model=RunOut)
def get_run(run_id: int, runs: RunsDep) -> dict[str, Any]:
    """A grading's state (queued, running, done, failed), its progress lines and, when done, its result."""
    run = runs.get(run_id)
    if run is None:
        raise HTTPException(status_code=404, detail=f"no grading run {run_id} since the dashboard started: "
                                                    f"finished gradings are in the gradebook")
    return run.to_dict()
