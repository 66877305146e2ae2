"""The recorder: every message on ``citylab/#`` validated and written in batches.

paho's network thread only appends (topic, payload, time) to a queue, so the
MQTT side never waits for the database. A writer thread validates each message
with the contract, sorts it into readings, statuses, commands or dead letters,
and writes a batch when it holds ``batch_size`` messages or ``flush_seconds``
have passed. A message the contract refuses becomes a dead letter with its
reason; nothing is dropped silently, and no message can stop the recorder.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

import paho.mqtt.client as paho

from citylab import contract, mqtt
from citylab.errors import BrokerError, ContractError, StoreError
from citylab.stores import Batch, DeadLetter, SQLiteStore

log = logging.getLogger("citylab.recorder")


@dataclass
class RecorderStats:
    """Counters a person can watch: what came in, what was kept, what was refused."""

    received: int = 0
    recorded: int = 0
    dead_letters: int = 0
    write_errors: int = 0


class Recorder:
    """Subscribes to a topic filter and records what arrives into a store."""

    def __init__(
        self,
        broker: mqtt.BrokerAddress,
        store: SQLiteStore,
        topic_filter: str = "citylab/#",
        batch_size: int = 500,
        flush_seconds: float = 0.2,
        qos: int = 1,
        connect_attempts: int = 5,
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
        self.stats = RecorderStats()
        self._inbox: queue.SimpleQueue[tuple[str, bytes, float] | None] = queue.SimpleQueue()
        self._client = mqtt.make_client("recorder")
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._writer = threading.Thread(target=self._write_loop, name="citylab-recorder", daemon=True)
        self._subscribed = threading.Event()

    def start(self, timeout: float = 10.0) -> "Recorder":
        """Connect, subscribe and start writing; raise BrokerError if the broker is unreachable."""
        mqtt.connect(self._client, self.broker, attempts=self.connect_attempts)
        self._writer.start()
        if not self._subscribed.wait(timeout):
            mqtt.stop(self._client)
            raise BrokerError(f"the recorder could not subscribe at {self.broker.url} within {timeout:.0f} s")
        return self

    def stop(self, timeout: float = 3.0) -> None:
        """Disconnect, then write what is still queued; bounded in time."""
        mqtt.stop(self._client)
        self._inbox.put(None)
        self._writer.join(timeout)

    # paho's thread: subscribe on every (re)connect, and only enqueue messages.
    def _on_connect(self, client: paho.Client, userdata: object, flags: object, reason: object, props: object) -> None:
        if getattr(reason, "is_failure", False):
            log.error("the broker at %s refused the recorder: %s", self.broker.url, reason)
            return
        client.subscribe(self.topic_filter, qos=self.qos)
        self._subscribed.set()

    def _on_message(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        # amqtt 0.12 replays, on connect, retained messages matching other
        # clients' subscriptions too: keep only what we asked for.
        if not paho.topic_matches_sub(self.topic_filter, message.topic):
            return
        self.stats.received += 1
        self._inbox.put((message.topic, bytes(message.payload), time.time()))

    # The writer's thread.
    def _write_loop(self) -> None:
        batch = Batch()
        counted = 0
        deadline = time.monotonic() + self.flush_seconds
        stopping = False
        while not stopping:
            try:
                item = self._inbox.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                item = ()
            if item is None:
                stopping = True
            elif item:
                self._sort(batch, *item)
                counted += 1
            if counted and (stopping or counted >= self.batch_size or time.monotonic() >= deadline):
                if self._flush(batch, counted):
                    batch, counted = Batch(), 0
            if time.monotonic() >= deadline:
                deadline = time.monotonic() + self.flush_seconds
        self.store.close()

    def _sort(self, batch: Batch, topic: str, payload: bytes, received: float) -> None:
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

    def _flush(self, batch: Batch, counted: int) -> bool:
        try:
            self.store.write(batch)
        except StoreError as exc:
            # Keep the batch in memory and try again at the next flush; a
            # spool to disk for long outages belongs to the storage issue.
            self.stats.write_errors += 1
            log.error("%s; keeping %d messages to retry", exc, counted)
            time.sleep(0.5)
            return False
        self.stats.recorded += counted - len(batch.dead_letters)
        self.stats.dead_letters += len(batch.dead_letters)
        return True
