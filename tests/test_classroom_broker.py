"""Classroom mode on a real broker: each trainee is fenced into their own site.

The same matrix runs against a real Mosquitto, configured with the password
and ACL files ``citylab cohort broker-files`` writes, and against the embedded
amqtt broker of ``citylab up --classroom``. A refusal may show in two ways,
both accepted: a SUBACK 0x80, or a subscription granted but no message ever
delivered (Mosquitto 2.0 grants a denied subscription and filters each
message on delivery). "Never delivered" is proven with a marker: a message on
an allowed topic, sent after the forbidden one on the same connection, arrives
while the forbidden one does not.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from citylab.broker import EmbeddedBroker, free_port
from citylab.contract import CHANNELS
from classroom.accounts import Classroom
from classroom.mosquitto import write_broker_files
from classroom.rules import SERVICE_USERNAME, SHARED_SITE
from conftest import Mosquitto, find_mosquitto, wait_for_port
from waiting import wait_until

ROSTER = ("name,email,site\n"
          "Alice Martin,alice@example.org,alice\n"
          "Bob Ngó,bob@example.org,bob\n"
          "Carol Diaz,carol@example.org,carol\n"
          "Dan Kim,dan@example.org,dan\n")
QUIET = 0.5  # how long "nothing arrives" is watched for, after the marker arrived


class ClassroomMosquitto(Mosquitto):
    """The conftest's Mosquitto, with accounts: no anonymous clients, our passwd and acl files."""

    def __init__(self, folder: Path, files: Path) -> None:
        super().__init__(folder)
        self.files = files

    def config(self) -> str:
        return (
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous false\n"
            f"password_file {self.files / 'passwd'}\n"
            f"acl_file {self.files / 'acl'}\n"
            "persistence false\n"
            # Started as root, Mosquitto drops to user 'mosquitto', who cannot
            # enter pytest's 0700 temporary folders; 'root' keeps the user.
            "user root\n"
            f"log_dest file {self.folder / 'mosquitto.log'}\n"
        )


@dataclass
class Setup:
    """A classroom on a running broker, and how to make the broker see a change of accounts."""

    kind: str
    port: int
    classroom: Classroom
    mqtt: dict[str, str]  # username -> MQTT password
    reload: Callable[[], None]


@dataclass
class Client:
    """A paho client that records what the broker answered and delivered."""

    client: paho.Client
    connack: "queue.Queue[object]" = field(default_factory=queue.Queue)
    subacks: "queue.Queue[list[int]]" = field(default_factory=queue.Queue)
    messages: "queue.Queue[tuple[str, bytes]]" = field(default_factory=queue.Queue)
    disconnected: bool = False

    def subscribe(self, topic: str) -> int:
        """Subscribe and return the SUBACK code (0x80 = refused)."""
        self.client.subscribe(topic, qos=0)
        return self.subacks.get(timeout=10)[0]

    def received(self) -> list[tuple[str, bytes]]:
        got = []
        while not self.messages.empty():
            got.append(self.messages.get_nowait())
        return got

    def wait_for(self, topic: str, payload: bytes, timeout: float = 10.0) -> list[tuple[str, bytes]]:
        """Everything delivered up to and including (topic, payload); fails if it never comes."""
        got: list[tuple[str, bytes]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                got.append(self.messages.get(timeout=0.1))
            except queue.Empty:
                continue
            if got[-1] == (topic, payload):
                time.sleep(QUIET)  # anything the broker still had for us comes now
                return got + self.received()
        raise AssertionError(f"{topic} {payload!r} never arrived; got {got}")


def connect(setup: Setup, username: str | None, password: str | None) -> tuple[Client, ReasonCode]:
    """A connected client (or one refused), with the CONNACK's reason code."""
    raw = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
    client = Client(raw)
    if username is not None:
        raw.username_pw_set(username, password)
    raw.on_connect = lambda c, u, flags, rc, props: client.connack.put(rc)
    raw.on_subscribe = lambda c, u, mid, codes, props: client.subacks.put([code.value for code in codes])
    raw.on_message = lambda c, u, msg: client.messages.put((msg.topic, msg.payload))

    def on_disconnect(*_: object) -> None:
        client.disconnected = True

    raw.on_disconnect = on_disconnect
    raw.connect("127.0.0.1", setup.port)
    raw.loop_start()
    code = client.connack.get(timeout=10)
    if code.is_failure:  # type: ignore[attr-defined]
        raw.loop_stop()  # or paho would keep knocking
    return client, code  # type: ignore[return-value]


@pytest.fixture(params=["mosquitto", "embedded"], scope="module")
def setup(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    folder = tmp_path_factory.mktemp(f"classroom-{request.param}")
    classroom = Classroom(folder / "classroom.sqlite")
    roster = folder / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    mqtt = {e.account.username: e.mqtt_password for e in classroom.enrol_roster("spring", roster)}
    mqtt[SERVICE_USERNAME] = classroom.service_password()
    if request.param == "mosquitto":
        files = folder / "broker-files"
        write_broker_files(classroom, files)
        broker = ClassroomMosquitto(folder, files).start()

        def reload() -> None:
            write_broker_files(classroom, files)
            assert broker.process is not None
            os.kill(broker.process.pid, signal.SIGHUP)

        yield Setup("mosquitto", broker.port, classroom, mqtt, reload)
        broker.stop()
    else:
        embedded = EmbeddedBroker("127.0.0.1", free_port(), classroom=classroom).start()
        # The embedded broker reads the classroom itself; nothing to regenerate.
        yield Setup("embedded", embedded.address.port, classroom, mqtt, lambda: None)
        embedded.stop()


@pytest.fixture
def clients(setup: Setup) -> Iterator[Callable[..., Client]]:
    made: list[Client] = []

    def make(username: str) -> Client:
        client, code = connect(setup, username, setup.mqtt[username])
        assert not code.is_failure, f"{username} could not connect: {code}"
        made.append(client)
        return client

    yield make
    for client in made:
        client.client.disconnect()
        client.client.loop_stop()


@pytest.mark.parametrize("channel", CHANNELS)
def test_alice_cannot_read_bobs_channel(setup: Setup, clients: Callable[..., Client], channel: str) -> None:
    alice, service = clients("alice"), clients(SERVICE_USERNAME)
    bobs = f"citylab/bob/aq-01/{channel}"
    code = alice.subscribe(bobs)
    assert alice.subscribe("citylab/alice/aq-01/status") == 0
    service.client.publish(bobs, b"secret of bob")
    service.client.publish("citylab/alice/aq-01/status", b"online")
    got = alice.wait_for("citylab/alice/aq-01/status", b"online")
    assert (bobs, b"secret of bob") not in got, f"alice read bob's {channel} (SUBACK {code:#x})"
    # amqtt refuses the subscription itself; Mosquitto 2.0.11 grants it and
    # filters every message on delivery (the assertion above).
    assert code == 0x80 if setup.kind == "embedded" else code in (0, 0x80)


@pytest.mark.parametrize("wildcard", ["citylab/#", "citylab/+/aq-01/telemetry", "#", "citylab/bob/#"])
def test_alice_wildcards_never_reach_bob(setup: Setup, clients: Callable[..., Client], wildcard: str) -> None:
    alice, service = clients("alice"), clients(SERVICE_USERNAME)
    alice.subscribe(wildcard)
    assert alice.subscribe("citylab/alice/aq-01/status") == 0
    for channel in CHANNELS:
        service.client.publish(f"citylab/bob/aq-01/{channel}", b"secret of bob")
    service.client.publish("citylab/alice/aq-01/status", b"online")
    got = alice.wait_for("citylab/alice/aq-01/status", b"online")
    assert not [m for m in got if m[0].startswith("citylab/bob/")], f"{wildcard} let alice read bob: {got}"


@pytest.mark.parametrize("channel", CHANNELS)
def test_alice_cannot_write_bobs_channel(setup: Setup, clients: Callable[..., Client], channel: str) -> None:
    alice, service = clients("alice"), clients(SERVICE_USERNAME)
    assert service.subscribe("citylab/#") == 0
    alice.client.publish(f"citylab/bob/aq-01/{channel}", b"forged by alice")
    alice.client.publish("citylab/alice/aq-01/status", b"online")
    got = service.wait_for("citylab/alice/aq-01/status", b"online")
    assert not [m for m in got if m[0].startswith("citylab/bob/")], f"alice wrote bob's {channel}: {got}"


@pytest.mark.parametrize("channel", CHANNELS)
def test_alice_reads_and_writes_her_own_site(setup: Setup, clients: Callable[..., Client], channel: str) -> None:
    alice, service = clients("alice"), clients(SERVICE_USERNAME)
    topic = f"citylab/alice/lamp-01/{channel}"
    assert alice.subscribe("citylab/alice/#") == 0
    assert service.subscribe("citylab/alice/#") == 0
    alice.client.publish(topic, b"from alice")
    assert (topic, b"from alice") in service.wait_for(topic, b"from alice")
    service.client.publish(topic, b"from the server")
    assert (topic, b"from the server") in alice.wait_for(topic, b"from the server")


def test_alice_reads_the_shared_city_but_cannot_write_it(setup: Setup, clients: Callable[..., Client]) -> None:
    alice, service = clients("alice"), clients(SERVICE_USERNAME)
    city = f"citylab/{SHARED_SITE}/traffic-01/telemetry"
    assert alice.subscribe(f"citylab/{SHARED_SITE}/#") == 0
    service.client.publish(city, b"city reading")
    assert (city, b"city reading") in alice.wait_for(city, b"city reading")

    assert service.subscribe(f"citylab/{SHARED_SITE}/#") == 0
    assert service.subscribe("citylab/alice/#") == 0
    alice.client.publish(f"citylab/{SHARED_SITE}/traffic-01/cmd", b"forged by alice")
    alice.client.publish(city, b"forged by alice")
    alice.client.publish("citylab/alice/aq-01/status", b"online")
    got = service.wait_for("citylab/alice/aq-01/status", b"online")
    assert not [m for m in got if m[1] == b"forged by alice"], f"alice wrote the shared city: {got}"


def test_wrong_missing_or_unknown_credentials_are_refused(setup: Setup) -> None:
    for username, password in (("alice", "not her password"), ("alice", setup.mqtt["bob"]), ("mallory", "x" * 20),
                               (None, None), ("alice", "")):
        _, code = connect(setup, username, password)
        # MQTT 3.1.1 return code 4 (bad user name or password) or 5 (not authorized)
        assert code.is_failure and code.getName() in ("Bad user name or password", "Not authorized"), \
            f"{username!r} with {password!r} was let in ({code})"


def test_the_login_password_is_not_the_mqtt_password(setup: Setup, tmp_path: Path) -> None:
    account = setup.classroom.add_account(username="eve", name="Eve", email="eve@example.org", role="trainee",
                                          site="eve", cohort="spring", password="a login password")
    setup.reload()
    _, code = connect(setup, "eve", "a login password")
    assert account.active and code.is_failure, f"eve's login password opened the broker ({code})"


def test_a_revoked_trainee_is_cut_off(setup: Setup, clients: Callable[..., Client]) -> None:
    dan, service = clients("dan"), clients(SERVICE_USERNAME)
    assert dan.subscribe("citylab/dan/#") == 0
    service.client.publish("citylab/dan/aq-01/cmd", b"before")
    dan.wait_for("citylab/dan/aq-01/cmd", b"before")

    setup.classroom.revoke("dan")
    setup.reload()
    # Both brokers drop the live connection: Mosquitto when SIGHUP rereads a
    # password file without dan, the embedded broker within its 1 s watch.
    assert wait_until(lambda: dan.disconnected, timeout=10), f"{setup.kind} kept a revoked trainee connected"
    assert service.subscribe("citylab/#") == 0
    dan.client.publish("citylab/dan/aq-01/telemetry", b"after")  # paho may reconnect: it must not get in
    service.client.publish("citylab/dan/aq-01/cmd", b"after")
    time.sleep(QUIET)
    assert ("citylab/dan/aq-01/cmd", b"after") not in dan.received()
    assert ("citylab/dan/aq-01/telemetry", b"after") not in service.received()
    _, code = connect(setup, "dan", setup.mqtt["dan"])
    assert code.is_failure, f"a revoked trainee connected again ({code})"
    # The others are untouched.
    alice = clients("alice")
    assert alice.subscribe("citylab/alice/#") == 0


def make_certificates(folder: Path) -> None:
    """A classroom CA and a server certificate for 127.0.0.1, as docs/instructor-server.md makes them."""
    if not shutil.which("openssl"):
        pytest.fail("the openssl command is missing: 'apt-get install openssl' (scripts/test-deps/openssl.sh)",
                    pytrace=False)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    commands = [
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825"
        " -keyout ca.key -out ca.crt -subj /CN=citylab-classroom-CA",
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key"
        " -out server.csr -subj /CN=localhost",
        "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 825"
        " -out server.crt -extfile san.ext",
    ]
    for command in commands:
        done = subprocess.run(command.split(), cwd=folder, capture_output=True, text=True)
        assert done.returncode == 0, f"{command}: {done.stderr}"


def test_the_generated_mosquitto_conf_serves_tls_with_the_acls(tmp_path: Path) -> None:
    from classroom.mosquitto import mosquitto_conf

    classroom = Classroom(tmp_path / "classroom.sqlite")
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    mqtt = {e.account.username: e.mqtt_password for e in classroom.enrol_roster("spring", roster)}
    files, certs = tmp_path / "files", tmp_path / "certs"
    write_broker_files(classroom, files)
    make_certificates(certs)
    plain_port, tls_port = free_port(), free_port()
    conf = mosquitto_conf(str(files), str(certs), data_dir=f"{tmp_path}/", plain_port=plain_port, tls_port=tls_port)
    (tmp_path / "mosquitto.conf").write_text(conf + "user root\n")  # see ClassroomMosquitto
    process = subprocess.Popen([find_mosquitto(), "-c", str(tmp_path / "mosquitto.conf")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        try:
            wait_for_port("127.0.0.1", tls_port)
        except TimeoutError:
            process.kill()
            pytest.fail(f"Mosquitto did not start with the generated conf: {process.communicate()[0]!r}")

        def over_tls(username: str, password: str, ca: Path) -> tuple[paho.Client, "queue.Queue[object]"]:
            raw = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
            answers: "queue.Queue[object]" = queue.Queue()
            raw.tls_set(ca_certs=str(ca))
            raw.username_pw_set(username, password)
            raw.on_connect = lambda c, u, flags, rc, props: answers.put(rc)
            raw.on_subscribe = lambda c, u, mid, codes, props: answers.put("subscribed")
            raw.on_message = lambda c, u, msg: answers.put((msg.topic, msg.payload))
            raw.connect("127.0.0.1", tls_port)
            raw.loop_start()
            return raw, answers

        alice, answers = over_tls("alice", mqtt["alice"], certs / "ca.crt")
        assert not answers.get(timeout=10).is_failure  # type: ignore[attr-defined]
        alice.subscribe("citylab/#")
        assert answers.get(timeout=10) == "subscribed"
        alice.publish("citylab/bob/aq-01/cmd", b"forged")
        alice.publish("citylab/alice/aq-01/status", b"online")
        assert answers.get(timeout=10) == ("citylab/alice/aq-01/status", b"online")  # not bob's, sent first
        alice.loop_stop()
        # A client that does not trust the classroom CA never gets as far as the password.
        make_certificates(tmp_path / "other")
        with pytest.raises(ssl.SSLCertVerificationError):
            over_tls("alice", mqtt["alice"], tmp_path / "other" / "ca.crt")
        _, code = connect(Setup("mosquitto", plain_port, classroom, mqtt, lambda: None), "bob", "wrong password")
        assert code.is_failure
    finally:
        process.terminate()
        process.wait(5)


def test_citylab_up_classroom_fences_the_embedded_broker(tmp_path: Path) -> None:
    """`citylab up --classroom`: strangers refused, the city on citylab/city/# for trainees, recorded."""
    import sqlite3
    import sys

    classroom = Classroom(tmp_path / "classroom.sqlite")
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    mqtt = {e.account.username: e.mqtt_password for e in classroom.enrol_roster("spring", roster)}
    mqtt_port, http_port = free_port(), free_port()
    up = subprocess.Popen([sys.executable, "-m", "citylab.cli", "up", "--classroom", "--data", str(tmp_path),
                           "--mqtt-port", str(mqtt_port), "--http-port", str(http_port), "--speed", "60"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        try:
            wait_for_port("127.0.0.1", http_port, timeout=60)
        except TimeoutError:
            up.kill()
            pytest.fail(f"citylab up --classroom did not start: {up.communicate()[0]}")
        setup = Setup("up", mqtt_port, classroom, mqtt, lambda: None)
        _, code = connect(setup, None, None)
        assert code.is_failure, "an anonymous client got into a classroom broker"
        alice, _ = connect(setup, "alice", mqtt["alice"])
        assert alice.subscribe(f"citylab/{SHARED_SITE}/#") == 0
        # The simulator logs in with the service account and publishes the shared city.
        topic, _ = alice.messages.get(timeout=30)
        assert topic.startswith(f"citylab/{SHARED_SITE}/")
        assert alice.subscribe("citylab/#") == 0x80
        alice.client.disconnect()
        alice.client.loop_stop()

        def recorded() -> int:
            with sqlite3.connect(tmp_path / "citylab.sqlite") as db:
                return db.execute("SELECT COUNT(*) FROM readings").fetchone()[0]

        assert wait_until(lambda: recorded() > 0, timeout=30), "the recorder (service login) stored nothing"
    finally:
        up.terminate()
        output = up.communicate(timeout=30)[0]
    assert "classroom mode" in output and f"on site '{SHARED_SITE}'" in output, output


def test_the_embedded_broker_serves_tls_with_the_same_acls(tmp_path: Path) -> None:
    classroom = Classroom(tmp_path / "classroom.sqlite")
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    mqtt = {e.account.username: e.mqtt_password for e in classroom.enrol_roster("spring", roster)}
    make_certificates(tmp_path / "certs")
    broker = EmbeddedBroker("127.0.0.1", free_port(), classroom=classroom, tls_dir=tmp_path / "certs",
                            tls_port=free_port()).start()
    try:
        assert broker.tls_address is not None
        answers: "queue.Queue[object]" = queue.Queue()
        alice = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
        alice.tls_set(ca_certs=str(tmp_path / "certs" / "ca.crt"))
        alice.username_pw_set("alice", mqtt["alice"])
        alice.on_connect = lambda c, u, flags, rc, props: answers.put(rc)
        alice.on_subscribe = lambda c, u, mid, codes, props: answers.put([code.value for code in codes])
        alice.connect("127.0.0.1", broker.tls_address.port)
        alice.loop_start()
        assert not answers.get(timeout=10).is_failure  # type: ignore[attr-defined]
        alice.subscribe("citylab/bob/#")
        assert answers.get(timeout=10) == [0x80]
        alice.subscribe("citylab/alice/#")
        assert answers.get(timeout=10) == [0]
        alice.disconnect()
        alice.loop_stop()
    finally:
        broker.stop()
