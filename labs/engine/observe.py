"""Watching a solution run: the recorder, retained-message probes and the window.

The sequence, for one site and one device:

1. clear the device's retained ``status`` and ``state``, so a previous
   grading's retained ``online`` cannot pass for this one's;
2. start a Recorder on ``citylab/{site}/#`` into a fresh SQLite store;
3. start the solution, and half-way through the window ask a fresh
   subscriber which messages the broker holds as retained (a live
   subscriber never sees the retain flag, so this is the only way to know
   that ``online`` was published with retain);
4. at the end of the window SIGKILL the solution, wait a short grace for the
   broker to publish the last will, and probe the retained messages again;
5. stop the recorder and hand the checks a ``Run``.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from pathlib import Path
from typing import Callable

import paho.mqtt.client as paho

from citylab import contract, mqtt
from citylab.errors import BrokerError
from citylab.recorder import Recorder
from citylab.stores import SQLiteStore
from labs.catalogue import Lab
from labs.engine.guard import start_guard
from labs.engine.recording import Run
from labs.engine.runner import SolutionProcess, solution_env

# Mosquitto publishes a will within milliseconds of the socket closing; amqtt
# takes a little longer. 1.5 s covers both on a loaded lab server.
WILL_GRACE_S = 1.5
# How long a fresh subscriber waits for retained messages after its SUBACK;
# brokers send them right after it, so this is generous.
RETAINED_SETTLE_S = 0.5


def _client(broker: mqtt.BrokerAddress, role: str) -> paho.Client:
    client = mqtt.make_client(role)
    mqtt.connect(client, broker, attempts=3)
    mqtt.wait_connected(client, broker)
    return client


def clear_retained(broker: mqtt.BrokerAddress, topics: list[str], timeout: float = 5.0) -> None:
    """Delete the retained messages on ``topics`` (an empty retained payload deletes one)."""
    client = _client(broker, "grader-clear")
    try:
        infos = [client.publish(t, b"", qos=1, retain=True) for t in topics]
        for info in infos:
            info.wait_for_publish(timeout)
    finally:
        mqtt.stop(client)


def retained_snapshot(broker: mqtt.BrokerAddress, topic_filter: str,
                      settle: float = RETAINED_SETTLE_S) -> dict[str, str]:
    """The retained messages a new subscriber to ``topic_filter`` receives: topic -> payload."""
    found: dict[str, str] = {}
    subscribed = threading.Event()

    def on_message(client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        if message.retain:
            found[message.topic] = bytes(message.payload).decode("utf-8", "replace")

    def on_subscribe(*args: object) -> None:
        subscribed.set()

    client = mqtt.make_client("grader-probe")
    client.on_message = on_message
    client.on_subscribe = on_subscribe
    mqtt.connect(client, broker, attempts=3)
    try:
        mqtt.wait_connected(client, broker)
        client.subscribe(topic_filter, qos=0)
        if not subscribed.wait(5.0):
            raise BrokerError(f"the broker at {broker.url} did not confirm a subscription within 5 s")
        time.sleep(settle)
    finally:
        mqtt.stop(client)
    return dict(found)


def observe(
    lab: Lab,
    site: str,
    solution: Path,
    broker: mqtt.BrokerAddress,
    workdir: Path,
    recorder_qos: int,
    progress: Callable[[str], None],
    foreign: bool = False,
) -> Run:
    """Run ``solution`` for the lab's window while recording the site; return the Run.

    ``foreign``: also watch every other site (only where the grader knows every publisher).
    """
    device = lab.device
    site_filter = contract.subscription(site)
    clear_retained(broker, [contract.topic(site, device, "status"), contract.topic(site, device, "state")])
    store = SQLiteStore(workdir / "run.sqlite")
    recorder = Recorder(broker, store, site_filter, qos=recorder_qos).start()
    sandbox = workdir / "solution"
    sandbox.mkdir()
    process = SolutionProcess(solution, solution_env(broker.url, site, device, sandbox), sandbox)
    window = lab.window_seconds
    guard = start_guard(broker, site, window, process.kill, foreign=foreign)
    try:
        progress(f"running {solution.name} for {window:.0f} s as device '{device}' of site '{site}' "
                 f"on {broker.url}...")
        started = time.time()
        process.start()
        # Half-way, the program has had time to connect and announce itself.
        process.wait(window / 2)
        retained_mid = retained_snapshot(broker, site_filter)
        process.wait(started + window - time.time())
        ended = time.time()
        if process.running:
            progress("cutting the device off (SIGKILL) and waiting for its last will...")
        process.kill()
        info = process.info()
        if info.ended_early:
            ended = started + info.ran_s
        time.sleep(WILL_GRACE_S)
        retained_end = retained_snapshot(broker, site_filter)
    finally:
        process.kill()
        guard.stop()
        recorder.stop()
    return Run(
        lab_id=lab.id, site=site, device=device, store=store,
        solution=dataclasses.replace(info, remarks=guard.remarks()),
        started=started, ended=ended, window_s=window,
        retained_mid=retained_mid, retained_end=retained_end, findings=tuple(guard.findings()),
    )


def recorder_qos(own: object | None, given: int | None) -> int:
    """The recorder's QoS: 0 on the grader's own embedded broker ``own`` (amqtt under QoS 1 waits for
    each PUBACK in turn; on localhost QoS 0 loses nothing), else ``given`` or 1."""
    if own is not None:
        return 0
    return 1 if given is None else given


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return inodes
    for name in names:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def connected_to(pid: int, port: int) -> bool:
    """True if process ``pid`` holds an established TCP connection to ``port`` (Linux /proc)."""
    inodes = _socket_inodes(pid)
    if not inodes:
        return False
    for table in (f"/proc/{pid}/net/tcp", f"/proc/{pid}/net/tcp6"):
        try:
            with open(table) as rows:
                next(rows)
                for row in rows:
                    fields = row.split()
                    # remote address "0100007F:075B", state "01" is ESTABLISHED, inode in column 9
                    if fields[3] == "01" and int(fields[2].rsplit(":", 1)[1], 16) == port and fields[9] in inodes:
                        return True
        except (OSError, ValueError, IndexError, StopIteration):
            continue
    return False


def wait_for_connection(process: SolutionProcess, port: int, deadline: float, poll: float = 0.05) -> bool:
    """Wait until the program is connected to the broker on ``port``, or it ended, or ``deadline``
    (Unix time); True if it connected. Elsewhere than Linux, simply wait until the deadline."""
    while time.time() < deadline and process.running:
        pid = process.pid  # asked each time: under a sandbox the program's own process comes a little later
        if pid is not None and connected_to(pid, port):
            return True
        time.sleep(poll)
    return False
