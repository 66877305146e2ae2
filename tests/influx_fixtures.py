"""Real InfluxDB 1.x, VictoriaMetrics and a persistent Mosquitto, started on free ports for tests.

Imported by the test files that need them (``from influx_fixtures import ...``
pulls the fixtures into the module). A missing binary is a failure that says
how to install it, never a skip.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

from citylab.broker import free_port
from citylab.errors import StoreError
from citylab.mqtt import BrokerAddress
from citylab.stores.influx_server import InfluxQL, InfluxServer

INFLUX_USER, INFLUX_PASSWORD, INFLUX_DB = "citylab", "s3cret-pass", "citylab"


def find_binary(name: str, package: str) -> str:
    found = shutil.which(name) or next((p for p in (f"/usr/bin/{name}", f"/usr/sbin/{name}") if Path(p).exists()), None)
    if not found:
        pytest.fail(f"{name} is not installed, and these tests run against the real server: install Debian's "
                    f"package with 'apt-get install {package}' (or run ./run-tests as root, which installs it)",
                    pytrace=False)
    return found


def wait_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except urllib.error.HTTPError:
            return  # it answers, if only to refuse
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} does not answer after {timeout:.0f} s")


class Server:
    """A server process that can be stopped and started again on the same port and data."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> "Server":
        log = open(self.folder / "server.log", "ab")
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=log)
        try:
            wait_http(f"{self.url}/ping")
        except TimeoutError:
            self.stop()
            pytest.fail(f"{self.command()[0]} did not start: {(self.folder / 'server.log').read_text()[-2000:]}",
                        pytrace=False)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class InfluxV1(InfluxServer):
    """Debian's influxd (1.x) with authentication on, one admin user and the database citylab.

    The server itself (config, free ports, start and stop) is the grader's
    ``citylab.stores.influx_server.InfluxServer``; this adds the admin user,
    the database and failures that tell how to install it.
    """

    def __init__(self, folder: Path) -> None:
        super().__init__(folder, auth=True, binary=find_binary("influxd", "influxdb"))

    def start(self) -> "InfluxV1":  # type: ignore[override]
        first = not (self.folder / "meta").exists()
        try:
            super().start()
        except StoreError as exc:
            pytest.fail(str(exc), pytrace=False)
        if first:
            try:
                # With no user yet, InfluxDB 1.x lets anyone create the first admin.
                self.query(f"CREATE USER {INFLUX_USER} WITH PASSWORD '{INFLUX_PASSWORD}' WITH ALL PRIVILEGES",
                           db=None, auth=False)
                self.query(f'CREATE DATABASE "{INFLUX_DB}"', db=None)
            except BaseException:
                self.stop()  # never leave a server behind
                raise
        return self

    def query(self, text: str, db: str | None = INFLUX_DB, auth: bool = True) -> list[dict[str, Any]]:
        client = InfluxQL(self.url, INFLUX_USER, INFLUX_PASSWORD) if auth else InfluxQL(self.url)
        results = client.results(text, db, epoch="u")
        assert all("error" not in r for r in results), results
        return [s for r in results for s in r.get("series", [])]

    def store_url(self, db: str = INFLUX_DB, user: str = INFLUX_USER, password: str = INFLUX_PASSWORD) -> str:
        return f"influx://{user}:{password}@127.0.0.1:{self.port}/{db}"

    def admin_url(self) -> str:
        """The server as ``citylab grade --influx`` takes it: http://admin:password@host:port."""
        return f"http://{INFLUX_USER}:{INFLUX_PASSWORD}@127.0.0.1:{self.port}"


class VictoriaMetrics(Server):
    """Debian's victoria-metrics: accepts InfluxDB's v2 write API, read back through its export API."""

    def __init__(self, folder: Path, password: str | None = None) -> None:
        super().__init__(folder)
        self.password = password

    def command(self) -> list[str]:
        locked = ["-httpAuth.username=citylab", f"-httpAuth.password={self.password}"] if self.password else []
        return [find_binary("victoria-metrics", "victoria-metrics"), f"-httpListenAddr=127.0.0.1:{self.port}",
                f"-storageDataPath={self.folder / 'data'}", "-loggerLevel=ERROR",
                # One sample per series and millisecond: a replayed point is stored once.
                "-dedup.minScrapeInterval=1ms", *locked]

    def export(self, match: str) -> list[dict[str, Any]]:
        urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=10).read()
        query = urllib.parse.urlencode({"match[]": match, "start": "0"})
        with urllib.request.urlopen(f"{self.url}/api/v1/export?{query}", timeout=30) as response:
            return [json.loads(line) for line in response.read().splitlines() if line.strip()]


class PersistentMosquitto:
    """Mosquitto keeping sessions and queued messages on disk across a restart, as a lab server runs it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.address = BrokerAddress("127.0.0.1", self.port)
        self.process: subprocess.Popen[bytes] | None = None
        (folder / "mosquitto.conf").write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            f"persistence true\npersistence_location {folder}/\nautosave_interval 1\n"
            "max_queued_messages 0\nmax_inflight_messages 100\n"
            f"log_dest file {folder / 'mosquitto.log'}\n"
            # Started as root, Mosquitto becomes user "mosquitto", who may not
            # write its persistence file into our temporary folder.
            + ("user root\n" if os.geteuid() == 0 else "")
        )

    def start(self) -> "PersistentMosquitto":
        binary = find_binary("mosquitto", "mosquitto")
        self.process = subprocess.Popen([binary, "-c", str(self.folder / "mosquitto.conf")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        pytest.fail(f"Mosquitto did not start on port {self.port}", pytrace=False)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()  # Mosquitto saves its persistence file on SIGTERM
            self.process.wait(10)


@pytest.fixture(scope="session")
def influx_v1(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxV1]:
    server = InfluxV1(tmp_path_factory.mktemp("influxdb1")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def victoria(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetrics]:
    server = VictoriaMetrics(tmp_path_factory.mktemp("victoria")).start()
    yield server
    server.stop()


@pytest.fixture
def locked_victoria(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    """VictoriaMetrics that answers 401 to any InfluxDB token (it wants a password)."""
    server = VictoriaMetrics(tmp_path, password="only-this")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def persistent_mosquitto(tmp_path: Path) -> Iterator[PersistentMosquitto]:
    broker = PersistentMosquitto(tmp_path).start()
    yield broker
    broker.stop()
