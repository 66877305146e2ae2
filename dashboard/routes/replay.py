"""GET /api/replay/{site}: the span of a site's recording, and every device's values at a past moment."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from dashboard.deps import ReplayDep
from dashboard.models import ERRORS, ReplaySpan, SnapshotReading

router = APIRouter(prefix="/api/replay", tags=["replay"], responses=ERRORS)


@router.get("/{site}", response_model=ReplaySpan)
def span(site: str, replay: ReplayDep) -> dict[str, Any]:
    """The first and last reading time recorded for ``site``; 404 if it has none."""
    found = replay.span(site)
    if found["start"] is None:
        raise HTTPException(status_code=404, detail=f"nothing was recorded for site '{site}' yet: "
                                                    f"there is nothing to replay")
    return found


@router.get("/{site}/at", response_model=list[SnapshotReading])
def at(
    site: str,
    replay: ReplayDep,
    time: Annotated[float, Query(allow_inf_nan=False, description="Unix seconds")],
    window: Annotated[float, Query(gt=0, le=7 * 86_400, allow_inf_nan=False,
                                   description="how far back a value still counts")] = 3600,
) -> list[dict[str, Any]]:
    """What each device of ``site`` last reported in (time - window, time]: the map at that moment."""
    return replay.at(site, time, window)
