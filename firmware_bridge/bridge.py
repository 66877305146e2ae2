"""The serial <-> MQTT bridge: kits on USB speak to the broker like any source.

    serial line --PortReader--> lines.classify --contract--> MQTT publish
                                     └── refused --> DeadLetters + one report line
    MQTT citylab/{site}/+/cmd --> the port where that device was last heard

A device is known by the base name of its packs; its ``status`` is published
retained: ``online`` when it is first heard on a port, ``offline`` when the
port goes away or the bridge stops. Nothing the serial line sends can stop
the bridge: the worst is a dead letter and a counter.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import paho.mqtt.client as paho

from citylab import contract, mqtt
from citylab.errors import ContractError
from firmware_bridge.deadletters import DeadLetters, Reporter
from firmware_bridge.lines import Log, Publish, Refused, classify
from firmware_bridge.port import PortReader

log = logging.getLogger("citylab.bridge")


@dataclass
class BridgeStats:
    """Counters over every port: what was carried, what was refused and why."""

    published: int = 0
    logs: int = 0
    commands: int = 0
    refused: Counter = field(default_factory=Counter)

    @property
    def dropped(self) -> int:
        return sum(self.refused.values())


class SerialBridge:
    """Carries packs from serial ports to a broker and commands back."""

    def __init__(self, broker: mqtt.BrokerAddress, site: str, ports: list[str], *, baudrate: int = 115200,
                 qos: int = 1, dead_letter_file: Path | None = None, say: Callable[[str], None] | None = None,
                 retry: float = 1.0, max_line: int = 20 * 1024) -> None:
        contract.Topic(site, "bridge", "status")  # refuses a bad site at the edge
        self.broker = broker
        self.site = site
        self.qos = qos
        self.stats = BridgeStats()
        self.dead_letters = DeadLetters(dead_letter_file)
        self.report = Reporter(say or (lambda text: log.warning("%s", text)))
        self.devices: dict[str, str] = {}  # device id -> port url it was last heard on
        self._lock = threading.Lock()
        self._client = mqtt.make_client("bridge")
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._subscribed = threading.Event()
        self.readers = {url: PortReader(url, self._on_line, self.report, baudrate=baudrate, retry=retry,
                                        max_line=max_line, on_lost=self._on_lost) for url in ports}

    # --- life ---------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> "SerialBridge":
        mqtt.connect(self._client, self.broker)
        mqtt.wait_connected(self._client, self.broker, timeout)
        self._subscribed.wait(timeout)
        for reader in self.readers.values():
            reader.start()
        return self

    def add_port(self, url: str, baudrate: int = 115200) -> None:
        """Start reading one more port (``--port auto`` finds kits plugged in later)."""
        if url in self.readers:
            return
        reader = PortReader(url, self._on_line, self.report, baudrate=baudrate, on_lost=self._on_lost)
        self.readers[url] = reader
        reader.start()

    def stop(self) -> None:
        for reader in self.readers.values():
            reader.stop()
        for device in list(self.devices):
            self._status(device, "offline")
        self.devices.clear()
        time.sleep(0.05)  # let paho send the last statuses before DISCONNECT
        mqtt.stop(self._client)

    # --- serial -> MQTT -------------------------------------------------------

    def _on_line(self, url: str, line: bytes) -> None:
        result = classify(line, self.site)
        if result is None:
            return
        if isinstance(result, Publish):
            if self.devices.get(result.device) != url:
                with self._lock:
                    first = result.device not in self.devices
                    self.devices[result.device] = url
                if first:
                    self._status(result.device, "online")
            self._client.publish(result.topic, result.payload, qos=self.qos, retain=result.channel == "state")
            with self._lock:  # several port threads count here; += is not atomic
                self.stats.published += 1
        elif isinstance(result, Log):
            with self._lock:
                self.stats.logs += 1
            log.info("%s: device says: %s", url, result.text)
        elif isinstance(result, Refused):
            with self._lock:
                self.stats.refused[result.kind] += 1
            self.dead_letters.add(url, result.reason, result.kind, line, result.device)
            self.report(url, result.kind, f"line refused ({len(line)} bytes): {result.reason}")

    def _on_lost(self, url: str) -> None:
        with self._lock:
            gone = [device for device, where in self.devices.items() if where == url]
            for device in gone:
                del self.devices[device]
        for device in gone:
            self._status(device, "offline")

    def _status(self, device: str, status: str) -> None:
        self._client.publish(contract.topic(self.site, device, "status"), status, qos=1, retain=True)

    # --- MQTT -> serial -------------------------------------------------------

    def _on_connect(self, client: paho.Client, userdata: object, flags: object, reason: object, props: object) -> None:
        if getattr(reason, "is_failure", False):
            log.error("the broker at %s refused the bridge: %s", self.broker.url, reason)
            return
        client.subscribe(contract.subscription(self.site, "cmd"), qos=1)
        self._subscribed.set()

    def _on_message(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        try:
            parsed = contract.validate_message(message.topic, bytes(message.payload))
        except ContractError as exc:
            self.report("mqtt", "cmd-invalid", f"command on {message.topic} not forwarded: {exc.reason}")
            return
        device = parsed.topic.device
        url = self.devices.get(device)
        reader = self.readers.get(url) if url else None
        # One compact line: a newline inside the JSON would cut it in two on the wire.
        line = json.dumps(parsed.command, separators=(",", ":")).encode()
        if reader is None or not reader.write_line(line):
            self.report("mqtt", "cmd-unknown", f"command for {device!r} not forwarded: no port has heard that device")
            return
        self.stats.commands += 1

    # --- reporting ----------------------------------------------------------

    def summary(self) -> str:
        """One line a person can read: carried, refused by kind, per-port losses."""
        refused = ", ".join(f"{kind} {n}" for kind, n in sorted(self.stats.refused.items())) or "none"
        ports = "; ".join(f"{url}: {r.stats.lines} lines, {r.framer.stats.oversized} too long, "
                          f"{r.stats.losses} disconnects" for url, r in self.readers.items())
        return (f"published {self.stats.published}, commands {self.stats.commands}, "
                f"refused {self.stats.dropped} ({refused}); {ports}")
