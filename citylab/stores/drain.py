"""The recorder's writing side: spool -> contract -> store, in batches, in a thread or a process of its own.

The drainer reads the spool in order, validates each message with the
contract, sorts it into readings, statuses, commands or dead letters, and
writes a batch when it holds ``batch_size`` messages or ``flush_seconds``
have passed. While the store is down it retries the same batch with backoff
and the spool grows on disk; memory stays flat. Only once a batch is stored
does the spool's cursor move past it.

Why a process: paho's network thread (receive, spool, PUBACK) and this work
(JSON, contract, SQLite or HTTP) each need most of a core at 20,000
readings/s; in one process they share one GIL, and each waits for the other.
In a process of its own the drainer only shares the spool folder: it opens
the spool as a reader (``Spool(..., reader=True)``), and counts what it
stored in shared memory the recorder reads. It stops when told, when the
recorder's process is gone (a SIGKILL of the recorder leaves no orphan
writing), or, told to abandon, after the batch in hand.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from citylab import contract
from citylab.errors import ContractError, StoreError
from citylab.stores.reading import Store
from citylab.stores.spool import Position, Spool, Spooled
from citylab.stores.sqlite import Batch, DeadLetter

log = logging.getLogger("citylab.recorder")

# Slots of the shared counters (a multiprocessing Array of 64-bit integers):
# three counters, then flags the recorder and the writer process set.
RECORDED, DEAD_LETTERS, WRITE_ERRORS, STOPPING, ABANDON, READY = range(6)


class Flag(Protocol):
    """threading.Event or multiprocessing.Event."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class SharedFlag:
    """A flag in a slot of the shared array: no semaphore, so a SIGKILL leaves nothing to clean up."""

    def __init__(self, shared: Any, slot: int) -> None:
        self.shared, self.slot = shared, slot

    def set(self) -> None:
        self.shared[self.slot] = 1

    def is_set(self) -> bool:
        return bool(self.shared[self.slot])

    def wait(self, timeout: float | None = None) -> bool:
        deadline = time.monotonic() + (timeout if timeout is not None else 1e9)
        while not self.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(left, 0.02))
        return True


@dataclass
class DrainSettings:
    """How the drainer batches and retries (picklable, for the process)."""

    batch_size: int = 2000
    flush_seconds: float = 0.2
    max_retry_seconds: float = 2.0


class Drainer:
    """Moves what is spooled into the store, batch by batch."""

    def __init__(self, spool: Spool, store: Store, settings: DrainSettings, counters: Any,
                 stopping: Flag, abandon: Flag, parent: int | None = None) -> None:
        self.spool = spool
        self.store = store
        self.settings = settings
        self.counters = counters  # indexable: RECORDED, DEAD_LETTERS, WRITE_ERRORS
        self.stopping = stopping
        self.abandon = abandon
        self.parent = parent  # the recorder's pid, when this runs in a process of its own

    def run(self) -> None:
        """Drain until stopped (the spool emptied) or abandoned; closes the store."""
        try:
            while not self._gone():
                items, position = self._gather()
                # Each round (at least every flush_seconds): bounds what a power cut could take.
                self.spool.sync()
                if not items:
                    if self.stopping.is_set():
                        break
                    continue
                batch = Batch()
                for item in items:
                    sort(batch, item)
                if not self._write(batch):
                    break
                try:
                    self.spool.commit(position)
                except StoreError as exc:
                    log.error("%s", exc)
                self.counters[RECORDED] += len(items) - len(batch.dead_letters)
                self.counters[DEAD_LETTERS] += len(batch.dead_letters)
        finally:
            self.store.close()

    def _gone(self) -> bool:
        """Abandoned, or the recorder's process died (then its successor will replay the spool)."""
        return self.abandon.is_set() or (self.parent is not None and os.getppid() != self.parent)

    def _gather(self) -> tuple[list[Spooled], Position]:
        """A batch from the spool: ``batch_size`` messages, or what came within ``flush_seconds``."""
        size = self.settings.batch_size
        items, position = self.spool.read(size)
        deadline = time.monotonic() + self.settings.flush_seconds
        while len(items) < size and not self.stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.spool.wait(left)
            more, position = self.spool.read(size - len(items))
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
                self.counters[WRITE_ERRORS] += 1
                if time.monotonic() - last_said > 30:
                    last_said = time.monotonic()
                    reason = str(exc) if isinstance(exc, StoreError) else f"{type(exc).__name__}: {exc}"
                    log.error("%s; keeping messages in the spool (%d bytes) and trying again",
                              reason, self.spool.backlog_bytes())
            if self.abandon.wait(delay) or self._gone():
                return False
            delay = min(delay * 2, self.settings.max_retry_seconds)


def sort(batch: Batch, item: Spooled) -> None:
    """Validate one spooled message and put it where it belongs in the batch."""
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
        channel = t.channel
        batch.readings.extend([(channel, reading, received) for reading in message.readings])
    elif message.status:
        batch.statuses.append((t.site, t.device, message.status, received))
    elif message.command:
        batch.commands.append((t.site, t.device, message.command, received))


def drain_process(folder: Path, store: Store, settings: DrainSettings, shared: Any, parent: int, level: int) -> None:
    """The writer process's body (``multiprocessing`` spawn target)."""
    logging.basicConfig(level=level, format="citylab: %(message)s")
    try:
        spool = Spool(folder, reader=True)
    except StoreError as exc:
        log.error("%s", exc)
        return
    SharedFlag(shared, READY).set()
    try:
        Drainer(spool, store, settings, shared, SharedFlag(shared, STOPPING), SharedFlag(shared, ABANDON),
                parent).run()
    finally:
        spool.close()


def start_process(folder: Path, store: Store, settings: DrainSettings, wait: bool = False,
                  timeout: float = 30.0) -> tuple[Any, ...]:
    """Start the writer process; returns (process, counters, stopping, abandon).

    StoreError if it cannot start; with ``wait``, also if it is not ready
    within ``timeout`` (otherwise the recorder does not wait the half second
    a new Python takes to import: the spool holds what comes meanwhile).
    """
    context = multiprocessing.get_context("spawn")
    shared = context.Array("q", 6, lock=False)  # one writer per slot: no lock needed
    ready = SharedFlag(shared, READY)
    process = context.Process(
        target=drain_process, name="citylab-recorder-writer", daemon=True,
        args=(folder, store, settings, shared, os.getpid(), logging.getLogger("citylab").getEffectiveLevel()))
    try:
        process.start()
    except Exception as exc:  # such as a store that cannot be handed to a process
        raise StoreError(f"cannot start the recorder's writer process: {type(exc).__name__}: {exc}") from exc
    if wait:
        deadline = time.monotonic() + timeout
        while not ready.wait(0.05):
            if not process.is_alive() or time.monotonic() > deadline:
                process.kill()
                raise StoreError("the recorder's writer process did not start (see the message above)")
    return process, shared, SharedFlag(shared, STOPPING), SharedFlag(shared, ABANDON)
