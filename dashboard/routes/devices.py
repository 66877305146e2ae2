"""GET /api/devices, one device, its readings, its chart series and its status history."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from citylab.stores import ReadingStore, SQLiteStore
from citylab.stores.reading import downsample
from dashboard.deps import StoreDep, ViewerDep
from dashboard.models import Device, ERRORS, ReadingOut, Series, StatusChange
from dashboard.series import bucket

router = APIRouter(prefix="/api/devices", tags=["devices"], responses=ERRORS)

MAX_LIMIT = 100_000
MAX_SERIES_READINGS = 200_000
# Longer chart ranges are averaged by the store (aggregate) instead of sent whole.
LONG_RANGE_SECONDS = 3 * 3600


def _reading_store(request: Request) -> ReadingStore:
    # The store charts read from: InfluxDB under `citylab up --store influx://...`, else the SQLite one.
    return request.app.state.readings


ReadingsDep = Annotated[ReadingStore, Depends(_reading_store)]


class StoredReading(ReadingOut):
    """A reading as any store keeps it: InfluxDB keeps no arrival time, so ``received`` may be null."""

    received: float | None = None  # type: ignore[assignment]

Time = Annotated[float | None, Query(allow_inf_nan=False, description="Unix seconds")]


@router.get("", response_model=list[Device])
def list_devices(store: StoreDep, viewer: ViewerDep, site: str | None = None) -> list[dict[str, Any]]:
    """Every device seen, grouped by site, with its latest value per quantity and its status
    (a trainee's: their own site's and the shared city's)."""
    sites = viewer.readable_sites()
    found = store.devices(site or None)
    return found if sites is None else [d for d in found if d["site"] in sites]


@router.get("/{site}/{device}", response_model=Device)
def get_device(store: StoreDep, site: str, device: str) -> dict[str, Any]:
    """One device; 404 if the store has never heard of it."""
    return _find(store, site, device)


@router.get("/{site}/{device}/readings", response_model=list[StoredReading])
def get_readings(
    store: StoreDep,
    readings: ReadingsDep,
    site: str,
    device: str,
    start: Time = None,
    end: Time = None,
    name: str | None = None,
    channel: Literal["telemetry", "state"] = "telemetry",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 1000,
) -> list[dict[str, Any]]:
    """A device's readings between ``start`` and ``end``, oldest first; the newest ``limit`` of them."""
    _check_range(start, end)
    _find(store, site, device)
    return readings.readings(site, device, start=start, end=end, name=name or None, channel=channel, limit=limit)


@router.get("/{site}/{device}/series", response_model=Series)
def get_series(
    store: StoreDep,
    readings: ReadingsDep,
    site: str,
    device: str,
    name: str,
    seconds: Annotated[float, Query(gt=0, le=7 * 86_400, allow_inf_nan=False,
                                    description="how far back from end")] = 3600,
    end: Time = None,
    channel: Literal["telemetry", "state"] = "telemetry",
    points: Annotated[int, Query(ge=2, le=2000)] = 300,
) -> dict[str, Any]:
    """One quantity over the last ``seconds`` before ``end`` (default: its newest reading), for a chart."""
    found = _find(store, site, device)
    latest = found[channel].get(name)
    if latest is None:
        known = ", ".join(sorted(found[channel])) or "none yet"
        raise HTTPException(status_code=404, detail=f"device '{device}' has no {channel} quantity '{name}' "
                                                    f"(it has: {known})")
    stop = end if end is not None else max(latest["time"], 0.0) or time.time()
    start = stop - seconds
    if seconds > LONG_RANGE_SECONDS:
        series = downsample(readings, site, device, name, start, stop, points, channel)
    else:
        rows = readings.readings(site, device, start=start, end=stop, name=name, channel=channel,
                                 limit=MAX_SERIES_READINGS)
        series = bucket(rows, start, stop, points)
    return {"name": name, "unit": latest["unit"], "start": start, "end": stop, "points": series}


@router.get("/{site}/{device}/statuses", response_model=list[StatusChange])
def get_statuses(
    store: StoreDep, site: str, device: str, limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[dict[str, Any]]:
    """The device's online/offline changes, newest first (offline is usually its last will)."""
    _find(store, site, device)
    rows = store.statuses(site, device)
    return [{"status": r["status"], "received": r["received"]} for r in reversed(rows[-limit:])]


def _check_range(start: float | None, end: float | None) -> None:
    if start is not None and end is not None and start > end:
        raise HTTPException(
            status_code=422,
            detail=f"start ({start:g}) is after end ({end:g}): give a start before the end, in Unix seconds",
        )


def _find(store: SQLiteStore, site: str, device: str) -> dict[str, Any]:
    for found in store.devices(site):
        if found["device"] == device:
            return found
    raise HTTPException(
        status_code=404,
        detail=f"no device '{device}' in site '{site}' has sent anything yet: "
        f"check the names in the topic citylab/{site}/{device}/telemetry",
    )
