"""The recorder: every message on ``citylab/#`` kept on disk, validated and written in batches.

Two threads, joined by the spool (``citylab.stores.spool``):

- paho's network thread appends each raw message to the spool and only then
  acknowledges it (manual PUBACK, QoS 1), so a message the broker handed
  over survives a SIGKILL of the recorder. It never waits for the database.
- the drain thread reads the spool in order, validates each message with the
  contract, sorts it into readings, statuses, commands or dead letters, and
  writes a batch when it holds ``batch_size`` messages or ``flush_seconds``
  have passed. While the store is down it retries the same batch with
  backoff and the spool grows on disk; memory stays flat. Only once a batch
  is stored does the spool's cursor move past it.

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

import paho.mqtt.client as paho

from citylab import contract, mqtt
from citylab.errors import BrokerError, ContractError, StoreError
from citylab.stores import Batch, DeadLetter, Store
from citylab.stores.spool import Position, Spool, Spooled

log = logging.getLogger("citylab.recorder")

# QoS 0 messages cannot be left with the broker: while the disk refuses the
# spool, at most this many wait in memory before new ones are counted lost.
MAX_PENDING_QOS0 = 100_000


@dataclass
class RecorderStats:
    """Counters a person can watch: what came in, what was kept, what was refused."""

    received: int = 0
    recorded: int = 0
    dead_letters: int = 0
    write_errors: int = 0
    spool_errors: int = 0
    lost: int = 0  # only QoS 0 messages, only when the disk stays full


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
    ) -> None:
        self.broker = broker
        self.store = store
        self.topic_filter = topic_filter
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        # QoS 1 lets a broker that keeps sessions hold messages for us; amqtt
        # (the embedded broker) waits for each PUBACK in turn, so it gets 0.
        self.qos = qos
        self.connect_attempts = connect_attempts
        self.max_retry_seconds = max_retry_seconds
        self.stats = RecorderStats()
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
        self._stopping = threading.Event()
        self._abandon = threading.Event()
        self._subscribed = threading.Event()
        self._drain = threading.Thread(target=self._drain_loop, name="citylab-recorder", daemon=True)

    def start(self, timeout: float = 10.0) -> "Recorder":
        """Connect, subscribe and start writing; raise BrokerError if the broker is unreachable."""
        self._drain.start()
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
        self._drain.join(timeout)
        if self._drain.is_alive():
            self._abandon.set()
            self._drain.join(2.0)
        left = self.spool.backlog_bytes()
        self.spool.close()
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

    def _on_message(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        # amqtt 0.12 replays, on connect, retained messages matching other
        # clients' subscriptions too: keep only what we asked for.
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = message._topic.decode("utf-8", "replace")
        if not paho.topic_matches_sub(self.topic_filter, topic):
            self._ack(message.mid, message.qos)
            return
        self.stats.received += 1
        item = Spooled(topic, bytes(message.payload), time.time())
        with self._pending_lock:
            if not self._pending:
                try:
                    self.spool.append(item.topic, item.payload, item.received)
                except StoreError as exc:
                    self.stats.spool_errors += 1
                    log.error("%s", exc)
                else:
                    self._ack(message.mid, message.qos)
                    return
            # The spool refused this or an earlier message: keep the order,
            # hold it unacknowledged until the disk takes it.
            if message.qos == 0 and len(self._pending) >= MAX_PENDING_QOS0:
                self.stats.lost += 1
                return
            self._pending.append((item, message.mid, message.qos))

    def _ack(self, mid: int, qos: int) -> None:
        if qos > 0:
            self._client.ack(mid, qos)

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

    # --- the drain thread ----------------------------------------------

    def _drain_loop(self) -> None:
        try:
            while not self._abandon.is_set():
                self._retry_pending()
                items, position = self._gather()
                # Each round (at least every flush_seconds): bounds what a power cut could take.
                self.spool.sync()
                if not items:
                    if self._stopping.is_set():
                        break
                    continue
                batch = Batch()
                for item in items:
                    self._sort(batch, item)
                if not self._write(batch):
                    break
                try:
                    self.spool.commit(position)
                except StoreError as exc:
                    log.error("%s", exc)
                self.stats.recorded += len(items) - len(batch.dead_letters)
                self.stats.dead_letters += len(batch.dead_letters)
        finally:
            self.store.close()

    def _gather(self) -> tuple[list[Spooled], Position]:
        """A batch from the spool: ``batch_size`` messages, or what came within ``flush_seconds``."""
        items, position = self.spool.read(self.batch_size)
        deadline = time.monotonic() + self.flush_seconds
        while len(items) < self.batch_size and not self._stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.spool.wait(left)
            more, position = self.spool.read(self.batch_size - len(items))
            items += more
        return items, position

    def _write(self, batch: Batch) -> bool:
        """Write until it works; False only when a stop gave up waiting for the store."""
        delay, last_said = 0.2, 0.0
        while True:
            try:
                self.store.write(batch)
                if last_said:
                    log.warning("the store answers again: writing what was spooled")
                return True
            except Exception as exc:  # a store's bug must not lose the batch either
                self.stats.write_errors += 1
                if time.monotonic() - last_said > 30:
                    last_said = time.monotonic()
                    reason = str(exc) if isinstance(exc, StoreError) else f"{type(exc).__name__}: {exc}"
                    log.error("%s; keeping messages in the spool (%d bytes) and trying again",
                              reason, self.spool.backlog_bytes())
            self._retry_pending()
            if self._abandon.wait(delay):
                return False
            delay = min(delay * 2, self.max_retry_seconds)

    def _sort(self, batch: Batch, item: Spooled) -> None:
        topic, payload, received = item.topic, item.payload, item.received
        try:
            message = contract.validate_message(topic, payload, received)
        except ContractError as exc:
            site = device = None
            parts = topic.split("/")
            if len(parts) == 4 and parts[0] == contract.ROOT:
                site, device = parts[1][:64], parts[2][:64]
            batch.dead_letters.append(DeadLetter(topic[:512], payload, exc.reason, exc.kind, received, site, device))
            return
        t = message.topic
        if message.readings:
            batch.readings.extend((t.channel, reading, received) for reading in message.readings)
        elif message.status:
            batch.statuses.append((t.site, t.device, message.status, received))
        elif message.command:
            batch.commands.append((t.site, t.device, message.command, received))
