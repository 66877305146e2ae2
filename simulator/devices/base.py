"""The base every device model extends: tables of parameters and quantities, one hook.

A model simulates *every device of its type at once* with numpy: one object
holds N devices, each parameter is an array of N values, and the engine calls
one hook per reading instant:

    step(now, dt, rng, world) -> array (N, len(QUANTITIES)) of true values

An actuator also overrides ``apply(index, command, now)`` and
``state_values(index)``; ``truth()`` gives the ground truth graders read.
The engine owns the clock and the generators; a model never sleeps,
publishes or seeds anything. What a sensor makes of the true values (noise,
bias, dropouts...) is ``simulator.sensors``' job, not the model's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Sequence, Union

import numpy as np

if TYPE_CHECKING:  # city.py imports this package; only the types go the other way
    from simulator.city import City, DeviceSpec
    from simulator.world import World

Value = Union[float, bool, str]
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


@dataclass(frozen=True)
class Quantity:
    """One row of a model's sensor table: what a device reports and how a sensor reads it.

    ``low``/``high`` is the sensor's range (readings saturate there),
    ``resolution`` its step (readings are quantised to it), ``noise`` the
    standard deviation of its random error in the quantity's unit. A
    ``boolean`` quantity is sent as SenML ``vb`` with no unit.
    """

    name: str
    unit: str
    low: float
    high: float
    resolution: float
    noise: float = 0.0
    boolean: bool = False

    @property
    def decimals(self) -> int:
        return max(0, -int(math.floor(math.log10(self.resolution) + 1e-9)))

    @property
    def span(self) -> float:
        return self.high - self.low


class Model:
    """All the devices of one type (and reading interval) in a city, simulated together."""

    kind: ClassVar[str] = ""
    PARAMS: ClassVar[tuple[Param, ...]] = ()
    QUANTITIES: ClassVar[tuple[Quantity, ...]] = ()
    is_actuator: ClassVar[bool] = False
    # Mains-powered devices go quiet in a power cut; battery ones do not.
    mains_powered: ClassVar[bool] = True

    def __init__(self, specs: Sequence["DeviceSpec"], city: "City") -> None:
        self.specs = tuple(specs)
        self.city = city
        self.n = len(self.specs)
        self.ids = [s.id for s in self.specs]
        # One array per parameter: the loader has checked and defaulted them all.
        self.p: dict[str, np.ndarray] = {
            param.name: np.array([s.params[param.name] for s in self.specs],
                                 dtype=bool if isinstance(param.default, bool) else float)
            for param in self.PARAMS
        }
        # District codes (indices into World.districts); the engine sets them.
        self.district = np.zeros(self.n, dtype=np.intp)

    def step(self, now: float, dt: float, rng: np.random.Generator, world: "World") -> np.ndarray:
        """The true values at Unix time ``now``, ``dt`` seconds after the previous call (0 first).

        Shape (N, len(QUANTITIES)); booleans as 0/1. Randomness from ``rng`` only.
        """
        raise NotImplementedError

    def truth(self) -> dict[str, dict[str, float]]:
        """Ground truth per device id (what graders compare readings with)."""
        return {}


class ActuatorModel(Model):
    """A model whose devices obey ``cmd`` messages and report a retained ``state``."""

    is_actuator: ClassVar[bool] = True
    STATE: ClassVar[tuple[Quantity, ...]] = ()

    def apply(self, index: int, command: dict[str, Any], now: float) -> bool:
        """Obey ``command`` for device ``index``; True if its state changed.

        Raise ``ContractError`` (kind "command") for a command the device cannot
        obey, leaving the state as it was.
        """
        raise NotImplementedError

    def state_values(self, index: int) -> list[Value]:
        """Device ``index``'s state, one value per row of ``STATE``."""
        raise NotImplementedError

    def state_rows(self, index: int) -> list[Row]:
        return [(q.name, "" if q.boolean else q.unit, v) for q, v in zip(self.STATE, self.state_values(index))]


def ou_step(x: np.ndarray | None, dt: float, tau: float, rng: np.random.Generator, n: int) -> np.ndarray:
    """Advance N unit-variance Ornstein-Uhlenbeck processes by ``dt`` seconds.

    The exact discretisation, so the statistics do not depend on the reading
    interval; ``None`` starts from the stationary distribution.
    """
    if x is None:
        return rng.standard_normal(n)
    keep = math.exp(-max(dt, 0.0) / tau)
    return x * keep + math.sqrt(1.0 - keep * keep) * rng.standard_normal(n)


def command_settings(command: Any, known: Sequence[str], usage: str) -> dict[str, Any]:
    """The ``set`` table of a command, or ContractError naming what is wrong."""
    from citylab.errors import ContractError

    settings = command.get("set") if isinstance(command, dict) else None
    if not isinstance(settings, dict) or not settings or set(command) != {"set"}:
        raise ContractError(f"{usage}, got {command!r}", kind="command")
    unknown = sorted(set(settings) - set(known))
    if unknown:
        raise ContractError(
            f"no setting {', '.join(map(repr, unknown))}: it knows {', '.join(map(repr, known))}",
            kind="command",
        )
    return settings


def number_setting(settings: dict[str, Any], key: str, low: float, high: float) -> float:
    """A numeric setting within [low, high], or ContractError."""
    from citylab.errors import ContractError

    raw = settings[key]
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        raise ContractError(f"{key!r} must be a number from {low:g} to {high:g}, not {raw!r}", kind="command")
    if not low <= raw <= high:
        raise ContractError(f"{key!r} is {raw}, outside {low:g} to {high:g}", kind="command")
    return float(raw)
