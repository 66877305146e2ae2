"""Imperfect networks: latency and jitter, loss, outages, LoRa airtime and the EU868 duty cycle.

A device's ``network`` names a row of ``PROFILES``::

    ideal          no delay, no loss (the default)
    ethernet       2 ms + jitter 1 ms, no loss
    wifi           10 ms + jitter 20 ms (exponential), 0.5 % loss
    nbiot          1.5 s + jitter 1 s, 1 % loss (PSM wake-up and core network)
    lora-sf7 .. lora-sf12
                   LoRaWAN EU868, 125 kHz, CR 4/5: delay = time on air + 100 ms
                   backhaul; loss grows with the spreading factor's range use

LoRa time on air follows Semtech's AN1200.13 formula for a frame of
``LORAWAN_OVERHEAD`` bytes plus ``BYTES_PER_VALUE`` per reported value (a
real node sends a compact encoding, which the network server turns into the
SenML the broker sees). After a transmission of time on air T a node must stay
silent 99 T (the 1 % duty cycle of the EU868 sub-band). A reading due earlier
is dropped (``duty_cycle = "drop"``, the default) or held until allowed
(``"wait"``, dropped if the hold would pass the next reading); both are
counted per device in ``stats`` and the run's KPIs. A network outage event
loses every message of the devices it covers.

Delays are rounded up to ``SLOT_S`` so the engine can deliver many messages
per SimPy event; the order within a slot is the order they were sent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

SLOT_S = 0.1
LORAWAN_OVERHEAD = 13
BYTES_PER_VALUE = 2
DUTY_CYCLE = 0.01
DUTY_POLICIES = ("drop", "wait")


@dataclass(frozen=True)
class Profile:
    """One row of the network table."""

    name: str
    latency_s: float = 0.0
    jitter_s: float = 0.0
    loss: float = 0.0
    spreading_factor: int = 0      # 0: not LoRa

    @property
    def lora(self) -> bool:
        return self.spreading_factor > 0


PROFILES: dict[str, Profile] = {
    p.name: p for p in (
        Profile("ideal"),
        Profile("ethernet", 0.002, 0.001, 0.0),
        Profile("wifi", 0.010, 0.020, 0.005),
        Profile("nbiot", 1.5, 1.0, 0.01),
        *(Profile(f"lora-sf{sf}", 0.1, 0.05, 0.01 + 0.005 * (sf - 7), sf) for sf in range(7, 13)),
    )
}


def lora_time_on_air(payload_bytes: int, spreading_factor: int, bandwidth_hz: float = 125_000.0,
                     coding_rate: int = 1, preamble: int = 8, explicit_header: bool = True) -> float:
    """Seconds a LoRa frame of ``payload_bytes`` (PHY payload) spends on air (Semtech AN1200.13)."""
    sf = spreading_factor
    symbol = (2**sf) / bandwidth_hz
    # Low data rate optimisation is mandatory when a symbol lasts over 16 ms (SF11, SF12 at 125 kHz).
    low_rate = 1 if symbol > 0.016 else 0
    header = 0 if explicit_header else 1
    numerator = 8 * payload_bytes - 4 * sf + 28 + 16 - 20 * header
    symbols = 8 + max(math.ceil(numerator / (4 * (sf - 2 * low_rate))) * (coding_rate + 4), 0)
    return (preamble + 4.25) * symbol + symbols * symbol


class NetworkLayer:
    """The links of one group of devices: which readings arrive, and how late."""

    def __init__(self, profiles: Sequence[str], policies: Sequence[str], values_per_message: int,
                 interval: float) -> None:
        rows = [PROFILES[name] for name in profiles]
        self.n = len(rows)
        self.latency = np.array([r.latency_s for r in rows])
        self.jitter = np.array([r.jitter_s for r in rows])
        self.loss = np.array([r.loss for r in rows])
        self.interval = interval
        frame = LORAWAN_OVERHEAD + BYTES_PER_VALUE * values_per_message
        self.airtime = np.array([lora_time_on_air(frame, r.spreading_factor) if r.lora else 0.0 for r in rows])
        self.lora = self.airtime > 0
        self.wait = np.array([p == "wait" for p in policies]) & self.lora
        self.next_allowed = np.full(self.n, -math.inf)
        self.ideal = not (self.latency.any() or self.jitter.any() or self.loss.any() or self.lora.any())
        self.sent = np.zeros(self.n, dtype=np.int64)
        self.lost = np.zeros(self.n, dtype=np.int64)
        self.outage_lost = np.zeros(self.n, dtype=np.int64)
        self.duty_dropped = np.zeros(self.n, dtype=np.int64)
        self.duty_waited = np.zeros(self.n, dtype=np.int64)
        self.airtime_total = np.zeros(self.n)

    def transmit(self, sent: np.ndarray, now: float, rng: np.random.Generator,
                 outage: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
        """(delivered mask, delays in seconds or None when all are 0) for the readings ``sent``."""
        if self.ideal and outage is None:
            self.sent += sent
            return sent, None
        go = sent.copy()
        hold = np.zeros(self.n)
        if self.lora.any():
            early = go & self.lora & (now < self.next_allowed)
            wait = early & self.wait & (self.next_allowed - now < self.interval)
            drop = early & ~wait
            self.duty_dropped += drop
            self.duty_waited += wait
            go &= ~drop
            hold = np.where(wait, self.next_allowed - now, 0.0)
            on_air = go & self.lora
            self.next_allowed = np.where(on_air, now + hold + self.airtime / DUTY_CYCLE, self.next_allowed)
            self.airtime_total += np.where(on_air, self.airtime, 0.0)
        self.sent += go
        if outage is not None:
            cut = go & outage
            self.outage_lost += cut
            go &= ~cut
        lost = go & (rng.random(self.n) < self.loss)
        self.lost += lost
        go &= ~lost
        delay = hold + self.latency + self.airtime + rng.exponential(1.0, self.n) * self.jitter
        return go, delay

    def stats(self, index: int) -> dict[str, float]:
        """One device's network counters."""
        out: dict[str, float] = {"sent": int(self.sent[index]), "lost": int(self.lost[index]),
                                 "outage_lost": int(self.outage_lost[index])}
        if self.lora[index]:
            out.update(duty_cycle_dropped=int(self.duty_dropped[index]), duty_cycle_waited=int(self.duty_waited[index]),
                       airtime_s=round(float(self.airtime_total[index]), 4),
                       time_on_air_ms=round(float(self.airtime[index]) * 1000, 2))
        return out
