"""How fast the dashboard shows what happens: publish -> page latency, and the 10,000-device map.

    .venv/bin/python bench/dashboard_latency.py [--seconds 20] [--clients 1,100] [--browser] [--map]

Latency: an embedded broker, the recorder into SQLite and the dashboard, as
``citylab up`` runs them, in this process. A publisher sends a probe reading
every 0.1 s whose value is its own send time (wall clock), beside
``--background`` readings per second from other devices. N Server-Sent Events
clients, in a separate process (so their parsing does not steal this
process's interpreter), compute arrival - value for every probe. With
``--browser`` a real chromium page does the same through the page's own live
module. Targets (issue 6): p95 <= 250 ms with one page, <= 500 ms with 100.

Map: chromium opens the city view of ``metropolis`` (10,000 devices; synthetic
if the simulator cannot load it), each with a latest value, and reports the
time from navigation to every marker drawn, the time to recolour the map by a
quantity, and the longest main-thread task while 10,000 live readings arrive.
Target: drawn in under 2 s, and responsive.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import types
from pathlib import Path
from typing import Any

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PROBE = "probe"


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"n": len(values), "p50_ms": round(pick(0.5) * 1000, 1), "p95_ms": round(pick(0.95) * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1)}


# --- the SSE clients (run in a child process) ------------------------------------------------


async def _client(url: str, until: float, out: list[float], ready: list[int], total: int) -> None:
    import httpx

    async with httpx.AsyncClient(timeout=None) as http:
        async with http.stream("GET", url + "api/live") as response:
            event = ""
            async for line in response.aiter_lines():
                now = time.time()
                if line.startswith("event:"):
                    event = line[6:].strip()
                    if event == "ready":
                        ready.append(1)
                        if len(ready) == total:
                            print("READY", flush=True)  # the parent starts publishing now
                elif line.startswith("data:") and event == "reading":
                    for row in json.loads(line[5:]):
                        if row["name"] == PROBE:
                            out.append(now - row["value"])
                if now > until:
                    return


async def _clients(url: str, count: int, seconds: float) -> list[float]:
    out: list[float] = []
    ready: list[int] = []
    until = time.time() + seconds
    tasks = [asyncio.create_task(_client(url, until, out, ready, count)) for _ in range(count)]
    await asyncio.wait(tasks, timeout=seconds + 10)
    return out


def clients_main(url: str, count: int, seconds: float) -> None:
    print(json.dumps(asyncio.run(_clients(url, count, seconds))), flush=True)
    # The clients listen `seconds` in all; the parent stops publishing well before.


# --- the system under test --------------------------------------------------------------------


class System:
    """Broker, recorder, store and dashboard, as ``citylab up`` wires them."""

    def __init__(self, folder: Path, city: Any = None, flush_seconds: float = 0.2) -> None:
        from citylab.broker import EmbeddedBroker, free_port
        from citylab.recorder import Recorder
        from citylab.stores import SQLiteStore
        from dashboard import DashboardServer

        self.broker = EmbeddedBroker("127.0.0.1", free_port()).start()
        self.store = SQLiteStore(folder / "citylab.sqlite")
        # qos 0 on the embedded broker, as `citylab up` does; flush_seconds as the recorder's default unless asked.
        self.recorder = Recorder(self.broker.address, self.store, qos=0, flush_seconds=flush_seconds).start()
        self.server = DashboardServer(SQLiteStore(folder / "citylab.sqlite"), port=0, city=city).start()

    def stop(self) -> None:
        self.server.stop()
        self.recorder.stop()
        self.broker.stop()


def publish(system: System, seconds: float, background: int, stop: threading.Event) -> int:
    from citylab import contract, mqtt

    client = mqtt.make_client("bench")
    mqtt.connect(client, system.broker.address)
    mqtt.wait_connected(client, system.broker.address)
    sent = 0
    period = 0.1
    extra_per_tick = max(0, round(background * period))
    tick = 0
    start = time.monotonic()
    while not stop.is_set() and time.monotonic() - start < seconds:
        now = time.time()
        client.publish(contract.topic("bench", "probe-01", "telemetry"),
                       contract.build_pack("bench", "probe-01", {PROBE: (now, "s")}, base_time=now))
        sent += 1
        for i in range(extra_per_tick):
            device = f"bg-{(tick * extra_per_tick + i) % 200:03d}"
            client.publish(contract.topic("bench", device, "telemetry"),
                           contract.build_pack("bench", device, {"temperature": (20.0 + i % 7, "Cel")}, base_time=now))
        tick += 1
        time.sleep(max(0.0, start + tick * period - time.monotonic()))
    mqtt.stop(client)
    return sent


def latency_run(clients: int, seconds: float, background: int, flush: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        system = System(Path(folder), flush_seconds=flush)
        try:
            child = subprocess.Popen([sys.executable, __file__, "--clients-only", system.server.url, str(clients),
                                      str(seconds + 10)], stdout=subprocess.PIPE, text=True)
            assert child.stdout is not None
            # Every client's stream is open before the first probe, so each probe counts once per client.
            if child.stdout.readline().strip() != "READY":
                raise SystemExit("the SSE clients did not all connect")
            stop = threading.Event()
            sent = publish(system, seconds, background, stop)
            out, _ = child.communicate(timeout=seconds + 30)
            latencies = json.loads(out)
        finally:
            system.stop()
    return {"clients": clients, "recorder_flush_s": flush, "probes_sent": sent, "expected": sent * clients,
            **percentiles(latencies)}


def browser_run(seconds: float, background: int, flush: float) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        system = System(Path(folder), flush_seconds=flush)
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(system.server.url + "#/dead-letters")
            page.wait_for_selector(".connection[data-state='live']")
            page.evaluate("""() => { window.lat = []; window.citylab.live.on('reading', (rows) => {
                const now = Date.now() / 1000;
                for (const r of rows) if (r.name === 'probe') window.lat.push(now - r.value); }); }""")
            sent = publish(system, seconds, background, threading.Event())
            page.wait_for_timeout(1000)
            latencies = page.evaluate("window.lat")
        finally:
            browser.close()
            system.stop()
    return {"clients": "1 chromium page", "recorder_flush_s": flush, "probes_sent": sent, **percentiles(latencies)}


# --- the 10,000-device map ---------------------------------------------------------------------


def synthetic_city(count: int) -> types.SimpleNamespace:
    import random

    rng = random.Random(1)
    kinds = ["streetlight", "air_quality", "weather", "parking"]
    devices = [types.SimpleNamespace(id=f"d-{i:05d}", type=kinds[i % 4], district=f"district-{i % 10}",
                                     x=(i % 10 - 5) * 3000 + rng.uniform(0, 2800),
                                     y=(i % 7) * 2000 + rng.uniform(0, 1900)) for i in range(count)]
    return types.SimpleNamespace(name="Synthetic", latitude=48.1, longitude=11.6, devices=devices)


def map_run() -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from citylab import contract
    from citylab.stores import Batch
    from dashboard.citymap import try_load_map

    city_map, problem = try_load_map("metropolis")
    source = "metropolis" if city_map else f"synthetic ({problem})"
    city: Any = "metropolis" if city_map else synthetic_city(10_000)
    ids = [d.id for d in city_map.devices] if city_map else [d.id for d in city.devices]
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        system = System(Path(folder), city=city)
        now = time.time()
        batch = Batch()
        for i, device in enumerate(ids):
            message = contract.validate_message(
                contract.topic("demo", device, "telemetry"),
                contract.build_pack("demo", device, {"pm2_5": (float(i % 60), "ug/m3")}, base_time=now), now)
            batch.readings.extend(("telemetry", r, now) for r in message.readings)
        system.store.write(batch)
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            began = time.perf_counter()
            page.goto(system.server.url + "#/city")
            page.wait_for_function(f"() => document.querySelectorAll('.city-map .markers circle').length === {len(ids)}"
                                   " && !document.querySelector('#main').hasAttribute('aria-busy')", timeout=30_000)
            page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
            drawn = time.perf_counter() - began
            page.wait_for_selector("#colour-by option[value='pm2_5']", state="attached")
            recolour = page.evaluate("""() => new Promise((resolve) => {
                const select = document.querySelector('#colour-by');
                const t0 = performance.now();
                select.value = 'pm2_5';
                select.dispatchEvent(new Event('change'));
                requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - t0)));
            })""")
            page.evaluate("""() => { window.longest = 0; new PerformanceObserver((list) => {
                for (const e of list.getEntries()) window.longest = Math.max(window.longest, e.duration); })
                .observe({ type: 'longtask', buffered: false }); }""")
            burst = Batch()
            later = time.time()
            for i, device in enumerate(ids):
                message = contract.validate_message(
                    contract.topic("demo", device, "telemetry"),
                    contract.build_pack("demo", device, {"pm2_5": (float((i * 7) % 60), "ug/m3")}, base_time=later),
                    later)
                burst.readings.extend(("telemetry", r, later) for r in message.readings)
            system.store.write(burst)
            page.wait_for_timeout(3000)
            longest = page.evaluate("window.longest")
            page.screenshot(path=str(Path("test-artifacts/screenshots").resolve() / "metropolis.png"))
        finally:
            browser.close()
            system.stop()
    return {"city": source, "devices": len(ids), "drawn_s": round(drawn, 2), "recolour_ms": round(recolour),
            "longest_task_during_10k_live_readings_ms": round(longest)}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--clients-only":
        clients_main(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", default="1,100", help="comma-separated numbers of SSE clients")
    parser.add_argument("--background", type=int, default=100, help="other readings per second")
    parser.add_argument("--browser", action="store_true", help="also measure in a chromium page")
    parser.add_argument("--map", action="store_true", help="also time the 10,000-device city view")
    parser.add_argument("--no-sse", action="store_true", help="skip the SSE client runs")
    parser.add_argument("--flush", type=float, default=0.2,
                        help="the recorder's flush_seconds (its default is 0.2; it bounds the latency from below)")
    args = parser.parse_args()
    Path("test-artifacts/screenshots").mkdir(parents=True, exist_ok=True)
    if not args.no_sse:
        for count in (int(c) for c in args.clients.split(",")):
            print(json.dumps(latency_run(count, args.seconds, args.background, args.flush)), flush=True)
    if args.browser:
        print(json.dumps(browser_run(args.seconds, args.background, args.flush)), flush=True)
    if args.map:
        print(json.dumps(map_run()), flush=True)


if __name__ == "__main__":
    main()
