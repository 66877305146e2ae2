"""Response shapes of the API, so /openapi.json describes what the page reads."""

from __future__ import annotations

from pydantic import BaseModel

# bool before float: pydantic's smart union keeps a JSON true a bool.
Value = bool | float | str | None


class Latest(BaseModel):
    """The latest value of one quantity."""

    value: Value
    unit: str
    time: float


class Device(BaseModel):
    """A device as the store last saw it."""

    site: str
    device: str
    last_seen: float
    status: str | None
    telemetry: dict[str, Latest]
    state: dict[str, Latest]


class ReadingOut(BaseModel):
    """One recorded value of a device, in the device's time (Unix seconds)."""

    name: str
    unit: str
    time: float
    value: Value
    received: float


class DeadLetterOut(BaseModel):
    """A message the contract refused, with the reason in a trainee's words."""

    id: int
    topic: str
    site: str | None
    device: str | None
    payload: str
    size: int
    reason: str
    kind: str
    received: float


class Health(BaseModel):
    """The dashboard can read its store; how many rows of each kind it holds."""

    ok: bool
    counts: dict[str, int]
