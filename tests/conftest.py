"""Services the tests need, started for real on free ports.

A missing service is a failure with the command that installs it, never a
skip: a test that skips itself is a test that does not run.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from citylab.broker import EmbeddedBroker, free_port
from citylab.mqtt import BrokerAddress

MOSQUITTO_PATHS = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")


def find_mosquitto() -> str:
    found = shutil.which("mosquitto") or next((p for p in MOSQUITTO_PATHS if Path(p).exists()), None)
    if not found:
        pytest.fail(
            "Mosquitto is not installed, and these tests run against a real broker: "
            "install Debian's package with 'apt-get install mosquitto' (or run ./run-tests as root, "
            "which installs it)",
            pytrace=False,
        )
    return found


def wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f} s")


class Mosquitto:
    """A real Mosquitto on a free port, with its own config in a temp folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.address = BrokerAddress("127.0.0.1", self.port)
        self.process: subprocess.Popen[bytes] | None = None

    def config(self) -> str:
        """The mosquitto.conf to start with; subclasses add accounts, ACLs, TLS."""
        return (
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence false\n"
            "max_queued_messages 100000\n"
            f"log_dest file {self.folder / 'mosquitto.log'}\n"
        )

    def start(self) -> "Mosquitto":
        binary = find_mosquitto()
        config = self.folder / "mosquitto.conf"
        config.write_text(self.config())
        self.process = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
        try:
            wait_for_port("127.0.0.1", self.port)
        except TimeoutError:
            self.stop()
            err = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
            pytest.fail(f"Mosquitto did not start on port {self.port}: {err}", pytrace=False)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self.process and self.process.stderr:
            self.process.stderr.close()


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerAddress]:
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto")).start()
    yield broker.address
    broker.stop()


@pytest.fixture(scope="session")
def embedded_broker() -> Iterator[BrokerAddress]:
    broker = EmbeddedBroker("127.0.0.1", free_port()).start()
    yield broker.address
    broker.stop()


@pytest.fixture(params=["mosquitto", "embedded"])
def any_broker(request: pytest.FixtureRequest) -> BrokerAddress:
    """Each test that takes this runs once against Mosquitto, once against the embedded broker."""
    return request.getfixturevalue(request.param if request.param == "mosquitto" else "embedded_broker")
