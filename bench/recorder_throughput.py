"""Readings per second from a real Mosquitto into SQLite and InfluxDB 1.x, the spool's replay rate, and memory.

    /tmp/venv/bin/python bench/recorder_throughput.py [--rate 20000] [--seconds 20] [--outage 60]
                                                      [--stores sqlite,influx] [--readings-per-pack 4] [--capacity 200000]
                                                      [--writer process|thread]

A publisher in its own process sends SenML packs (``--readings-per-pack``
readings each) with QoS 1 at ``--rate`` readings per second; the recorder
(this process, and with ``--writer process``, the default as in ``citylab
record``, its writer process) subscribes with QoS 1, spools, acknowledges and
writes. Printed per store:

- sustained: readings stored per second from the first message received to
  the last stored; what the publisher really offered (it shares the cores);
  the rate stored while it published and how long the rest took after (a
  recorder that keeps up lags by about one batch); the recorder's CPU (both
  processes); and whether every sequence number was stored;
- capacity (``--capacity N``): the recorder stopped, N readings left with
  Mosquitto for its persistent session, then the recorder started and timed
  alone: its ceiling on this machine, with no publisher competing for CPU;
- outage (InfluxDB only): influxd stopped for ``--outage`` seconds while
  publishing; the recorder's peak memory (RSS, both processes) and the spool;
- replay: readings per second written from the spool once influxd is back.

The machine is shared: run it two or three times and compare.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from citylab import contract, mqtt
from citylab.broker import free_port
from citylab.mqtt import BrokerAddress
from citylab.recorder import Recorder
from citylab.stores import SQLiteStore, StoreURL, open_store

T0 = 1_790_000_000.0
NAMES = [("temperature", "Cel"), ("humidity", "%RH"), ("illuminance", "lx"), ("pressure", "hPa"),
         ("seq", "count"), ("noise", "dB"), ("pm10", "ug/m3"), ("pm2_5", "ug/m3")]


def publish(url: str, site: str, packs: int, per_pack: int, rate: float, first: int) -> None:
    """The publisher process: ``packs`` packs at ``rate`` readings/s, numbered from ``first``."""
    broker = BrokerAddress.parse(url)
    client = mqtt.make_client("bench-pub")
    client.max_inflight_messages_set(1000)
    mqtt.connect(client, broker)
    mqtt.wait_connected(client, broker)
    # Packs are built (and checked by the contract) before the clock starts:
    # the figure is about the recorder, not the publisher.
    messages = []
    for n in range(first, first + packs):
        values = [("seq", "count", n)] + [(name, unit, 20.0 + n % 7) for name, unit in NAMES
                                          if name != "seq"][:per_pack - 1]
        device = f"dev-{n % 100:02d}"
        messages.append((f"citylab/{site}/{device}/telemetry",
                         contract.build_pack(site, device, values, base_time=T0 + n * 0.01)))
    start = time.monotonic()
    per_second = rate / per_pack
    window: list = []
    failed = 0
    for i, (topic, pack) in enumerate(messages, start=1):
        window.append(client.publish(topic, pack, qos=1))
        # Wait for the broker's PUBACKs a window at a time: every message
        # counted below was really taken by the broker (paho can otherwise
        # leave QoS 1 messages queued for ever when published this fast).
        if len(window) >= 500:
            failed += _settle(window)
            window = []
        ahead = i / per_second - (time.monotonic() - start)
        if ahead > 0.002:
            time.sleep(ahead)
    failed += _settle(window)
    mqtt.stop(client)
    if failed:
        print(f"  publisher: {failed} messages not acknowledged by the broker", flush=True)


def _settle(window: list) -> int:
    failed = 0
    for info in window:
        try:
            info.wait_for_publish(30)
        except (ValueError, RuntimeError):
            pass
        failed += not info.is_published()
    return failed


def start_publisher(broker: BrokerAddress, site: str, packs: int, per_pack: int, rate: float,
                    first: int = 0) -> multiprocessing.Process:
    process = multiprocessing.get_context("spawn").Process(
        target=publish, args=(broker.url, site, packs, per_pack, rate, first), daemon=True)
    process.start()
    return process


def rss_mib(recorder: Recorder) -> float:
    """Resident memory of this process and of the recorder's writer process, if it has one."""
    total = 0.0
    for pid in ("self", getattr(recorder._process, "pid", None)):
        try:
            lines = Path(f"/proc/{pid}/status").read_text().splitlines() if pid else []
        except OSError:
            continue
        total += sum(int(line.split()[1]) / 1024 for line in lines if line.startswith("VmRSS:"))
    return total


class Influxd:
    """influxd 1.x on free ports, no authentication, database ``bench``."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "influxdb.conf").write_text(
            f'reporting-disabled = true\nbind-address = "127.0.0.1:{free_port()}"\n'
            f'[meta]\n  dir = "{folder}/meta"\n[data]\n  dir = "{folder}/data"\n  wal-dir = "{folder}/wal"\n'
            f'  query-log-enabled = false\n[http]\n  bind-address = "127.0.0.1:{self.port}"\n  log-enabled = false\n'
            "[monitor]\n  store-enabled = false\n")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> "Influxd":
        binary = shutil.which("influxd") or "/usr/bin/influxd"
        self.process = subprocess.Popen([binary, "-config", str(self.folder / "influxdb.conf")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # After an outage influxd first reloads what it holds: give it a minute.
        for _ in range(600):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ping", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit(f"influxd did not answer on port {self.port} within 60 s")
        self.query('CREATE DATABASE "bench"')
        return self

    def query(self, q: str) -> dict:
        import json

        data = urllib.parse.urlencode({"q": q, "db": "bench"}).encode()
        return json.loads(urllib.request.urlopen(f"http://127.0.0.1:{self.port}/query", data=data, timeout=60).read())

    def count(self, site: str) -> int:
        series = self.query(f"SELECT count(seq) FROM /.*/ WHERE site = '{site}'")["results"][0].get("series", [])
        return int(sum(s["values"][0][1] for s in series))

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(20)


def run_store(name: str, broker: BrokerAddress, folder: Path, args: argparse.Namespace) -> None:
    influxd = Influxd(folder / "influx").start() if name == "influx" else None
    if influxd:
        store = open_store(StoreURL.parse(f"influx://127.0.0.1:{influxd.port}/bench?api=v1"))
    else:
        store = SQLiteStore(folder / "bench.sqlite")
    site = f"bench-{name}"
    spool, client_id = folder / f"spool-{name}", f"bench-recorder-{name}"
    recorder = Recorder(broker, store, topic_filter=f"citylab/{site}/#", spool=spool, client_id=client_id,
                        writer=args.writer).start()
    per_pack = args.readings_per_pack
    packs = int(args.rate * args.seconds / per_pack)
    publisher = start_publisher(broker, site, packs, per_pack, args.rate)
    while recorder.stats.received == 0:  # the publisher builds its packs first
        time.sleep(0.01)
    start, cpu = time.monotonic(), cpu_seconds(recorder)
    publisher.join()
    published_in = time.monotonic() - start
    at_end = recorder.stats.recorded
    while recorder.stats.recorded < packs and time.monotonic() - start < args.seconds * 5 + 60:
        time.sleep(0.02)
    elapsed = time.monotonic() - start
    cpu = cpu_seconds(recorder) - cpu
    readings = recorder.stats.recorded * per_pack
    stored = influxd.count(site) if influxd else len(_sqlite_seqs(folder / "bench.sqlite", site))
    # Kept up: the rate stored while the publisher ran, and how long the rest
    # took once it stopped (a recorder that keeps up lags by about one batch).
    print(f"  {name:7s} sustained: {readings / elapsed:9.0f} readings/s over {elapsed:.1f} s; publisher offered "
          f"{packs * per_pack / published_in:.0f}/s for {published_in:.1f} s; stored {at_end * per_pack / published_in:.0f}"
          f"/s meanwhile, the rest {elapsed - published_in:.2f} s after; recorder CPU {cpu / elapsed:.2f} cores;"
          f" stored {stored} of {packs} sequence numbers{'' if stored == packs else '  <-- LOST'}", flush=True)
    first = packs
    if args.capacity:
        recorder = capacity(recorder, store_for(name, folder, influxd), broker, site, spool, client_id, packs, args)
        first += int(args.capacity / per_pack)
    if influxd and args.outage:
        outage(recorder, influxd, broker, site, first, args)
    recorder.stop(timeout=30)
    if influxd:
        influxd.stop()


def store_for(name: str, folder: Path, influxd: "Influxd | None") -> object:
    if influxd:
        return open_store(StoreURL.parse(f"influx://127.0.0.1:{influxd.port}/bench?api=v1"))
    return SQLiteStore(folder / "bench.sqlite")


def capacity(recorder: Recorder, store: object, broker: BrokerAddress, site: str, spool: Path, client_id: str,
             first: int, args: argparse.Namespace) -> Recorder:
    """The recorder alone: Mosquitto holds ``--capacity`` readings for its persistent session, then it starts."""
    per_pack = args.readings_per_pack
    packs = int(args.capacity / per_pack)
    recorder.stop(timeout=30)
    publisher = start_publisher(broker, site, packs, per_pack, 1e9, first=first)
    publisher.join()
    recorder = Recorder(broker, store, topic_filter=f"citylab/{site}/#", spool=spool, client_id=client_id,
                        writer=args.writer)
    start = time.monotonic()
    recorder.start()
    cpu = cpu_seconds(recorder)
    while recorder.stats.recorded < packs and time.monotonic() - start < 600:
        time.sleep(0.02)
    elapsed, cpu = time.monotonic() - start, cpu_seconds(recorder) - cpu
    print(f"  {'':7s} capacity (the broker's backlog of {packs * per_pack} readings, nothing else running): "
          f"{recorder.stats.recorded * per_pack / elapsed:9.0f} readings/s; recorder CPU {cpu / elapsed:.2f} cores",
          flush=True)
    return recorder


def cpu_seconds(recorder: Recorder) -> float:
    """CPU time of this process and of the recorder's writer process, if it has one."""
    total = 0.0
    for pid in ("self", getattr(recorder._process, "pid", None)):
        if pid is None:
            continue
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def outage(recorder: Recorder, influxd: Influxd, broker: BrokerAddress, site: str, first: int,
           args: argparse.Namespace) -> None:
    per_pack = args.readings_per_pack
    packs = int(args.rate * args.outage / per_pack)
    base = recorder.stats.recorded
    influxd.stop()
    before = rss_mib(recorder)
    peak = before
    publisher = start_publisher(broker, site, packs, per_pack, args.rate, first=first)
    received = recorder.stats.received
    while recorder.stats.received == received:  # the publisher builds its packs first
        time.sleep(0.01)
    began = time.monotonic()
    while publisher.is_alive():
        peak = max(peak, rss_mib(recorder))
        time.sleep(0.5)
    offered = packs * per_pack / (time.monotonic() - began)
    spooled = recorder.backlog_bytes()
    print(f"  influx  outage of {args.outage:.0f} s, offered {offered:.0f} readings/s: recorder RSS (both processes) "
          f"{before:.0f} MiB -> "
          f"peak {peak:.0f} MiB; spool {spooled / 2**20:.0f} MiB on disk; received {recorder.stats.received}",
          flush=True)
    start = time.monotonic()
    influxd.start()
    while recorder.stats.recorded - base < packs and time.monotonic() - start < 600:
        time.sleep(0.05)
    elapsed = time.monotonic() - start
    done = recorder.stats.recorded - base
    total = influxd.count(site)
    print(f"  influx  replay: {done * per_pack / elapsed:9.0f} readings/s ({done} packs in {elapsed:.1f} s, "
          f"including influxd's start); stored {total} of {first + packs} sequence numbers"
          f"{'' if total == first + packs else '  <-- LOST'}", flush=True)


def _sqlite_seqs(path: Path, site: str) -> set[int]:
    import sqlite3

    with sqlite3.connect(path) as db:
        return {int(v) for (v,) in db.execute("SELECT value FROM readings WHERE site=? AND name='seq'", (site,))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20_000, help="readings per second offered")
    parser.add_argument("--seconds", type=float, default=20, help="how long to publish at the rate")
    parser.add_argument("--outage", type=float, default=60, help="seconds influxd is down (0: skip)")
    parser.add_argument("--readings-per-pack", type=int, default=4)
    parser.add_argument("--stores", default="sqlite,influx")
    parser.add_argument("--writer", choices=("thread", "process"), default="process",
                        help="the recorder's drainer in a thread or a process of its own")
    parser.add_argument("--capacity", type=float, default=0,
                        help="readings left with the broker while the recorder is stopped, then timed (0: skip)")
    parser.add_argument("--switch-interval", type=float, default=None,
                        help="sys.setswitchinterval for the recorder's process (Python's default is 0.005 s)")
    args = parser.parse_args()
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        port = free_port()
        (folder / "mosquitto.conf").write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\nmax_inflight_messages 100\n")
        broker_process = subprocess.Popen([binary, "-c", str(folder / "mosquitto.conf")],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        print(f"{os.cpu_count()} CPUs; Mosquitto on port {port}; packs of {args.readings_per_pack} readings, QoS 1, "
              f"offered at {args.rate:.0f} readings/s for {args.seconds:.0f} s", flush=True)
        try:
            for name in args.stores.split(","):
                run_store(name, BrokerAddress("127.0.0.1", port), folder, args)
        finally:
            broker_process.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
