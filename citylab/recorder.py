"""The recorder: every message on ``citylab/#`` kept on disk, validated and written in batches.

Two sides, joined by the spool (``citylab.stores.spool``):

- paho's network thread appends each raw message to the spool and only then
  acknowledges it (manual PUBACK, QoS 1), so a message the broker handed
  over survives a SIGKILL of the recorder. It never waits for the database.
- the drainer (``citylab.stores.drain``) reads the spool in order, validates
  each message with the contract, and writes batches to the store; only a
  stored batch moves the spool's cursor. It runs as a thread, or with
  ``writer="process"`` in a process of its own, so that it and paho's thread
  do not share one GIL (what ``citylab record`` and ``citylab up`` use: see
  bench/recorder_throughput.py for the figures).

With a ``client_id`` the MQTT session is persistent (clean_session=False), so
the broker holds what arrives while the recorder restarts. If the disk
refuses the spool (full), messages wait unacknowledged in memory and the
broker's in-flight limit bounds how many; they are spooled and acknowledged
when space returns. A message the contract refuses becomes a dead letter
with its reason; nothing is dropped silently, and no message can stop the
recorder.
"""

from __future__ import annotations

import collections
import logging
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho

from citylab import mqtt
from citylab.errors import BrokerError, ConfigError, StoreError
from citylab.stores import Store
from citylab.stores.drain import DEAD_LETTERS, RECORDED, WRITE_ERRORS, Drainer, DrainSettings, start_process
from citylab.stores.spool import Spool, Spooled

log = logging.getLogger("citylab.recorder")

# QoS 0 messages cannot be left with the broker: while the disk refuses the
# spool, at most this many wait in memory before new ones are counted lost.
MAX_PENDING_QOS0 = 100_000
# QoS 1 messages wait in memory, unacknowledged, while the disk is full. One
# would expect the broker to stop at its in-flight window, but Mosquitto 2.0
# keeps sending once some messages of the session were acknowledged (seen:
# 2,048 more than its window of 20). Past this many, a message is neither
# kept nor acknowledged: the broker holds it in the session and sends it
# again when the recorder reconnects.
MAX_PENDING_QOS1 = 50_000


@dataclass
class RecorderStats:
    """Counters a person can watch: what came in, what was kept, what was refused."""

    received: int = 0
    recorded: int = 0
    dead_letters: int = 0
    write_errors: int = 0
    spool_errors: int = 0
    lost: int = 0  # only QoS 0 messages, only when the disk stays full
    left_with_broker: int = 0  # QoS 1 messages past MAX_PENDING_QOS1: the broker sends them again on reconnect


class Recorder:
    """Subscribes to a topic filter and records what arrives into a store, through a disk spool."""

    def __init__(
        self,
        broker: mqtt.BrokerAddress,
        store: Store,
        topic_filter: str = "citylab/#",
        batch_size: int = 2000,
        flush_seconds: float = 0.2,
        qos: int = 1,
        connect_attempts: int = 5,
        spool: str | Path | None = None,
        client_id: str | None = None,
        max_retry_seconds: float = 2.0,
        writer: str = "thread",
        max_pending: int = MAX_PENDING_QOS1,
    ) -> None:
        if writer not in ("thread", "process"):
            raise ConfigError(f"the recorder's writer is 'thread' or 'process', not {writer!r}")
        self.broker = broker
        self.store = store
        self.topic_filter = topic_filter
        self.writer = writer
        self.max_pending = max_pending
        self.settings = DrainSettings(batch_size, flush_seconds, max_retry_seconds)
        # QoS 1 lets a broker that keeps sessions hold messages for us; amqtt
        # (the embedded broker) waits for each PUBACK in turn, so it gets 0.
        self.qos = qos
        self.connect_attempts = connect_attempts
        self._stats = RecorderStats()
        # Without a spool folder the spool lives in a temporary one: the
        # recorder works the same, but a crash loses what was not yet stored.
        self._temporary = None if spool is not None else tempfile.mkdtemp(prefix="citylab-spool-")
        self.spool = Spool(spool if spool is not None else self._temporary)
        self._client = mqtt.make_client("recorder", clean_session=client_id is None, ident=client_id)
        self._client.manual_ack_set(True)
        self._client.reconnect_delay_set(0.2, 5)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._pending: collections.deque[tuple[Spooled, int, int]] = collections.deque()
        self._pending_lock = threading.Lock()
        self._matches: dict[str, bool] = {}
        self._stopping = threading.Event()
        self._abandon = threading.Event()
        self._subscribed = threading.Event()
        self._counters: Any = [0, 0, 0]
        self._base = [0, 0, 0]  # what writer processes that stopped had counted
        self._process: Any = None
        self._drain: threading.Thread | None = None
        self._tender = threading.Thread(target=self._tend, name="citylab-recorder-spool", daemon=True)

    @property
    def stats(self) -> RecorderStats:
        """The counters; the drainer's (recorded, dead letters, write errors) may live in its process."""
        counters, base = self._counters, self._base
        self._stats.recorded = base[RECORDED] + counters[RECORDED]
        self._stats.dead_letters = base[DEAD_LETTERS] + counters[DEAD_LETTERS]
        self._stats.write_errors = base[WRITE_ERRORS] + counters[WRITE_ERRORS]
        return self._stats

    def start(self, timeout: float = 10.0) -> "Recorder":
        """Connect, subscribe and start writing; raise BrokerError if the broker is unreachable."""
        if self.writer == "process":
            try:
                self._process, self._counters, self._stopping, self._abandon = start_process(
                    self.spool.folder, self.store, self.settings)
            except StoreError:
                self._finish(0.5)
                raise
        else:
            drainer = Drainer(self.spool, self.store, self.settings, self._counters, self._stopping, self._abandon)
            self._drain = threading.Thread(target=drainer.run, name="citylab-recorder", daemon=True)
            self._drain.start()
        self._tender.start()
        try:
            mqtt.connect(self._client, self.broker, attempts=self.connect_attempts)
        except BrokerError:
            self._finish(0.5)
            raise
        if not self._subscribed.wait(timeout):
            mqtt.stop(self._client)
            self._finish(0.5)
            raise BrokerError(f"the recorder could not subscribe at {self.broker.url} within {timeout:.0f} s")
        return self

    def stop(self, timeout: float = 3.0) -> None:
        """Disconnect, then store what is spooled; bounded in time (the rest stays in the spool)."""
        mqtt.stop(self._client)
        self._finish(timeout)

    def backlog_bytes(self) -> int:
        """Bytes in the spool not yet in the store."""
        return self.spool.backlog_bytes()

    def _finish(self, timeout: float) -> None:
        self._stopping.set()
        worker = self._process or self._drain
        if worker is not None:
            worker.join(timeout)
            if worker.is_alive():
                self._abandon.set()
                worker.join(2.0)
            if self._process is not None and self._process.is_alive():
                self._process.kill()  # stuck in a store call: what it held is still spooled
                self._process.join(2.0)
        if self._tender.is_alive():
            self._tender.join(1.0)
        left = self.spool.backlog_bytes()
        self.spool.close()
        if self._process is not None:
            self.store.close()  # this process's copy; the writer closed its own
        if self._temporary:
            if left:
                log.warning("stopped with %d bytes of messages not yet stored (no spool folder was given)", left)
            shutil.rmtree(self._temporary, ignore_errors=True)
        elif left:
            log.warning("stopped with %d bytes of messages in the spool %s: they are stored at the next start",
                        left, self.spool.folder)

    # --- paho's thread: subscribe on every (re)connect; spool, then acknowledge.

    def _on_connect(self, client: paho.Client, userdata: object, flags: object, reason: object, props: object) -> None:
        if getattr(reason, "is_failure", False):
            log.error("the broker at %s refused the recorder: %s", self.broker.url, reason)
            return
        client.subscribe(self.topic_filter, qos=self.qos)
        self._subscribed.set()

    def _wanted(self, topic: str) -> bool:
        # paho's topic_matches_sub builds a matcher per call; a site has few topics, so remember.
        wanted = self._matches.get(topic)
        if wanted is None:
            if len(self._matches) > 50_000:
                self._matches.clear()
            wanted = self._matches[topic] = paho.topic_matches_sub(self.topic_filter, topic)
        return wanted

    def _on_message(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        # amqtt 0.12 replays, on connect, retained messages matching other
        # clients' subscriptions too: keep only what we asked for.
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = message._topic.decode("utf-8", "replace")
        if not self._wanted(topic):
            self._ack(message.mid, message.qos)
            return
        self._stats.received += 1
        payload, received = message.payload, time.time()
        with self._pending_lock:
            if not self._pending:
                try:
                    self.spool.append(topic, payload, received)
                except StoreError as exc:
                    self._stats.spool_errors += 1
                    log.error("%s", exc)
                else:
                    self._ack(message.mid, message.qos)
                    return
            # The spool refused this or an earlier message: keep the order,
            # hold it unacknowledged until the disk takes it.
            if message.qos == 0 and len(self._pending) >= MAX_PENDING_QOS0:
                self._stats.lost += 1
                return
            if message.qos > 0 and len(self._pending) >= self.max_pending:
                if not self._stats.left_with_broker:
                    log.error("the spool's disk is still full and %d messages wait in memory: further ones stay "
                              "unacknowledged with the broker, which sends them again when the recorder "
                              "reconnects (restart it once the disk has room)", len(self._pending))
                self._stats.left_with_broker += 1
                return
            self._pending.append((Spooled(topic, bytes(payload), received), message.mid, message.qos))

    def _ack(self, mid: int, qos: int) -> None:
        if qos > 0:
            self._client.ack(mid, qos)

    def _tend(self) -> None:
        """Offer what waits in memory (the disk was full) to the spool again; restart a writer that died."""
        while not self._stopping.wait(0.2):
            self._retry_pending()
            self._watch_writer()
        self._retry_pending()

    def _watch_writer(self) -> None:
        process = self._process
        if process is None or process.is_alive() or self._stopping.is_set():
            return
        # Killed (out of memory, by hand) or crashed: what it had not stored is still spooled.
        log.error("the recorder's writer process stopped (exit code %s); starting it again", process.exitcode)
        base = [self._base[i] + self._counters[i] for i in range(3)]
        try:
            started = start_process(self.spool.folder, self.store, self.settings)
        except StoreError as exc:
            log.error("%s", exc)
            return
        self._base = base
        self._process, self._counters, self._stopping, self._abandon = started

    def _retry_pending(self) -> None:
        with self._pending_lock:
            while self._pending:
                item, mid, qos = self._pending[0]
                try:
                    self.spool.append(item.topic, item.payload, item.received)
                except StoreError:
                    return
                self._pending.popleft()
                self._ack(mid, qos)
