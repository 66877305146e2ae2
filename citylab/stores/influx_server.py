"""A private InfluxDB 1.x, and scratch databases on any InfluxDB 1.x.

Two uses share this module: the grader of a lab that needs InfluxDB (lab 07)
and the tests' fixtures (``tests/influx_fixtures.py``).

- ``InfluxServer`` is Debian's ``influxd`` (the ``influxdb`` package) on
  free ports of 127.0.0.1, with its meta, data and WAL in a folder of its own,
  so it needs no root, touches no system service and goes away with its
  folder. It starts in well under a second. Stopped and started again, it
  keeps its port and its data.
- ``InfluxQL`` is a small client over the 1.x HTTP API (``/query``,
  ``/write``) with the standard library only.
- ``scratch_database(url)`` creates a fresh database (and, when the URL
  carries an admin's credentials, a user who may use only that database) and
  drops both afterwards, so a grading on an instructor's server leaves
  nothing behind and hands the trainee's program no admin password.

Errors are ``StoreError`` sentences that say what to install or fix.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from citylab.broker import free_port
from citylab.errors import StoreError

START_TIMEOUT_S = 20.0


def find_influxd() -> str | None:
    """The path of influxd on the PATH (Debian puts it in /usr/bin), or None when it is not installed."""
    return shutil.which("influxd")


class InfluxQL:
    """InfluxDB 1.x over HTTP: InfluxQL on ``/query``, line protocol on ``/write``."""

    def __init__(self, url: str, user: str = "", password: str = "", timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.user = user
        self.password = password
        self.timeout = timeout

    def _open(self, path: str, params: dict[str, str], body: bytes) -> bytes:
        # InfluxDB 1.x reads credentials from the query string (or basic auth), not from a form body.
        auth = {"u": self.user, "p": self.password} if self.user else {}
        request = urllib.request.Request(f"{self.url}{path}?{urllib.parse.urlencode({**auth, **params})}",
                                         data=body)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode("utf-8", "replace")
            try:
                detail = json.loads(detail).get("error", detail)
            except (ValueError, AttributeError):
                pass
            if exc.code in (401, 403):
                raise StoreError(f"InfluxDB at {self.url} refused the credentials ({detail}): check the user and "
                                 f"password in the URL") from exc
            raise StoreError(f"InfluxDB at {self.url} answered {exc.code} to {path}: {detail}") from exc
        except OSError as exc:
            raise StoreError(f"cannot reach InfluxDB at {self.url} ({getattr(exc, 'reason', exc)}): is it running, "
                             f"and is the URL right?") from exc

    def results(self, text: str, db: str | None = None, epoch: str = "s") -> list[dict[str, Any]]:
        """Every statement's result as the server gives it (``{"series": [...]}`` or ``{"error": ...}``)."""
        # No epoch: times come back as RFC 3339 text ("2025-10-06T08:00:00Z").
        params = {"q": text, **({"epoch": epoch} if epoch else {}), **({"db": db} if db else {})}
        try:
            return json.loads(self._open("/query", params, urllib.parse.urlencode(params).encode()))["results"]
        except (ValueError, KeyError) as exc:
            raise StoreError(f"InfluxDB at {self.url} answered a query with something that is not its JSON") from exc

    def query(self, text: str, db: str | None = None, epoch: str = "s") -> list[dict[str, Any]]:
        """The series the statements return (``[{name, tags, columns, values}]``); StoreError on an error."""
        results = self.results(text, db, epoch)
        for result in results:
            if "error" in result:
                raise StoreError(f"InfluxDB at {self.url} refused the query {text!r}: {result['error']}")
        return [series for result in results for series in result.get("series", [])]

    def write(self, db: str, lines: list[str], precision: str = "s") -> None:
        """Write line protocol into ``db``."""
        self._open("/write", {"db": db, "precision": precision}, ("\n".join(lines) + "\n").encode())

    def ping(self) -> str | None:
        """The version the server announces, or None; StoreError when it does not answer."""
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=3) as response:
                return response.headers.get("X-Influxdb-Version")
        except urllib.error.HTTPError as exc:
            return exc.headers.get("X-Influxdb-Version")
        except OSError as exc:
            raise StoreError(f"cannot reach InfluxDB at {self.url} ({getattr(exc, 'reason', exc)}): is it running, "
                             f"and is the URL right?") from exc


class InfluxServer:
    """Debian's influxd on free ports of 127.0.0.1, its files in ``folder``."""

    def __init__(self, folder: Path, auth: bool = False, binary: str | None = None) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.binary = binary or find_influxd()
        self.port = free_port()
        self.rpc_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.config = self.folder / "influxdb.conf"
        self.log = self.folder / "server.log"
        self.config.write_text(
            "reporting-disabled = true\n"
            f'bind-address = "127.0.0.1:{self.rpc_port}"\n'
            f'[meta]\n  dir = "{self.folder}/meta"\n'
            f'[data]\n  dir = "{self.folder}/data"\n  wal-dir = "{self.folder}/wal"\n  query-log-enabled = false\n'
            f'[http]\n  bind-address = "127.0.0.1:{self.port}"\n  auth-enabled = {str(auth).lower()}\n'
            "  log-enabled = false\n"
            "[monitor]\n  store-enabled = false\n"
        )

    def start(self, timeout: float = START_TIMEOUT_S) -> "InfluxServer":
        """Start influxd and wait until it answers /ping; StoreError (with its log's end) if it does not."""
        if not self.binary:
            raise StoreError("influxd is not installed: install InfluxDB 1.x (sudo apt install influxdb)")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([self.binary, "-config", str(self.config)], stdout=log, stderr=log,
                                            stdin=subprocess.DEVNULL)
        client = InfluxQL(self.url)
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.ping()
                return self
            except StoreError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    tail = self.log.read_text(errors="replace")[-1500:].strip()
                    raise StoreError(f"influxd did not start on {self.url}: {tail or 'it wrote no log'}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop influxd (SIGTERM, then SIGKILL after 10 s); safe to call twice."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> "InfluxServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class ScratchDatabase:
    """A database of one's own on an InfluxDB 1.x: where it is and who may use it."""

    url: str  # without credentials
    database: str
    user: str  # "" when the server needs none
    password: str
    client: InfluxQL  # the owner's (admin's) client, for reading it back

    def query(self, text: str, epoch: str = "s") -> list[dict[str, Any]]:
        """The series an InfluxQL statement returns on this database (times in ``epoch`` units)."""
        return self.client.query(text, self.database, epoch)


def split_url(url: str) -> tuple[str, str, str]:
    """``http://user:pass@host:8086`` -> (``http://host:8086``, user, password)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise StoreError(f"{url!r} is not an InfluxDB URL: give it like http://host:8086 "
                         f"(or http://admin:password@host:8086)")
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return (f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}", urllib.parse.unquote(parts.username or ""),
            urllib.parse.unquote(parts.password or ""))


@contextmanager
def scratch_database(url: str, prefix: str = "citylab") -> Iterator[ScratchDatabase]:
    """A fresh, empty database on the InfluxDB 1.x at ``url``, dropped (with its user) afterwards.

    With credentials in the URL (an admin's), the database gets a user of its
    own with a random password who may read and write only it.
    """
    base, admin, admin_password = split_url(url)
    client = InfluxQL(base, admin, admin_password)
    version = client.ping() or ""
    if version and not version.lstrip("v").startswith("1."):
        raise StoreError(f"InfluxDB at {base} is version {version}, but this needs InfluxDB 1.x "
                         f"(its /query API with CREATE DATABASE)")
    token = secrets.token_hex(4)
    name = f"{prefix}_{token}".replace("-", "_")
    user = password = ""
    client.query(f'CREATE DATABASE "{name}"')
    try:
        if admin:
            user, password = f"{name}_user", secrets.token_urlsafe(12)
            client.query(f"CREATE USER \"{user}\" WITH PASSWORD '{password}'")
            client.query(f'GRANT ALL ON "{name}" TO "{user}"')
        yield ScratchDatabase(base, name, user, password, client)
    finally:
        try:
            client.query(f'DROP DATABASE "{name}"')
            if user:
                client.query(f'DROP USER "{user}"')
        except StoreError:
            pass  # the server went away: nothing more to clean
