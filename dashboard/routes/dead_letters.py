"""GET /api/dead-letters: messages the contract refused, newest first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from dashboard.deps import StoreDep
from dashboard.models import DeadLetterOut, ERRORS

router = APIRouter(prefix="/api", tags=["dead letters"], responses=ERRORS)


@router.get("/dead-letters", response_model=list[DeadLetterOut])
def list_dead_letters(
    store: StoreDep,
    site: str | None = None,
    device: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Refused messages with topic, payload and the reason in a trainee's words."""
    return store.dead_letters(site=site or None, device=device or None, limit=limit)
