"""GET /api/city: the city the map draws, from its city file."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from citylab.errors import StoreError
from dashboard.citymap import injected_events
from dashboard.deps import CityDep, StoreDep
from dashboard.models import CityOut, ERRORS

router = APIRouter(prefix="/api", tags=["city"], responses=ERRORS)

# The simulator's pseudo-device whose cmd topic carries injected scenario events.
CONTROL_DEVICE = "sim"


@router.get("/city", response_model=CityOut)
def get_city(city: CityDep, store: StoreDep) -> dict[str, Any]:
    """Districts, device positions, scheduled scenario events and those injected since (commands to the
    simulator's control device ``sim``); 404 if the dashboard runs without a city."""
    if city.map is None:
        raise HTTPException(status_code=404, detail=f"{city.problem}: the devices, labs and gradebook "
                                                    f"still work without a map")
    try:
        injected = injected_events(store.commands(city.site, CONTROL_DEVICE))
    except StoreError:
        injected = []  # the map is still worth drawing without them
    return {**city.map.to_dict(), "site": city.site, "injected": injected}
