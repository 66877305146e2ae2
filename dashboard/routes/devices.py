"""GET /api/devices, one device, and its readings over a time range."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query

from citylab.stores import SQLiteStore
from dashboard.deps import StoreDep
from dashboard.models import Device, ReadingOut

router = APIRouter(prefix="/api/devices", tags=["devices"])

MAX_LIMIT = 100_000

Time = Annotated[float | None, Query(allow_inf_nan=False, description="Unix seconds")]


@router.get("", response_model=list[Device])
def list_devices(store: StoreDep, site: str | None = None) -> list[dict[str, Any]]:
    """Every device seen, grouped by site, with its latest value per quantity and its status."""
    return store.devices(site or None)


@router.get("/{site}/{device}", response_model=Device)
def get_device(store: StoreDep, site: str, device: str) -> dict[str, Any]:
    """One device; 404 if the store has never heard of it."""
    return _find(store, site, device)


@router.get("/{site}/{device}/readings", response_model=list[ReadingOut])
def get_readings(
    store: StoreDep,
    site: str,
    device: str,
    start: Time = None,
    end: Time = None,
    name: str | None = None,
    channel: Literal["telemetry", "state"] = "telemetry",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 1000,
) -> list[dict[str, Any]]:
    """A device's readings between ``start`` and ``end``, oldest first; the newest ``limit`` of them."""
    if start is not None and end is not None and start > end:
        raise HTTPException(
            status_code=422,
            detail=f"start ({start:g}) is after end ({end:g}): give a start before the end, in Unix seconds",
        )
    _find(store, site, device)
    return store.readings(site, device, start=start, end=end, name=name or None, channel=channel, limit=limit)


def _find(store: SQLiteStore, site: str, device: str) -> dict[str, Any]:
    for found in store.devices(site):
        if found["device"] == device:
            return found
    raise HTTPException(
        status_code=404,
        detail=f"no device '{device}' in site '{site}' has sent anything yet: "
        f"check the names in the topic citylab/{site}/{device}/telemetry",
    )
