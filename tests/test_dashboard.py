"""The dashboard: its API over a real SQLite store, its page, its live stream, its server.

Data goes in the way the recorder puts it in: real messages built with the
contract, validated, and sorted into readings, statuses and dead letters.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from citylab import contract
from citylab.errors import ContractError, PortInUseError, StoreError
from citylab.stores import Batch, DeadLetter, SQLiteStore
from dashboard import DashboardServer, create_app

STATIC = Path(__file__).resolve().parent.parent / "dashboard" / "static"
T0 = 1_700_000_000.0


def record(store: SQLiteStore, topic: str, payload: bytes, received: float | None = None) -> None:
    """Store one message as the recorder does: validated, or a dead letter with its reason."""
    received = time.time() if received is None else received
    batch = Batch()
    try:
        message = contract.validate_message(topic, payload, received)
    except ContractError as exc:
        _, site, device, _ = topic.split("/")
        batch.dead_letters.append(DeadLetter(topic, payload, exc.reason, exc.kind, received, site, device))
    else:
        t = message.topic
        if message.readings:
            batch.readings.extend((t.channel, reading, received) for reading in message.readings)
        elif message.status:
            batch.statuses.append((t.site, t.device, message.status, received))
    store.write(batch)


def telemetry(store: SQLiteStore, site: str, device: str, values: dict[str, tuple[Any, str]], at: float) -> None:
    record(store, f"citylab/{site}/{device}/telemetry", contract.build_pack(site, device, values, base_time=at), at)


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    store = SQLiteStore(tmp_path / "run.db")
    for i in range(10):
        telemetry(store, "alice", "aq-01", {"pm2_5": (10.0 + i, "ug/m3"), "pm10": (20.0 + i, "ug/m3")}, T0 + i * 10)
    telemetry(store, "alice", "wx-01", {"temperature": (21.5, "Cel"), "door": (True, "/")}, T0 + 50)
    telemetry(store, "bob", "noise-03", {"noise": (61.0, "dB")}, T0 + 60)
    record(store, "citylab/alice/aq-01/status", b"online", T0)
    record(store, "citylab/bob/noise-03/status", b"offline", T0 + 70)
    record(store, "citylab/bob/wx-02/telemetry",
           b'[{"bn":"urn:citylab:bob:wx-02:","n":"temperature","u":"C","v":21.5}]', T0 + 80)
    record(store, "citylab/alice/aq-01/telemetry", b'{"pm2_5": 12', T0 + 90)
    return store


@pytest.fixture
def client(store: SQLiteStore) -> Iterator[TestClient]:
    with TestClient(create_app(store)) as client:
        yield client


# --- API ---------------------------------------------------------------------------


def test_health_reports_the_store_counts(client: TestClient) -> None:
    body = client.get("/api/health").json()
    assert body == {"ok": True, "counts": {"readings": 23, "statuses": 2, "commands": 0, "dead_letters": 2}}


def test_devices_are_sorted_with_latest_values_and_status(client: TestClient) -> None:
    devices = client.get("/api/devices").json()
    assert [(d["site"], d["device"]) for d in devices] == [("alice", "aq-01"), ("alice", "wx-01"), ("bob", "noise-03")]
    aq = devices[0]
    assert aq["status"] == "online"
    assert aq["telemetry"]["pm2_5"] == {"value": 19.0, "unit": "ug/m3", "time": T0 + 90}
    assert aq["last_seen"] == T0 + 90
    # A SenML boolean stays a JSON boolean, not 1.0.
    assert devices[1]["telemetry"]["door"]["value"] is True
    assert devices[2]["status"] == "offline"


def test_devices_filter_by_site(client: TestClient) -> None:
    assert [d["device"] for d in client.get("/api/devices", params={"site": "bob"}).json()] == ["noise-03"]
    assert client.get("/api/devices", params={"site": "nobody"}).json() == []


def test_one_device(client: TestClient) -> None:
    response = client.get("/api/devices/bob/noise-03")
    assert response.status_code == 200
    assert response.json()["telemetry"]["noise"]["value"] == 61.0


@pytest.mark.parametrize("path", ["/api/devices/alice/ghost", "/api/devices/alice/ghost/readings"])
def test_unknown_device_is_404_with_a_sentence(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "no device 'ghost' in site 'alice'" in response.json()["detail"]


def test_readings_in_a_time_range_oldest_first(client: TestClient) -> None:
    rows = client.get("/api/devices/alice/aq-01/readings", params={"start": T0 + 20, "end": T0 + 40, "name": "pm2_5"}).json()
    assert [(r["time"], r["value"]) for r in rows] == [(T0 + 20, 12.0), (T0 + 30, 13.0), (T0 + 40, 14.0)]
    assert rows[0]["unit"] == "ug/m3"


def test_readings_limit_keeps_the_newest(client: TestClient) -> None:
    rows = client.get("/api/devices/alice/aq-01/readings", params={"name": "pm10", "limit": 3}).json()
    assert [r["value"] for r in rows] == [27.0, 28.0, 29.0]


def test_readings_start_after_end_is_refused_with_a_reason(client: TestClient) -> None:
    response = client.get("/api/devices/alice/aq-01/readings", params={"start": T0 + 50, "end": T0})
    assert response.status_code == 422
    assert "start" in response.json()["detail"] and "after end" in response.json()["detail"]


@pytest.mark.parametrize(
    ("params", "word"),
    [({"limit": 0}, "limit"), ({"limit": 100_001}, "limit"), ({"limit": "many"}, "limit"),
     ({"start": "nan"}, "start"), ({"end": "yesterday"}, "end"), ({"channel": "cmd"}, "channel")],
)
def test_bad_query_parameters_are_422_naming_the_parameter(
    client: TestClient, params: dict[str, Any], word: str
) -> None:
    response = client.get("/api/devices/alice/aq-01/readings", params=params)
    assert response.status_code == 422
    assert f"'{word}'" in response.json()["detail"]


def test_dead_letters_newest_first_with_reason(client: TestClient) -> None:
    rows = client.get("/api/dead-letters").json()
    assert [r["topic"] for r in rows] == ["citylab/alice/aq-01/telemetry", "citylab/bob/wx-02/telemetry"]
    assert rows[0]["kind"] == "json" and rows[0]["payload"] == '{"pm2_5": 12'
    assert "use 'Cel'" in rows[1]["reason"]


def test_dead_letters_filter_and_limit(client: TestClient) -> None:
    assert [r["device"] for r in client.get("/api/dead-letters", params={"site": "bob"}).json()] == ["wx-02"]
    assert client.get("/api/dead-letters", params={"site": "alice", "device": "wx-01"}).json() == []
    assert len(client.get("/api/dead-letters", params={"limit": 1}).json()) == 1
    response = client.get("/api/dead-letters", params={"limit": 0})
    assert response.status_code == 422 and "'limit'" in response.json()["detail"]


def test_a_store_that_cannot_be_read_is_503_not_500(tmp_path: Path) -> None:
    class BrokenStore(SQLiteStore):
        def counts(self) -> dict[str, int]:
            raise StoreError("cannot read the database run.db: disk I/O error")

    with TestClient(create_app(BrokenStore(tmp_path / "run.db"))) as client:
        response = client.get("/api/health")
    assert response.status_code == 503
    assert "disk I/O error" in response.json()["detail"]


def test_openapi_is_served_and_the_cdn_docs_are_off(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/health", "/api/devices", "/api/devices/{site}/{device}/readings", "/api/dead-letters",
            "/api/live", "/api/city", "/api/labs", "/api/labs/{lab_id}", "/api/labs/{lab_id}/runs", "/api/runs/{run_id}",
            "/api/gradebook/matrix", "/api/gradebook/grades", "/api/gradebook/grades/{grade_id}",
            "/api/gradebook/export.csv", "/api/devices/{site}/{device}/series",
            "/api/devices/{site}/{device}/statuses", "/api/replay/{site}", "/api/replay/{site}/at",
            "/api/runs"} <= set(paths)
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404


# --- the page -------------------------------------------------------------------------


def test_the_page_and_every_asset_it_references_load(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assets = re.findall(r'(?:src|href)="(static/[^"#]+)"', response.text)
    assert {"static/app.js", "static/app.css"} <= set(assets)
    for asset in assets:
        assert client.get("/" + asset).status_code == 200, asset
    assert client.get("/static/app.js").headers["content-type"].startswith(("text/javascript", "application/javascript"))


def test_every_module_the_page_imports_is_served(client: TestClient) -> None:
    # ES modules import each other by relative path: a typo is a blank page, so follow every import.
    seen: set[str] = set()
    todo = ["static/app.js"]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        response = client.get("/" + path)
        assert response.status_code == 200, path
        folder = path.rsplit("/", 1)[0]
        for target in re.findall(r'from "(\.{1,2}/[^"]+)"', response.text):
            parts = folder.split("/")
            for piece in target.split("/"):
                if piece == "..":
                    parts.pop()
                elif piece != ".":
                    parts.append(piece)
            todo.append("/".join(parts))
    assert {"static/js/strings.js", "static/js/map.js", "static/js/charts.js", "static/js/pages/labs.js"} <= seen


STATIC_FILES = sorted(str(p.relative_to(STATIC)) for p in STATIC.rglob("*") if p.suffix in {".html", ".js", ".css", ".svg"})


@pytest.mark.parametrize("name", STATIC_FILES)
def test_nothing_is_loaded_from_the_internet(name: str) -> None:
    text = (STATIC / name).read_text()
    # The SVG namespace is an XML name that no browser fetches; nothing else may be absolute.
    urls = set(re.findall(r"https?://[^\s\"'`)]+", text)) - {"http://www.w3.org/2000/svg"}
    assert urls == set()
    assert "@import" not in text and "@font-face" not in text


def test_user_facing_strings_live_in_one_module() -> None:
    strings = (STATIC / "js" / "strings.js").read_text()
    assert "export const STRINGS = {" in strings
    for key in re.findall(r'data-text="([\w.]+)"', (STATIC / "index.html").read_text()):
        assert re.search(rf"\b{key.split('.')[-1]}:", strings), f"STRINGS has no {key!r}"
    # Every STRINGS.x a page uses exists (a missing one would show "undefined").
    top = set(re.findall(r"^  (\w+):", strings, re.M))
    for module in (STATIC / "js").rglob("*.js"):
        for used in re.findall(r"STRINGS\.(\w+)", module.read_text()):
            assert used in top, f"{module.name} uses STRINGS.{used}, which strings.js does not define"


# --- live stream and server -----------------------------------------------------------


def events(response: httpx.Response) -> Iterator[tuple[str, str]]:
    """(event, data) pairs from a Server-Sent Events response."""
    name, data = "message", []
    for line in response.iter_lines():
        if line == "":
            if data:
                yield name, "\n".join(data)
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())


def test_live_stream_delivers_what_is_written_after_connecting(store: SQLiteStore) -> None:
    with DashboardServer(store, port=0) as server, httpx.Client(timeout=5) as http:
        with http.stream("GET", server.url + "api/live", params={"site": "alice"}) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            stream = events(response)
            name, data = next(stream)
            assert name == "ready" and json.loads(data)["dead_letter_id"] == 2
            # Written after the stream's cursor was set: only the live stream can deliver them.
            telemetry(store, "bob", "noise-03", {"noise": (99.0, "dB")}, T0 + 1000)
            telemetry(store, "alice", "aq-01", {"pm2_5": (42.5, "ug/m3")}, T0 + 1000)
            record(store, "citylab/alice/lamp-1/telemetry", b'[{"bn":"urn:citylab:alice:lamp-1:","n":"power","u":"watt","v":3}]', T0 + 1001)
            seen: dict[str, Any] = {}
            deadline = time.monotonic() + 5
            for name, data in stream:
                seen.setdefault(name, json.loads(data))
                if {"reading", "dead_letter"} <= set(seen) or time.monotonic() > deadline:
                    break
    assert seen["reading"] == [{"site": "alice", "device": "aq-01", "channel": "telemetry", "name": "pm2_5",
                                "unit": "ug/m3", "time": T0 + 1000, "value": 42.5}]
    assert seen["dead_letter"][0]["topic"] == "citylab/alice/lamp-1/telemetry"
    assert "'W'" in seen["dead_letter"][0]["reason"]


def test_live_stream_stops_polling_when_the_client_leaves(tmp_path: Path) -> None:
    class CountingStore(SQLiteStore):
        polls = 0

        def readings_after(self, after_id: int, limit: int = 1000) -> tuple[list[dict[str, Any]], int]:
            type(self).polls += 1
            return super().readings_after(after_id, limit)

    store = CountingStore(tmp_path / "run.db")
    with DashboardServer(store, port=0) as server:
        with httpx.Client(timeout=5) as http, http.stream("GET", server.url + "api/live") as response:
            stream = events(response)  # kept: a discarded generator would close the connection
            assert next(stream)[0] == "ready"
            time.sleep(1.2)
        assert CountingStore.polls >= 1  # it was polling while connected
        time.sleep(1.0)  # the disconnect is noticed within a poll or two
        settled = CountingStore.polls
        time.sleep(1.2)
        assert CountingStore.polls == settled


def test_stop_is_prompt_with_a_live_stream_open(store: SQLiteStore) -> None:
    server = DashboardServer(store, port=0).start()
    with httpx.Client(timeout=5) as http, http.stream("GET", server.url + "api/live") as response:
        stream = events(response)
        assert next(stream)[0] == "ready"
        began = time.monotonic()
        server.stop()
        assert time.monotonic() - began < 2.0
        list(stream)  # the server ended the stream: this returns instead of timing out
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "api/health", timeout=1)


def test_server_url_and_api_over_real_http(store: SQLiteStore) -> None:
    with DashboardServer(store, port=0) as server:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", server.url) and server.port != 0
        assert httpx.get(server.url + "api/health", timeout=5).json()["ok"] is True


def test_a_taken_port_is_refused_naming_the_port_and_option(store: SQLiteStore) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUseError) as caught:
            DashboardServer(store, port=port).start()
    assert str(port) in str(caught.value) and "--http-port" in str(caught.value)
    assert not [t for t in threading.enumerate() if t.name == "citylab-dashboard"]
