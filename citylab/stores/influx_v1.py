"""InfluxDB 1.x through its own API: ``/write`` and ``/query`` with a database, user and password.

This is what Debian and Raspberry Pi OS ship (``apt-get install influxdb``).
Points are written in line protocol (``influx_schema``) in requests of at
most ``CHUNK`` lines; reading goes through ``InfluxHTTP`` (InfluxQL).
"""

from __future__ import annotations

import json
import logging

from citylab.errors import StoreError
from citylab.stores.influx_http import InfluxHTTP, check_answer
from citylab.stores.influx_schema import batch_lines
from citylab.stores.sqlite import Batch

log = logging.getLogger("citylab.stores.influx")
CHUNK = 5000


class InfluxV1Store(InfluxHTTP):
    """A database on an InfluxDB 1.x server (or any server speaking the 1.x write API)."""

    rejected: int = 0  # points the server refused for good (a field type conflict)

    @classmethod
    def open(cls, url: str, database: str, username: str | None = None, password: str | None = None,
             timeout: float = 10.0) -> "InfluxV1Store":
        """Connect; raise StoreError for a wrong database or credentials (not for a server that is down)."""
        params = {"u": username, "p": password or ""} if username else {}
        store = cls(url, database, params=params, timeout=timeout)
        store.check()
        return store

    def check(self) -> None:
        """Check the database exists; a server that does not answer is left for the spool to wait out."""
        try:
            names = [row[0] for series in self.query("SHOW DATABASES") for row in series.get("values", [])]
        except StoreError as exc:
            if "cannot reach" in str(exc):
                log.warning("%s; recording into the spool until it answers", exc)
                return
            raise
        if self.database not in names:
            raise StoreError(
                f"InfluxDB at {self.url} has no database {self.database!r} (it has: {', '.join(names) or 'none'}): "
                f"create it with  influx -execute 'CREATE DATABASE \"{self.database}\"'  or fix the name in the URL"
            )

    def write(self, batch: Batch) -> None:
        """Write a batch; idempotent, since a point is keyed by its tags and its own time."""
        lines = batch_lines(batch)
        for start in range(0, len(lines), CHUNK):
            body = ("\n".join(lines[start:start + CHUNK]) + "\n").encode()
            response = self.request("POST", "/write", {"db": self.database}, body=body)
            if response.status == 400:
                # A partial write: InfluxDB kept the good points and refused
                # the rest for good (such as a number where a text was before);
                # sending it again would be refused again.
                try:
                    detail = json.loads(response.data).get("error", "")
                except ValueError:
                    detail = response.data[:300].decode("utf-8", "replace")
                self.rejected += 1
                log.warning("InfluxDB at %s refused some points and kept the rest: %s", self.url, detail)
                continue
            check_answer(response, self.url, self.database)

    def close(self) -> None:
        self.pool.clear()
