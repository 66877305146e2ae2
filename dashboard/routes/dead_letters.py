"""GET /api/dead-letters: messages the contract refused, newest first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from dashboard.deps import StoreDep, ViewerDep
from dashboard.models import DeadLetterOut, ERRORS

router = APIRouter(prefix="/api", tags=["dead letters"], responses=ERRORS)


@router.get("/dead-letters", response_model=list[DeadLetterOut])
def list_dead_letters(
    store: StoreDep,
    viewer: ViewerDep,
    site: str | None = None,
    device: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Refused messages with topic, payload and the reason in a trainee's words (a trainee's: their own
    site's and the shared city's; a message without a readable site is nobody's to see but an instructor)."""
    sites = viewer.readable_sites()
    if sites is None or site:
        return store.dead_letters(site=site or None, device=device or None, limit=limit)
    rows = [row for s in sorted(sites) for row in store.dead_letters(site=s, device=device or None, limit=limit)]
    return sorted(rows, key=lambda row: row["id"], reverse=True)[:limit]
