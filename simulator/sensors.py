"""Imperfect sensors: what a device reports, made from what is true, per device and by scenario.

A table-driven layer between a model's true values and the pack: each row of
``SENSOR_PARAMS`` is a key a city file may set in a device's ``sensor``
table; each quantity's own noise, range and resolution come from the model's
``QUANTITIES`` table. For every reading, in this order:

    noise      Gaussian, sigma = the quantity's noise x ``noise`` (x10 in a "noisy" failure)
    bias       + ``bias`` x the quantity's full scale
    drift      + ``drift`` x full scale x days since the start
    outliers   with probability ``outlier`` a value is replaced by a random one in range
    stuck      ``stuck`` (or a "stuck" failure) repeats the last value sent
    range      values saturate at the quantity's range and are quantised (by the pack writer)
    dropouts   with probability ``dropout`` the reading is not sent; a "dead" failure sends none
    battery    ``battery_mah`` > 0: each transmission costs ``tx_mah``; an empty battery
               sends nothing more, and the device reports ``battery`` in %EL

Booleans (motion) are only subject to stuck, dropouts and battery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from simulator.devices.base import Param, Quantity

if TYPE_CHECKING:
    from simulator.city import DeviceSpec
    from simulator.world import Conditions

SENSOR_PARAMS: tuple[Param, ...] = (
    Param("noise", 1.0, 0, 100, "multiplier of the quantity's typical noise"),
    Param("bias", 0.0, -1, 1, "constant error, as a fraction of full scale"),
    Param("drift", 0.0, -1, 1, "error added per day, as a fraction of full scale"),
    Param("outlier", 0.0, 0, 1, "probability that a value is replaced by a random one"),
    Param("dropout", 0.0, 0, 1, "probability that a reading is not sent"),
    Param("stuck", False, doc="the sensor repeats its first value forever"),
    Param("battery_mah", 0.0, 0, 1e6, "battery capacity, mAh; 0 = mains powered"),
    Param("tx_mah", 0.02, 0, 100, "charge each transmission costs, mAh"),
)
BATTERY = Quantity("battery", "%EL", 0, 100, 0.1)
NOISY_FACTOR = 10.0
DAY = 86_400.0


class SensorLayer:
    """The imperfections of one group of devices, applied to its true values."""

    def __init__(self, quantities: Sequence[Quantity], specs: Sequence["DeviceSpec"], start: float) -> None:
        n, k = len(specs), len(quantities)
        self.start = start
        table = {p.name: np.array([s.sensor[p.name] for s in specs],
                                  dtype=bool if isinstance(p.default, bool) else float) for p in SENSOR_PARAMS}
        numeric = np.array([not q.boolean for q in quantities])
        span = np.array([q.span if not q.boolean else 0.0 for q in quantities])
        self.low = np.array([q.low for q in quantities])
        self.high = np.array([q.high for q in quantities])
        self.sigma = table["noise"][:, None] * np.array([q.noise for q in quantities])[None, :] * numeric
        self.offset = table["bias"][:, None] * span[None, :]
        self.drift = table["drift"][:, None] * span[None, :]
        self.outlier = table["outlier"]
        self.dropout = table["dropout"]
        self.stuck = table["stuck"]
        self.numeric = numeric
        self.capacity = table["battery_mah"]
        self.tx_mah = table["tx_mah"]
        self.remaining = self.capacity.copy()
        self.has_battery = bool((self.capacity > 0).any())
        self.last: np.ndarray | None = None
        self.n, self.k = n, k
        self._any_noise = bool((self.sigma > 0).any())
        self._any_offset = bool((self.offset != 0).any() or (self.drift != 0).any())
        self.stats = {"readings": 0, "sent": 0, "dropouts": 0, "outliers": 0, "battery_empty": 0, "silenced": 0}

    def read(self, true: np.ndarray, now: float, rng: np.random.Generator, conditions: "Conditions",
             noisy: np.ndarray | None, stuck: np.ndarray | None, dead: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """(measured values, sent mask) for one reading instant; masks are per device or None."""
        values = true.copy()
        if self._any_noise or noisy is not None:
            sigma = self.sigma if noisy is None else self.sigma * np.where(noisy, NOISY_FACTOR, 1.0)[:, None]
            values += sigma * rng.standard_normal(values.shape)
        if self._any_offset:
            values += self.offset + self.drift * ((now - self.start) / DAY)
        if self.outlier.any():
            hit = (rng.random(values.shape) < self.outlier[:, None]) & self.numeric[None, :]
            if hit.any():
                values = np.where(hit, rng.uniform(self.low, self.high, values.shape), values)
                self.stats["outliers"] += int(hit.sum())
        frozen = self.stuck if stuck is None else (self.stuck | stuck)
        if self.last is not None and frozen.any():
            values[frozen] = self.last[frozen]
        self.last = values
        sent = np.ones(self.n, dtype=bool)
        if self.dropout.any():
            dropped = rng.random(self.n) < self.dropout
            self.stats["dropouts"] += int(dropped.sum())
            sent &= ~dropped
        if dead is not None:
            self.stats["silenced"] += int((dead & sent).sum())
            sent &= ~dead
        if self.has_battery:
            powered = self.capacity > 0
            empty = powered & (self.remaining < self.tx_mah - 1e-9)  # float sums must not lose a message
            self.stats["battery_empty"] += int((empty & sent).sum())
            sent &= ~empty
            self.remaining = np.where(powered & sent, self.remaining - self.tx_mah, self.remaining)
        self.stats["readings"] += self.n
        self.stats["sent"] += int(sent.sum())
        return values, sent

    def battery_percent(self) -> np.ndarray:
        """Remaining charge in %EL (0 for mains-powered devices)."""
        return np.divide(self.remaining, self.capacity, out=np.zeros(self.n), where=self.capacity > 0) * 100
