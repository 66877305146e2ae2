"""The base every device model extends, and the table of its parameters.

A model is a subclass that sets ``kind`` and ``PARAMS`` and overrides one hook,
``read(now, rng)``; an actuator also overrides ``apply(command, now)`` and
``state()``. The engine owns the clock and the random generators and calls the
hooks; a model never sleeps, publishes or seeds anything itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Union

import numpy as np

if TYPE_CHECKING:  # city.py imports this package; only the type goes the other way
    from simulator.city import City, DeviceSpec

Value = Union[float, bool]
Row = tuple[str, str, Value]
"""One SenML record to be: (name, SenML unit, value)."""


@dataclass(frozen=True)
class Param:
    """One row of a model's parameter table: a key a city file may set on a device."""

    name: str
    default: float | bool
    low: float | None = None
    high: float | None = None
    doc: str = ""

    def check(self, raw: Any) -> float | bool:
        """The value to use for ``raw``, or ValueError with a reason for a person."""
        if isinstance(self.default, bool):
            if not isinstance(raw, bool):
                raise ValueError(f"must be true or false, not {raw!r}")
            return raw
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
            raise ValueError(f"must be a number, not {raw!r}")
        if self.low is not None and raw < self.low:
            raise ValueError(f"is {raw}, below the minimum of {self.low:g}")
        if self.high is not None and raw > self.high:
            raise ValueError(f"is {raw}, above the maximum of {self.high:g}")
        return float(raw)


class Device:
    """A simulated device: a place in a city, an id, and a model of what it reads."""

    kind: ClassVar[str] = ""
    PARAMS: ClassVar[tuple[Param, ...]] = ()
    is_actuator: ClassVar[bool] = False

    def __init__(self, spec: "DeviceSpec", city: "City") -> None:
        self.spec = spec
        self.city = city
        self.id = spec.id
        # The loader has already checked and defaulted every parameter.
        self.params: dict[str, Any] = dict(spec.params)

    def read(self, now: float, rng: np.random.Generator) -> list[Row]:
        """The readings at Unix time ``now``; draw any randomness from ``rng`` only."""
        raise NotImplementedError


class Actuator(Device):
    """A device that also obeys ``cmd`` messages and reports a retained ``state``."""

    is_actuator: ClassVar[bool] = True

    def apply(self, command: dict[str, Any], now: float) -> bool:
        """Obey ``command`` at Unix time ``now``; True if the state changed.

        Raise ``citylab.errors.ContractError`` (kind "command") for a command
        this device cannot obey, leaving the state as it was.
        """
        raise NotImplementedError

    def state(self) -> list[Row]:
        """The current state as SenML rows, published retained on ``state``."""
        raise NotImplementedError


def ou_step(x: float | None, dt: float, tau: float, rng: np.random.Generator) -> float:
    """Advance a unit-variance Ornstein-Uhlenbeck process by ``dt`` seconds.

    The exact discretisation, so the statistics do not depend on the reading
    interval; ``None`` starts from the stationary distribution.
    """
    if x is None:
        return float(rng.standard_normal())
    keep = math.exp(-max(dt, 0.0) / tau)
    return x * keep + math.sqrt(1.0 - keep * keep) * float(rng.standard_normal())
