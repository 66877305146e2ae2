"""Was the grader itself short of CPU? A probe's round trips through the broker, during a sim lab's window.

A sim lab's city runs at 900 simulated seconds a wall second, so 0.3 s of a
starved machine is 4.5 simulated minutes in which a correct controller
cannot answer: a timing check may fail through the grader's fault. The
controller's own delays cannot be told from a slow controller, but the
machine's can: every ``PERIOD_S`` the probe publishes a message to itself
through the same broker (on ``citylab-grader/probe/...``, outside the
city's topics, so no recorder stores it) and notes how long it took to come
back. Its round trip crosses the broker and two process wake-ups, as a
controller's answer does; when the worst round trip exceeds a lab's budget,
the grading is "disturbed": the result says so, and a cohort grades it again
(labs/engine/cohort.py).
"""

from __future__ import annotations

import secrets
import struct
import threading
import time

import paho.mqtt.client as paho

from citylab import mqtt
from citylab.errors import BrokerError

PERIOD_S = 0.1


class LagProbe:
    """Round trips of a message to itself through ``broker``, every PERIOD_S, in a thread."""

    def __init__(self, broker: mqtt.BrokerAddress) -> None:
        self.broker = broker
        self.topic = f"citylab-grader/probe/{secrets.token_hex(6)}"
        self.worst_s = 0.0
        self.sent = 0
        self.returned = 0
        self._outstanding: dict[int, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._client = mqtt.make_client("grader-probe")
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *args: self._subscribed.set()
        self._client.on_connect = lambda client, *args: client.subscribe(self.topic, qos=0)
        self._thread = threading.Thread(target=self._run, name="citylab-lag-probe", daemon=True)

    def start(self) -> "LagProbe":
        mqtt.connect(self._client, self.broker, attempts=3)
        if not self._subscribed.wait(5.0):
            mqtt.stop(self._client)
            raise BrokerError(f"the grader's probe could not subscribe at {self.broker.url} within 5 s")
        self._thread.start()
        return self

    def _run(self) -> None:
        number = 0
        while not self._stop.wait(PERIOD_S):
            with self._lock:
                self._outstanding[number] = time.monotonic()
            self._client.publish(self.topic, struct.pack("!Q", number), qos=0)
            self.sent += 1
            number += 1

    def _on_message(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        try:
            (number,) = struct.unpack("!Q", message.payload)
        except struct.error:
            return
        with self._lock:
            sent = self._outstanding.pop(number, None)
            if sent is not None:
                self.returned += 1
                self.worst_s = max(self.worst_s, time.monotonic() - sent)

    def stop(self) -> float:
        """Stop probing; return the worst round trip in seconds (a probe never back counts as long as it was out).

        Safe to call twice, and on a probe that never started."""
        if self._stop.is_set() or not self._thread.is_alive():
            self._stop.set()
            return self.worst_s
        self._stop.set()
        self._thread.join(2.0)
        deadline = time.monotonic() + 0.5  # the last probes' way back
        while self._outstanding and time.monotonic() < deadline:
            time.sleep(0.01)
        mqtt.stop(self._client)
        now = time.monotonic()
        with self._lock:
            for sent in self._outstanding.values():
                self.worst_s = max(self.worst_s, now - sent)
            self._outstanding.clear()
        return self.worst_s
