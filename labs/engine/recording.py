"""The recorded run a lab's checks read: the ``run`` fixture.

A ``Run`` wraps the SQLite store the recorder filled during the window
(readings, statuses, dead letters, exactly what the dashboard would show),
the retained messages seen by fresh subscribers in the middle of the window
and after the device was cut off, and how the trainee's program behaved.
Its helpers answer the questions checks keep asking ("which packs arrived on
the telemetry topic, valid or not?") so a check stays a few lines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from citylab import contract
from citylab.stores import SQLiteStore
from labs.engine.result import CheckResult, SolutionInfo

# Enough for any lab window: a check must see every row, not the newest 100.
_ALL = 1_000_000


@dataclass(frozen=True)
class Record:
    """One SenML record as the trainee wrote it, read leniently (name without base name)."""

    name: str
    unit: str | None
    value: Any


@dataclass(frozen=True)
class Pack:
    """One message on a telemetry or state topic, accepted by the contract or not."""

    topic: str
    received: float
    valid: bool
    records: tuple[Record, ...]
    kind: str | None = None  # the dead letter's kind when refused ("unit", "name", "json", ...)
    reason: str | None = None
    payload: str | None = None  # kept for refused packs (the store keeps the first 2 KiB)


def lenient_records(payload: str) -> tuple[Record, ...]:
    """The records of a refused pack, read as far as they can be.

    The contract stops at the first broken rule; a check about units still
    wants to see the units of a pack whose base name was wrong.
    """
    try:
        data = json.loads(payload)
    except ValueError:
        return ()
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        return ()
    records, base_unit = [], None
    for item in data:
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("bu"), str):
            base_unit = item["bu"]
        raw_name = item.get("n") or item.get("bn") or ""
        name = raw_name.rsplit(":", 1)[-1] if isinstance(raw_name, str) else ""
        unit = item.get("u", base_unit)
        value = next((item[k] for k in ("v", "vs", "vb") if k in item), None)
        records.append(Record(name, unit if isinstance(unit, str) else None, value))
    return tuple(records)


@dataclass(frozen=True)
class Run:
    """What happened while the trainee's solution ran (the ``run`` fixture)."""

    lab_id: str
    site: str
    device: str
    store: SQLiteStore
    solution: SolutionInfo
    started: float  # Unix time the program was started
    ended: float  # Unix time it was killed (or ended by itself)
    window_s: float
    # topic -> payload of retained messages a fresh subscriber received
    retained_mid: dict[str, str] = field(default_factory=dict)  # half-way through the window
    retained_end: dict[str, str] = field(default_factory=dict)  # after the kill and the grace
    # The grader's own 0-point findings (labs/engine/guard.py): a flood, another site's topics.
    findings: tuple[CheckResult, ...] = ()

    @property
    def ran_s(self) -> float:
        return self.ended - self.started

    def topic(self, channel: str, device: str | None = None) -> str:
        return contract.topic(self.site, device or self.device, channel)

    def packs(self, channel: str = "telemetry", device: str | None = None) -> list[Pack]:
        """Every pack on the device's telemetry (or state) topic, valid or refused, oldest first."""
        device = device or self.device
        topic = self.topic(channel, device)
        # A valid pack became readings that share its arrival time.
        grouped: dict[float, list[Record]] = {}
        for row in self.store.readings(self.site, device, channel=channel, limit=_ALL):
            grouped.setdefault(row["received"], []).append(Record(row["name"], row["unit"], row["value"]))
        packs = [Pack(topic, received, True, tuple(records)) for received, records in grouped.items()]
        for dead in self.dead_letters(topic=topic):
            packs.append(Pack(topic, dead["received"], False, lenient_records(dead["payload"]),
                              dead["kind"], dead["reason"], dead["payload"]))
        return sorted(packs, key=lambda p: p.received)

    def statuses(self, device: str | None = None) -> list[dict[str, Any]]:
        """Valid status messages of the device (online/offline) with their arrival time, oldest first."""
        return self.store.statuses(self.site, device or self.device)

    def dead_letters(self, kind: str | None = None, topic: str | None = None) -> list[dict[str, Any]]:
        """Refused messages of the site, oldest first, filtered by kind and/or exact topic."""
        # No site filter: the run's store only ever subscribed to this site,
        # and a topic too deep to parse (citylab/alice/env-01/t/x) has no site column.
        rows = reversed(self.store.dead_letters(limit=_ALL))
        return [r for r in rows if (kind is None or r["kind"] == kind) and (topic is None or r["topic"] == topic)]

    def topics_seen(self) -> list[str]:
        """Every topic of the site on which something arrived, valid or not."""
        seen = {d["topic"] for d in self.dead_letters()}
        for device in self.store.devices(self.site):
            for channel in ("telemetry", "state"):
                if device[channel]:
                    seen.add(self.topic(channel, device["device"]))
        seen.update(self.topic("status", s["device"]) for s in self.store.statuses(self.site))
        seen.update(self.topic("cmd", c["device"]) for c in self.store.commands(self.site))
        return sorted(seen)
