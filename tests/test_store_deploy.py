"""The instructor server's Mosquitto configuration and ACL, run for real: trainees stay in their site."""

from __future__ import annotations

import re
import subprocess
import threading
import time
from pathlib import Path

import pytest

from citylab import mqtt
from citylab.broker import free_port
from citylab.errors import BrokerError
from citylab.mqtt import BrokerAddress
from influx_fixtures import find_binary

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


@pytest.fixture
def cohort_broker(tmp_path: Path):
    """deploy/mosquitto/mosquitto.conf with only its paths and port made local."""
    port = free_port()
    conf = (DEPLOY / "mosquitto" / "mosquitto.conf").read_text()
    conf = conf.replace("listener 1883", f"listener {port} 127.0.0.1")
    conf = conf.replace("/mosquitto/config/passwd", str(tmp_path / "passwd"))
    conf = conf.replace("/mosquitto/config/acl", str(DEPLOY / "mosquitto" / "acl"))
    conf = conf.replace("/mosquitto/data/", f"{tmp_path}/")
    conf = re.sub(r"log_dest stdout", f"log_dest file {tmp_path / 'log'}", conf) + "user root\n"
    (tmp_path / "mosquitto.conf").write_text(conf)
    passwd = find_binary("mosquitto_passwd", "mosquitto")
    (tmp_path / "passwd").touch()
    for user in ("recorder", "alice", "bob"):
        subprocess.run([passwd, "-b", str(tmp_path / "passwd"), user, f"{user}-pw"], check=True)
    process = subprocess.Popen([find_binary("mosquitto", "mosquitto"), "-c", str(tmp_path / "mosquitto.conf")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    yield port
    process.terminate()
    process.wait(10)


def connected(port: int, user: str | None) -> object:
    address = BrokerAddress("127.0.0.1", port, user, f"{user}-pw" if user else None)
    client = mqtt.make_client(user or "anonymous")
    mqtt.connect(client, address)
    mqtt.wait_connected(client, address, timeout=3)
    return client


def test_trainees_publish_only_in_their_site_and_the_recorder_only_reads(cohort_broker: int) -> None:
    seen: list[str] = []
    got = threading.Event()
    recorder = connected(cohort_broker, "recorder")
    recorder.on_message = lambda c, u, m: (seen.append(m.topic), got.set())
    recorder.subscribe("citylab/#", qos=1)
    alice = connected(cohort_broker, "alice")
    time.sleep(0.3)
    alice.publish("citylab/bob/env-01/telemetry", b"[]", qos=1).wait_for_publish(3)
    recorder.publish("citylab/alice/env-01/cmd", b"{}", qos=1).wait_for_publish(3)
    alice.publish("citylab/alice/env-01/telemetry", b"[]", qos=1).wait_for_publish(3)
    assert got.wait(5)
    time.sleep(0.5)
    for client in (recorder, alice):
        mqtt.stop(client)
    # Mosquitto drops what an ACL forbids (it still acknowledges it).
    assert seen == ["citylab/alice/env-01/telemetry"]


def test_anonymous_clients_are_refused(cohort_broker: int) -> None:
    with pytest.raises(BrokerError):
        connected(cohort_broker, None)
