"""A group: the devices of one type, interval and power source, simulated together.

Per reading instant a group runs its four layers over numpy arrays of all
its devices:

    model.step      the physics: true values       (simulator.devices)
    sensors.read    what the sensors make of them  (simulator.sensors)
    network         which readings arrive, when    (simulator.network)
    writer.build    the SenML packs                (simulator.packs)

Each layer draws from its own generator, spawned from the run's seed and the
group's key (BLAKE2b, not ``hash()``, which changes between processes), so
turning on sensor noise does not change the physics, and a group's numbers
depend only on (seed, type, interval, power source, its devices).
"""

from __future__ import annotations

import hashlib
from itertools import repeat
from typing import TYPE_CHECKING, Iterator, Sequence

import numpy as np

from citylab.contract import topic
from simulator.devices import DEVICE_TYPES
from simulator.network import NetworkLayer, SLOT_S
from simulator.packs import PackWriter
from simulator.sensors import BATTERY, SensorLayer

if TYPE_CHECKING:
    from simulator.city import City, DeviceSpec
    from simulator.scenario import ScenarioEvent
    from simulator.world import World

Message = tuple[str, bytes, bool]


class MessageBatch(Sequence[Message]):
    """The messages of one tick of a group: (topic, payload, retain) tuples, made as they are read.

    Kept as two parallel lists, because building 10,000 tuples that a counting
    consumer throws away costs more than the rest of the tick; iterating
    (zip) gives the tuples at almost no cost.
    """

    __slots__ = ("topics", "payloads", "retain")

    def __init__(self, topics: list[str], payloads: list[bytes], retain: bool = False) -> None:
        self.topics, self.payloads, self.retain = topics, payloads, retain

    def __len__(self) -> int:
        return len(self.payloads)

    def __iter__(self) -> Iterator[Message]:
        return zip(self.topics, self.payloads, repeat(self.retain))

    def __getitem__(self, index):  # type: ignore[no-untyped-def]
        if isinstance(index, slice):
            return list(zip(self.topics[index], self.payloads[index], repeat(self.retain)))
        return (self.topics[index], self.payloads[index], self.retain)

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, Sequence) else NotImplemented


def group_key(spec: "DeviceSpec") -> tuple[str, float, bool]:
    """Devices with the same key are simulated together."""
    return (spec.type, spec.interval, spec.sensor["battery_mah"] > 0)


def group_generators(seed: int, key: tuple[str, float, bool]) -> list[np.random.Generator]:
    """The model's, the sensors' and the network's generators of one group in one run."""
    digest = hashlib.blake2b(repr(key).encode(), digest_size=8).digest()
    children = np.random.SeedSequence([seed, int.from_bytes(digest, "big")]).spawn(3)
    return [np.random.default_rng(child) for child in children]


class Group:
    """The devices of one key, their layers and their topics."""

    def __init__(self, key: tuple[str, float, bool], specs: Sequence["DeviceSpec"], city: "City", site: str,
                 seed: int, world: "World", start: float) -> None:
        self.key = key
        self.specs = tuple(specs)
        self.interval = key[1]
        self.world = world
        self.model = DEVICE_TYPES[key[0]](self.specs, city)
        self.model.district = world.codes([s.district for s in self.specs])
        self.rng_model, self.rng_sensor, self.rng_network = group_generators(seed, key)
        quantities = self.model.QUANTITIES
        self.sensors = SensorLayer(quantities, self.specs, start)
        self.battery = self.sensors.has_battery
        reported = quantities + ((BATTERY,) if self.battery else ())
        self.network = NetworkLayer([s.network for s in self.specs], [s.duty_cycle for s in self.specs],
                                    len(reported), self.interval)
        self.writer = PackWriter(site, self.model.ids, reported)
        self.topics = [topic(site, s.id, "telemetry") for s in self.specs]
        self.mains_only = self.model.mains_powered & (self.sensors.capacity <= 0)
        self._masks: dict[ScenarioEvent, np.ndarray] = {}

    def tick(self, now: float, dt: float) -> tuple[Sequence[Message], list[tuple[float, Sequence[Message]]]]:
        """One reading instant: (messages to deliver now, [(delay, messages), ...])."""
        conditions = self.world.at(now)
        true = self.model.step(now, dt, self.rng_model, self.world)
        noisy = stuck = dead = outage = None
        for event in conditions.events:
            if event.type == "sensor_failure":
                mask = self._mask(event)
                if event.mode == "noisy":
                    noisy = mask if noisy is None else noisy | mask
                elif event.mode == "stuck":
                    stuck = mask if stuck is None else stuck | mask
                else:
                    dead = mask if dead is None else dead | mask
            elif event.type == "network_outage":
                mask = self._mask(event)
                outage = mask if outage is None else outage | mask
            elif event.type == "power_cut" and self.mains_only.any():
                # Mains-powered devices without a battery go dark with the street.
                cut = self.mains_only & ~conditions.power[self.model.district]
                dead = cut if dead is None else dead | cut
        values, sent = self.sensors.read(true, now, self.rng_sensor, conditions, noisy, stuck, dead)
        if self.battery:
            values = np.concatenate([values, self.sensors.battery_percent()[:, None]], axis=1)
        delivered, delay = self.network.transmit(sent, now, self.rng_network, outage)
        if delay is None:
            rows = None if delivered.all() else np.flatnonzero(delivered)
            return self._messages(values, rows, now), []
        index = np.flatnonzero(delivered)
        if len(index) == 0:
            return [], []
        immediate = index[delay[index] <= 0]
        later = index[delay[index] > 0]
        now_messages = self._messages(values, immediate, now) if len(immediate) else []
        delayed: list[tuple[float, Sequence[Message]]] = []
        if len(later):
            # Sorted by delay slot (stable, so ties keep the device order).
            slots = np.ceil(delay[later] / SLOT_S - 1e-9)
            order = np.argsort(slots, kind="stable")
            later, slots = later[order], slots[order]
            messages = self._messages(values, later, now)
            bounds = np.flatnonzero(np.diff(slots)) + 1
            start = 0
            for end in [*bounds.tolist(), len(later)]:
                delayed.append((float(slots[start]) * SLOT_S, messages[start:end]))
                start = end
        return now_messages, delayed

    def _messages(self, values: np.ndarray, rows: np.ndarray | None, now: float) -> MessageBatch:
        payloads = self.writer.build(values, rows, now)
        topics = self.topics if rows is None else [self.topics[i] for i in rows.tolist()]
        return MessageBatch(topics, payloads)

    def _mask(self, event: "ScenarioEvent") -> np.ndarray:
        mask = self._masks.get(event)
        if mask is None:
            mask = self._masks[event] = np.array([event.covers(s.id, s.district) for s in self.specs])
        return mask
