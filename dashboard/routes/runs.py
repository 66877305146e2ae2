"""GET /api/runs and /api/runs/{id}: gradings started from the page, while and after they run."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path

from dashboard.deps import RunsDep, ViewerDep
from dashboard.models import ERRORS, RunOut

router = APIRouter(prefix="/api/runs", tags=["runs"], responses=ERRORS)


@router.get("", response_model=list[RunOut])
def list_runs(runs: RunsDep, viewer: ViewerDep, site: str | None = None) -> list[dict[str, Any]]:
    """Gradings started since the dashboard started, newest first (the gradebook keeps them all);
    a trainee's own site's only."""
    return [run.to_dict() for run in runs.all() if (not site or run.site == site) and viewer.owns(run.site)]


@router.get("/{run_id}", response_model=RunOut)
def get_run(run_id: Annotated[int, Path(ge=1)], runs: RunsDep, viewer: ViewerDep) -> dict[str, Any]:
    """A grading's state (queued, running, done, failed), its progress lines and, when done, its result."""
    run = runs.get(run_id)
    if run is None:
        raise HTTPException(status_code=404, detail=f"no grading run {run_id} since the dashboard started: "
                                                    f"finished gradings are in the gradebook")
    if not viewer.owns(run.site):
        raise HTTPException(status_code=403, detail=f"not allowed: grading run {run_id} is site "
                                                    f"{run.site!r}'s, not yours")
    return run.to_dict()
