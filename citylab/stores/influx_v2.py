"""InfluxDB 2.x, 3.x and Cloud through the v2 API: a URL, a token, an organisation and a bucket.

Writes go through influxdb-client's synchronous write API in line protocol
(``influx_schema``); reads use InfluxQL on the v1-compatible ``/query``
endpoint (``InfluxHTTP``), which 2.x (with a DBRP mapping for the bucket)
and 3.x both answer. Servers that accept the v2 write API without being
InfluxDB (VictoriaMetrics) work for writing; read them with their own tools.
"""

from __future__ import annotations

import logging

import urllib3
from influxdb_client import InfluxDBClient, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException

from citylab.errors import StoreError
from citylab.stores.influx_http import InfluxHTTP
from citylab.stores.influx_schema import batch_lines
from citylab.stores.sqlite import Batch

log = logging.getLogger("citylab.stores.influx")
CHUNK = 5000


class InfluxV2Store(InfluxHTTP):
    """A bucket on an InfluxDB 2.x/3.x server (or one that speaks the v2 write API)."""

    rejected: int = 0

    @classmethod
    def open(cls, url: str, bucket: str, token: str, org: str, timeout: float = 10.0) -> "InfluxV2Store":
        """Make the client; errors in the token or bucket show at the first write."""
        store = cls(url, bucket, params={}, headers={"Authorization": f"Token {token}"}, timeout=timeout)
        store.org = org
        store.token = token
        store.client = InfluxDBClient(url=url, token=token, org=org, timeout=int(timeout * 1000))
        store.writer = store.client.write_api(write_options=SYNCHRONOUS)
        return store

    def __reduce__(self) -> tuple[object, ...]:
        # For the recorder's writer process: opened again there from the same settings.
        return (InfluxV2Store.open, (self.url, self.database, self.token, self.org, self.timeout))

    def write(self, batch: Batch) -> None:
        """Write a batch; idempotent, since a point is keyed by its tags and its own time."""
        lines = batch_lines(batch)
        for start in range(0, len(lines), CHUNK):
            try:
                self.writer.write(bucket=self.database, org=self.org, record=lines[start:start + CHUNK],
                                  write_precision=WritePrecision.NS)
            except ApiException as exc:
                self._refused(exc)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise StoreError(f"cannot reach InfluxDB at {self.url} ({exc}): is it running, "
                                 f"and is the URL right?") from exc

    def _refused(self, exc: ApiException) -> None:
        body = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else exc.body
        detail = str(body or exc.reason or "").strip()[:300]
        if exc.status in (401, 403):
            raise StoreError(f"InfluxDB at {self.url} refused the token ({detail}): check the token in the store "
                             f"URL or $CITYLAB_INFLUX_TOKEN, and that it may write to bucket {self.database!r}") from exc
        if exc.status == 404:
            raise StoreError(f"InfluxDB at {self.url} has no bucket {self.database!r} in organisation {self.org!r} "
                             f"({detail}): create it, or fix the bucket or org in the store URL") from exc
        if exc.status in (400, 422):
            self.rejected += 1
            log.warning("InfluxDB at %s refused some points and kept the rest: %s", self.url, detail)
            return
        raise StoreError(f"InfluxDB at {self.url} answered {exc.status}: {detail}") from exc

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:
            pass
        self.pool.clear()
