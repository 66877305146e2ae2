"""GET /api/health: the dashboard is up and can read its store."""

from __future__ import annotations

from fastapi import APIRouter

from dashboard.deps import StoreDep
from dashboard.models import ERRORS, Health

router = APIRouter(prefix="/api", tags=["health"], responses=ERRORS)


@router.get("/health", response_model=Health)
def health(store: StoreDep) -> Health:
    """``{"ok": true, "counts": {...}}``; a store that cannot be read answers 503."""
    return Health(ok=True, counts=store.counts())
