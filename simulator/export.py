"""A run written to a file for offline analysis: every message, then the ground truth.

The file is JSON Lines::

    {"run": {"city": ..., "site": ..., "seed": ..., "epoch": ..., "seconds": ...}}
    {"topic": "citylab/demo/wx-centre/telemetry", "retain": false, "payload": [...SenML...]}
    ...
    {"kpis": {...}}                      # Simulation.kpis(): per device and totals

The payload is embedded as JSON (the exact bytes the broker would carry are
``json.dumps(payload, separators=(",", ":"))``). Runs as fast as possible,
so the same city, seed and epoch always write the same file.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from simulator.city import City
from simulator.engine import Message, Simulation
from simulator.scenario import ScenarioEvent


class _Writer:
    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.count = 0

    def __call__(self, batch: list[Message]) -> None:
        write = self.stream.write
        for topic_text, payload, retain in batch:
            write(b'{"topic":"' + topic_text.encode() + b'","retain":' + (b"true" if retain else b"false")
                  + b',"payload":' + payload + b"}\n")
        self.count += len(batch)


def export_run(city: City, path: str | Path, seconds: float, *, site: str = "demo", seed: int = 1,
               epoch: datetime | float | None = None, events: tuple[ScenarioEvent, ...] = ()) -> dict[str, Any]:
    """Run ``city`` for ``seconds`` simulated seconds into ``path``; returns the KPIs."""
    path = Path(path)
    with path.open("wb") as stream:
        writer = _Writer(stream)
        simulation = Simulation(city, site, seed, 0, publish_batch=writer, epoch=epoch)
        for event in events:
            simulation.inject(event)
        header = {"run": {"city": city.name, "source": city.source, "site": site, "seed": seed,
                          "epoch": simulation.epoch, "seconds": seconds, "devices": len(city.devices)}}
        stream.write(json.dumps(header).encode() + b"\n")
        simulation.run(seconds)
        kpis = simulation.kpis()
        stream.write(json.dumps({"kpis": kpis}).encode() + b"\n")
    return kpis


def read_run(path: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """(run header, messages, KPIs) of an exported file."""
    header: dict[str, Any] = {}
    kpis: dict[str, Any] = {}
    messages = []
    with Path(path).open("rb") as stream:
        for line in stream:
            item = json.loads(line)
            if "run" in item:
                header = item["run"]
            elif "kpis" in item:
                kpis = item["kpis"]
            else:
                messages.append(item)
    return header, messages, kpis
