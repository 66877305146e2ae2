"""How fast the virtual city runs in-process, and how the cost grows with its size.

    /tmp/venv/bin/python bench/sim_speed.py [--runs 3] [--seconds 3600] [--sizes 100,1000,3000,10000]

1. metropolis (10,000 devices, one reading per second each) for ``--seconds``
   simulated seconds as fast as possible, every pack handed to an in-process
   consumer that counts messages and bytes: wall time, times faster than real
   time (goal >= 100 for an hour, i.e. <= 36 s), messages per second, and the
   run's peak resident memory (goal < 1 GiB).
2. time per simulated device-hour for cities of 100 .. 10,000 devices (every
   k-th device of metropolis, so the mix of types stays the same), 300
   simulated seconds each: it should stay flat, not grow with the count.

Each measurement runs in a fresh process (so peak memory is its own) ``--runs``
times; the median is printed, with every run's figure beside it. The machine
is shared: run it more than once before believing a figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

CHILD = r"""
import json, resource, sys, time
from operator import itemgetter
from dataclasses import replace
from simulator import Simulation, load_city
size, seconds = int(sys.argv[1]), float(sys.argv[2])
city = load_city("metropolis")
if size < len(city.devices):
    step = len(city.devices) / size
    city = replace(city, devices=tuple(city.devices[int(i * step)] for i in range(size)), events=())
count = [0, 0]
def consume(batch):
    # An in-process consumer that looks at every message: counts it and the bytes of its pack.
    count[0] += len(batch)
    count[1] += sum(map(len, map(itemgetter(1), batch)))
began = time.perf_counter()
simulation = Simulation(city, "bench", 1, 0, publish_batch=consume)
built, cpu = time.perf_counter(), time.process_time()
simulation.run(seconds)
ended = time.perf_counter()
print(json.dumps({"devices": len(city.devices), "build_s": built - began, "run_s": ended - built,
                  "cpu_s": time.process_time() - cpu,
                  "messages": count[0], "bytes": count[1],
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(size: int, seconds: float) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(size), str(seconds)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3600.0)
    parser.add_argument("--sizes", default="100,1000,3000,10000")
    args = parser.parse_args()

    print(f"metropolis, 10,000 devices at 1 reading/s, {args.seconds:g} simulated s, as fast as possible:")
    runs = []
    for i in range(args.runs):
        result = measure(10_000, args.seconds)
        runs.append(result)
        print(f"  run {i + 1}: {result['run_s']:.1f} s wall ({result['cpu_s']:.1f} s CPU, "
              f"+{result['build_s']:.1f} s to build), "
              f"x{args.seconds / result['run_s']:.0f} real time, {result['messages'] / result['run_s']:,.0f} msg/s, "
              f"{result['messages']:,} messages, {result['bytes'] / 2**20:,.0f} MiB of packs, "
              f"peak RSS {result['peak_rss_mib']:.0f} MiB", flush=True)
    wall = statistics.median(r["run_s"] for r in runs)
    cpu = statistics.median(r["cpu_s"] for r in runs)
    rss = max(r["peak_rss_mib"] for r in runs)
    verdict = "ok" if args.seconds / wall >= 100 and rss < 1024 else "BELOW GOAL"
    print(f"  median: {wall:.1f} s wall = x{args.seconds / wall:.0f} real time (goal x100), {cpu:.1f} s CPU "
          f"= x{args.seconds / cpu:.0f} (what an idle core would give); peak RSS {rss:.0f} MiB (goal < 1024): {verdict}")

    print("\nCPU time per simulated device-hour (300 simulated s per run):")
    for size in (int(s) for s in args.sizes.split(",")):
        figures = []
        for _ in range(args.runs):
            result = measure(size, 300.0)
            figures.append(result["cpu_s"] / (result["devices"] * 300 / 3600) * 1e3)
        print(f"  {size:6d} devices: {statistics.median(figures):7.3f} ms per device-hour "
              f"(runs: {', '.join(f'{f:.3f}' for f in figures)})", flush=True)


if __name__ == "__main__":
    started = time.monotonic()
    main()
    print(f"\n({time.monotonic() - started:.0f} s in all)")
