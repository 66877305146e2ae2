"""HTTP to InfluxDB shared by both APIs: the server's version, errors as sentences, InfluxQL reads.

InfluxQL on ``/query`` is the one read language InfluxDB 1.x, 2.x (through
its v1-compatible endpoint and DBRP mapping) and 3.x all answer, so the
reading interface is written once here for both stores.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode
from dataclasses import dataclass, field
from typing import Any

import urllib3

from citylab.errors import StoreError
from citylab.stores.influx_schema import TELEMETRY_MEASUREMENTS, nanoseconds
from citylab.stores.reading import check_function

TAGS = ("site", "device", "unit")


@dataclass
class InfluxHTTP:
    """A base URL with its credentials, as query parameters (v1) or a token header (v2)."""

    url: str  # http(s)://host:port, no trailing slash
    database: str
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = 10.0

    def __post_init__(self) -> None:
        self.pool = urllib3.PoolManager(maxsize=2, retries=False,
                                        timeout=urllib3.Timeout(connect=3.0, read=self.timeout))

    def __reduce__(self) -> tuple[Any, ...]:
        # For the recorder's writer process: the address and credentials, not the open connections.
        return (type(self), (self.url, self.database, self.params, self.headers, self.timeout))

    def request(self, method: str, path: str, params: dict[str, str] | None = None,
                body: bytes | None = None) -> urllib3.BaseHTTPResponse:
        """One request; a StoreError naming the URL if the server cannot be reached."""
        query = urlencode({**self.params, **(params or {})})
        try:
            return self.pool.request(method, f"{self.url}{path}?{query}", body=body, headers=self.headers)
        except urllib3.exceptions.HTTPError as exc:
            reason = getattr(exc, "reason", None) or exc
            raise StoreError(f"cannot reach InfluxDB at {self.url} ({reason}): is it running, and is the URL right?") \
                from exc

    def version(self) -> str | None:
        """The version the server announces on /ping, or None if it does not say."""
        return self.request("GET", "/ping").headers.get("X-Influxdb-Version")

    def query(self, text: str) -> list[dict[str, Any]]:
        """The series an InfluxQL statement returns (``[{name, columns, values}]``)."""
        response = self.request("GET", "/query", {"db": self.database, "q": text, "epoch": "u"})
        check_answer(response, self.url, self.database)
        try:
            results = json.loads(response.data)["results"]
        except (ValueError, KeyError) as exc:
            raise StoreError(f"InfluxDB at {self.url} answered a query with something that is not its JSON") from exc
        for result in results:
            if "error" in result:
                raise StoreError(f"InfluxDB at {self.url} refused the query {text!r}: {result['error']}")
        return [series for result in results for series in result.get("series", [])]

    # --- the reading interface -------------------------------------------

    def readings(self, site: str, device: str, start: float | None = None, end: float | None = None,
                 name: str | None = None, channel: str = "telemetry", limit: int = 10_000) -> list[dict[str, Any]]:
        """A device's readings in a time range, oldest first (see ``ReadingStore``)."""
        what = f"{ident(name)}, \"unit\"" if name else "*"
        sql = f"SELECT {what} FROM {measurements(channel)} WHERE {where(site, device, start, end)}" \
              f" ORDER BY time DESC LIMIT {int(limit)}"
        rows: list[dict[str, Any]] = []
        for series in self.query(sql):
            columns = series["columns"]
            for values in series["values"]:
                row = dict(zip(columns, values))
                for column, value in row.items():
                    if column in TAGS or column == "time" or value is None:
                        continue
                    rows.append({"name": column, "unit": row.get("unit") or "", "time": row["time"] / 1e6,
                                 "value": value})
        rows.sort(key=lambda r: (r["time"], r["name"]))
        return rows[-limit:]

    def aggregate(self, site: str, device: str, name: str, start: float, end: float, every: float,
                  function: str = "mean", channel: str = "telemetry") -> list[dict[str, Any]]:
        """One value per window of ``every`` seconds, oldest first (see ``ReadingStore``)."""
        micro = max(1, int(round(every * 1_000_000)))
        sql = f"SELECT {check_function(function)}({ident(name)}) FROM {measurements(channel)}" \
              f" WHERE {where(site, device, start, None)} AND time < {nanoseconds(end)}" \
              f" GROUP BY time({micro}u) fill(none)"
        out: dict[float, Any] = {}
        for series in self.query(sql):
            for time_us, value in series["values"]:
                if value is not None:
                    out[time_us / 1e6] = value
        return [{"time": t, "value": out[t]} for t in sorted(out)]


def check_answer(response: urllib3.BaseHTTPResponse, url: str, database: str) -> None:
    """Raise StoreError with what to fix for an HTTP error answer."""
    if response.status < 300:
        return
    try:
        detail = json.loads(response.data).get("error") or json.loads(response.data).get("message") or ""
    except (ValueError, AttributeError):
        detail = response.data[:200].decode("utf-8", "replace")
    if response.status in (401, 403):
        raise StoreError(f"InfluxDB at {url} refused the credentials ({detail}): check the user and password, "
                         f"or the token, in the store URL")
    if response.status == 404:
        raise StoreError(f"InfluxDB at {url} has no database or bucket {database!r} ({detail}): "
                         f"create it, or fix its name in the store URL")
    raise StoreError(f"InfluxDB at {url} answered {response.status}: {detail}")


def ident(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def measurements(channel: str) -> str:
    names = TELEMETRY_MEASUREMENTS if channel == "telemetry" else (channel,)
    return ",".join(ident(n) for n in names)


def where(site: str, device: str, start: float | None, end: float | None) -> str:
    clause = f"\"site\" = {literal(site)} AND \"device\" = {literal(device)}"
    if start is not None:
        clause += f" AND time >= {nanoseconds(start)}"
    if end is not None:
        clause += f" AND time <= {nanoseconds(end)}"
    return clause
