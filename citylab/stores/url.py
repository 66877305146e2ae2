"""A store is a URL, so a laptop, a lab server and InfluxDB Cloud differ only in a string.

    sqlite:///var/lib/citylab/run.sqlite     (or a plain path ending in .sqlite / .db)
    influx://user:password@host:8086/citylab InfluxDB 1.x: database "citylab"
    influx://host:8086/citylab?org=school&token=T
                                             InfluxDB 2.x/3.x: bucket "citylab"
    influxs://...                            the same over HTTPS

Which API to speak is chosen from the URL (a token means v2; ``?api=v1`` or
``?api=v2`` forces one) or else from the version the server announces on
``/ping``. The token may also come from ``$CITYLAB_INFLUX_TOKEN`` (through
the settings), so it need not appear in a process list.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from citylab.errors import ConfigError, StoreError
from citylab.stores.reading import Store

log = logging.getLogger("citylab.stores")
INFLUX_PORT = 8086


@dataclass(frozen=True)
class StoreURL:
    """A parsed store URL; checks itself."""

    kind: str  # "sqlite" or "influx"
    path: Path | None = None
    http_url: str = ""
    database: str = ""
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    org: str = ""
    api: str | None = None  # "v1", "v2" or None (ask the server)

    @classmethod
    def parse(cls, url: str, token: str | None = None) -> "StoreURL":
        """Read a store URL, or raise ConfigError saying what is wrong (without echoing secrets)."""
        text = _redacted(url)
        if "://" not in url:
            if url.endswith((".sqlite", ".db", ".sqlite3")):
                return cls("sqlite", path=Path(url))
            raise ConfigError(f"store {text!r} is not a store URL: use sqlite:///path/to/file.sqlite or "
                              f"influx://host:8086/database (see docs/instructor-server.md)")
        parts = urlsplit(url)
        if parts.scheme == "sqlite":
            path = unquote(parts.netloc + parts.path)
            if not path:
                raise ConfigError(f"store URL {text!r} has no file: use sqlite:///path/to/file.sqlite")
            return cls("sqlite", path=Path(path))
        if parts.scheme not in ("influx", "influxs", "influxdb"):
            raise ConfigError(f"store URL {text!r} must start with sqlite://, influx:// or influxs://")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(query) - {"api", "org", "token"}
        if unknown:
            raise ConfigError(f"store URL {text!r} has unknown options {', '.join(sorted(unknown))}: "
                              f"it accepts api, org and token")
        try:
            port = parts.port or INFLUX_PORT
        except ValueError as exc:
            raise ConfigError(f"store URL {text!r} has a port that is not a number from 1 to 65535") from exc
        if not parts.hostname:
            raise ConfigError(f"store URL {text!r} has no host, like influx://localhost:8086/citylab")
        database = parts.path.strip("/")
        if not database or "/" in database:
            raise ConfigError(f"store URL {text!r} must name one database (1.x) or bucket (2.x/3.x) after the "
                              f"host, like influx://localhost:8086/citylab")
        api = query.get("api")
        if api not in (None, "v1", "v2"):
            raise ConfigError(f"store URL {text!r}: api must be v1 or v2, not {api!r}")
        scheme = "https" if parts.scheme == "influxs" else "http"
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        return cls("influx", http_url=f"{scheme}://{host}:{port}", database=unquote(database),
                   username=unquote(parts.username) if parts.username else None,
                   password=unquote(parts.password) if parts.password else None,
                   token=query.get("token") or token, org=query.get("org", ""), api=api)

    def __str__(self) -> str:
        """The URL without secrets, for messages."""
        if self.kind == "sqlite":
            return f"sqlite://{self.path}"
        return f"{self.http_url}/{self.database}"


def _redacted(url: str) -> str:
    """The URL with its password and token replaced by ***, for error messages."""
    text = re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)
    return re.sub(r"(token=)[^&]*", r"\1***", text)


def choose_api(url: StoreURL) -> str:
    """v1 or v2, from the URL or from what the server says it is."""
    from citylab.stores.influx_http import InfluxHTTP

    if url.api:
        return url.api
    try:
        version = InfluxHTTP(url.http_url, url.database, timeout=5.0).version()
    except StoreError as exc:
        log.warning("%s; assuming the %s API and recording into the spool until it answers",
                    exc, "v2" if url.token else "v1")
        return "v2" if url.token else "v1"
    if version is None:
        if url.token:
            return "v2"
        raise ConfigError(f"the server at {url.http_url} does not say which InfluxDB it is: "
                          f"add ?api=v1 or ?api=v2 to the store URL")
    numbers = (version.lstrip("v").split(".") + ["0"])[:2]
    major, minor = numbers[0], int(numbers[1]) if numbers[1].isdigit() else 0
    if major == "1" and minor >= 6:
        if url.token and minor < 8:
            raise ConfigError(f"InfluxDB {version} at {url.http_url} has no v2 API (1.8 was the first): "
                              f"drop ?token= and give user:password in the URL instead")
        return "v2" if url.token else "v1"
    if major in ("2", "3"):
        if not url.token:
            raise ConfigError(f"InfluxDB {version} at {url.http_url} speaks the v2 API: add ?org=ORG&token=TOKEN "
                              f"to the store URL, or set CITYLAB_INFLUX_TOKEN")
        return "v2"
    raise StoreError(f"the server at {url.http_url} is InfluxDB {version}, which citylab does not support: "
                     f"use InfluxDB 1.x (1.6 or newer), 2.x or 3.x")


def open_store(url: StoreURL) -> Store:
    """The store a URL names, checked as far as the server answers."""
    if url.kind == "sqlite":
        from citylab.stores.sqlite import SQLiteStore

        assert url.path is not None
        return SQLiteStore(url.path)
    api = choose_api(url)
    if api == "v1":
        from citylab.stores.influx_v1 import InfluxV1Store

        return InfluxV1Store.open(url.http_url, url.database, url.username, url.password)
    from citylab.stores.influx_v2 import InfluxV2Store

    token = url.token or (f"{url.username}:{url.password or ''}" if url.username else "")
    if not token:
        raise ConfigError(f"the v2 API at {url.http_url} needs a token: add ?token=TOKEN to the store URL, "
                          f"or set CITYLAB_INFLUX_TOKEN")
    return InfluxV2Store.open(url.http_url, url.database, token, url.org or "-")
