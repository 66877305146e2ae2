"""What classroom mode costs: importing a roster, and the embedded broker's ACL checks.

    /tmp/venv/bin/python bench/classroom_cost.py [--trainees 40] [--messages 20000] [--subscribers 10]

Prints:

- import: seconds to import a roster of ``--trainees`` (scrypt for each login
  password, PBKDF2 for each MQTT password, one transaction);
- broker: messages per second through the embedded broker, open and in
  classroom mode, from one publisher (the service account) on
  ``citylab/city/...`` to ``--subscribers`` trainees subscribed to
  ``citylab/city/#`` (every delivery is checked against the reader's ACL), at
  QoS 0, counted at the subscribers;
- login: milliseconds per MQTT CONNECT with a password in classroom mode.

The machine is shared: run it two or three times and compare.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from citylab.broker import EmbeddedBroker, free_port
from classroom.accounts import Classroom


def client(port: int, username: str | None, password: str | None) -> paho.Client:
    connected = threading.Event()
    raw = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
    raw.max_queued_messages_set(0)
    if username:
        raw.username_pw_set(username, password)
    raw.on_connect = lambda c, u, flags, rc, props: connected.set() if not rc.is_failure else None
    raw.connect("127.0.0.1", port)
    raw.loop_start()
    if not connected.wait(10):
        raise SystemExit(f"{username} could not connect")
    return raw


def through(port: int, creds: list[tuple[str | None, str | None]], service: tuple[str | None, str | None],
            messages: int) -> float:
    received = [0]
    lock = threading.Lock()
    done = threading.Event()
    total = messages * len(creds)

    def on_message(*_: object) -> None:
        with lock:
            received[0] += 1
            if received[0] == total:
                done.set()

    subscribers = []
    for username, password in creds:
        sub = client(port, username, password)
        sub.on_message = on_message
        sub.subscribe("citylab/city/#")
        subscribers.append(sub)
    time.sleep(0.5)
    pub = client(port, *service)
    started = time.monotonic()
    for i in range(messages):
        pub.publish(f"citylab/city/aq-{i % 16:02d}/telemetry", b"[]")
    done.wait(120)
    elapsed = time.monotonic() - started
    for c in [pub, *subscribers]:
        c.disconnect()
        c.loop_stop()
    if received[0] < total:
        print(f"  (only {received[0]} of {total} deliveries arrived within 120 s)")
    return received[0] / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trainees", type=int, default=40)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--subscribers", type=int, default=10)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="citylab-bench-classroom-"))
    roster = folder / "roster.csv"
    roster.write_text("name,email,site\n" + "".join(f"Trainee {i},t{i}@example.org,site-{i}\n"
                                                     for i in range(args.trainees)))
    classroom = Classroom(folder / "classroom.sqlite")
    started = time.monotonic()
    enrolments = classroom.enrol_roster("bench", roster)
    print(f"import: {args.trainees} trainees in {time.monotonic() - started:.2f} s")
    trainees = [(e.account.username, e.mqtt_password) for e in enrolments[:args.subscribers]]
    service = ("citylab-service", classroom.service_password())

    with EmbeddedBroker("127.0.0.1", free_port()) as broker:
        rate = through(broker.address.port, [(None, None)] * args.subscribers, (None, None), args.messages)
        print(f"broker, open:      {rate:,.0f} deliveries/s ({args.subscribers} subscribers)")
    with EmbeddedBroker("127.0.0.1", free_port(), classroom=classroom) as broker:
        rate = through(broker.address.port, trainees, service, args.messages)
        print(f"broker, classroom: {rate:,.0f} deliveries/s ({args.subscribers} subscribers)")
        started = time.monotonic()
        for username, password in trainees:
            c = client(broker.address.port, username, password)
            c.disconnect()
            c.loop_stop()
        print(f"login: {(time.monotonic() - started) / len(trainees) * 1000:.0f} ms per CONNECT (and disconnect)")


if __name__ == "__main__":
    main()
