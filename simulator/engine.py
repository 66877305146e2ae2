"""The simulation: a SimPy environment with one process per device.

The engine knows nothing of MQTT. It calls ``publish(topic, payload, retain)``
with contract-valid bytes and accepts commands through ``handle_command`` from
any thread; they are queued and applied inside the simulation loop, between
events, so device models never see two threads.

Time: simulated second ``t`` is Unix time ``epoch + t``, which is every pack's
SenML base time. ``speed`` is simulated seconds per wall second (SimPy's
real-time environment with ``factor = 1 / speed``); 0 or None runs as fast as
possible, where the same city, epoch and seed always publish the same bytes
in the same order.
"""

from __future__ import annotations

import hashlib
import logging
import math
import queue
import threading
import time
from datetime import datetime
from typing import Callable, Generator

import numpy as np
import simpy
import simpy.rt

from citylab.contract import build_pack, parse_command, topic
from citylab.errors import ConfigError, ContractError
from simulator.city import City
from simulator.devices import DEVICE_TYPES, Actuator, Device, Row

Publish = Callable[[str, bytes, bool], None]
"""``publish(topic, payload, retain)``: hands one message to whatever transports it."""

log = logging.getLogger("citylab.simulator")

# Longest wall time the real-time loop sleeps in one go, so a stop request or a
# command is seen within this many seconds however sparse the devices are.
WAKE_EVERY_S = 0.1


def device_rng(seed: int, device_id: str) -> np.random.Generator:
    """The generator of one device in one run, from the run's seed and the device id.

    The id is hashed with BLAKE2b, not ``hash()``, whose value changes between
    Python processes; so a device's numbers depend on nothing but (seed, id),
    and adding a device to a city does not change the others' readings.
    """
    key = int.from_bytes(hashlib.blake2b(device_id.encode(), digest_size=8).digest(), "big")
    return np.random.default_rng(np.random.SeedSequence([seed, key]))


class Simulation:
    """One run of a city: its clock, its devices and their generators.

    ``epoch`` (keyword) overrides the city file's; with neither, the run starts
    at the wall clock's current second.
    """

    def __init__(
        self,
        city: City,
        site: str,
        seed: int,
        speed: float | None,
        publish: Publish,
        *,
        epoch: datetime | float | None = None,
    ) -> None:
        try:
            topic(site, "device", "telemetry")
        except ContractError as exc:
            raise ConfigError(exc.reason) from exc
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigError(f"the seed must be a whole number, 0 or more, not {seed!r}")
        if speed is not None and (not math.isfinite(speed) or speed < 0):
            raise ConfigError(f"the speed must be 0 (as fast as possible) or more, not {speed!r}")
        self.city = city
        self.site = site
        self.seed = seed
        self.speed = float(speed or 0.0)
        self.epoch = _unix_epoch(epoch if epoch is not None else city.epoch, city)
        self._publish = publish
        self._commands: queue.SimpleQueue[tuple[str, bytes]] = queue.SimpleQueue()
        self.env: simpy.Environment
        if self.speed:
            self.env = simpy.rt.RealtimeEnvironment(factor=1 / self.speed, strict=False)
        else:
            self.env = simpy.Environment()
        self.devices: dict[str, Device] = {
            spec.id: DEVICE_TYPES[spec.type](spec, city) for spec in city.devices
        }
        for device in self.devices.values():
            self.env.process(self._life(device, device_rng(seed, device.id)))
        if self.speed:
            self.env.process(self._wake())

    @property
    def realtime(self) -> bool:
        return self.speed > 0

    @property
    def now(self) -> float:
        """The simulated instant as Unix time."""
        return self.epoch + self.env.now

    def run(self, until_sim_seconds: float | None = None, stop: threading.Event | None = None) -> None:
        """Run until simulated second ``until_sim_seconds`` (like SimPy's ``until``) or ``stop``.

        With neither, runs forever. Returns within about ``WAKE_EVERY_S`` of
        wall time after ``stop`` is set. May be called again to continue.
        """
        env = self.env
        end = None
        if until_sim_seconds is not None:
            if until_sim_seconds <= env.now:
                self._apply_commands()
                return
            end = env.timeout(until_sim_seconds - env.now)
        if isinstance(env, simpy.rt.RealtimeEnvironment):
            # The wall clock restarts here, not at construction, so a late
            # start does not make the run rush to catch up.
            env.sync()
        while stop is None or not stop.is_set():
            self._apply_commands()
            if end is not None and end.processed:
                return
            try:
                env.step()
            except simpy.core.EmptySchedule:
                return

    def handle_command(self, device_id: str, payload: bytes) -> None:
        """Queue a ``cmd`` payload for a device; safe from any thread."""
        self._commands.put((device_id, bytes(payload)))

    # --- inside the loop ------------------------------------------------------

    def _life(self, device: Device, rng: np.random.Generator) -> Generator[simpy.Event, None, None]:
        if isinstance(device, Actuator):
            self._send(device.id, "state", device.state(), retain=True)
        while True:
            self._send(device.id, "telemetry", device.read(self.now, rng), retain=False)
            yield self.env.timeout(device.spec.interval)

    def _wake(self) -> Generator[simpy.Event, None, None]:
        while True:
            yield self.env.timeout(WAKE_EVERY_S * self.speed)

    def _apply_commands(self) -> None:
        while True:
            try:
                device_id, payload = self._commands.get_nowait()
            except queue.Empty:
                return
            self._apply(device_id, payload)

    def _apply(self, device_id: str, payload: bytes) -> None:
        device = self.devices.get(device_id)
        if device is None:
            log.warning("command for %r ignored: the city has no device with that id", device_id)
            return
        if not isinstance(device, Actuator):
            log.warning("command for %s ignored: a %s device obeys no commands", device_id, device.spec.type)
            return
        try:
            changed = device.apply(parse_command(payload), self.now)
        except ContractError as exc:
            log.warning("command for %s ignored: %s", device_id, exc.reason)
            return
        if changed:
            self._send(device_id, "state", device.state(), retain=True)

    def _send(self, device_id: str, channel: str, rows: list[Row], retain: bool) -> None:
        payload = build_pack(self.site, device_id, rows, base_time=round(self.now, 3))
        self._publish(topic(self.site, device_id, channel), payload, retain)


def _unix_epoch(value: datetime | float | None, city: City) -> float:
    if value is None:
        return float(int(time.time()))
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=city.zone())
        return value.timestamp()
    return float(value)
