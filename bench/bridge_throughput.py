"""How many lines per second the serial bridge carries from a pty to the broker, and its CPU per line.

    python bench/bridge_throughput.py [--lines 50000] [--qos 1] [--broker mqtt://host:port]

A writer process pours valid SenML lines into a pseudo-terminal as fast as
it can; the bridge (in this process) reads, validates with the contract and
publishes; a subscriber process counts what reached the broker. The rate is
lines delivered to the subscriber (mosquitto_sub if installed) per wall second; the CPU is this process's
(the bridge's and paho's threads), not the writer's nor the subscriber's.
A 921600-baud line carries about 92 kB/s, some 600 lines of 150 bytes per
second: the target is 5,000 lines/s.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tty
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from citylab.broker import free_port  # noqa: E402
from citylab.mqtt import BrokerAddress  # noqa: E402
from firmware_bridge.bridge import SerialBridge  # noqa: E402

WRITER = """
import os, sys, json
fd, n = int(sys.argv[1]), int(sys.argv[2])
lines = []
for i in range(n):
    lines.append(json.dumps([{"bn": "urn:citylab:bench:env-01:", "bt": 1800000000 + i, "n": "temperature",
                              "u": "Cel", "v": 20 + i % 50 / 10}, {"n": "humidity", "u": "%RH", "v": 55.5},
                             {"n": "seq", "u": "count", "v": i}], separators=(",", ":")) + "\\n")
data = "".join(lines).encode()
sys.stdout.write(f"{len(data) / n:.0f}\\n"); sys.stdout.flush()
sys.stdin.readline()  # go
view = memoryview(data)
while view:
    view = view[os.write(fd, view[:65536]):]
"""

COUNTER = """
import sys, time
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
host, port, n, qos = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
count = 0
def on_message(c, u, m):
    global count
    count += 1
    if count == n:
        print(f"done {time.time():.6f}", flush=True)
c = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
c.on_connect = lambda c, u, f, r, p: c.subscribe("citylab/bench/+/telemetry", qos)
c.on_subscribe = lambda *a: print("ready", flush=True)
c.on_message = on_message
c.connect(host, port)
c.loop_forever()
"""

MOSQUITTO_SUB = """
import subprocess, sys, time
sub, host, port, n, qos = sys.argv[1:6]
p = subprocess.Popen([sub, "-h", host, "-p", port, "-t", "citylab/bench/+/telemetry", "-q", qos, "-C", n, "-v"],
                     stdout=subprocess.PIPE)
time.sleep(0.5)  # mosquitto_sub has no 'subscribed' signal; half a second is plenty on localhost
print("ready", flush=True)
for _ in p.stdout:
    pass
p.wait()
print(f"done {time.time():.6f}", flush=True)
"""


def start_mosquitto(folder: Path) -> tuple[subprocess.Popen, BrokerAddress]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port()
    (folder / "m.conf").write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n"
                                   "max_inflight_messages 0\n")
    process = subprocess.Popen([binary, "-c", str(folder / "m.conf")], stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    return process, BrokerAddress("127.0.0.1", port)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--qos", type=int, default=1, choices=(0, 1))
    parser.add_argument("--broker", help="an MQTT broker URL (default: a private Mosquitto)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="citylab-bench-"))
    mosquitto = None
    if args.broker:
        broker = BrokerAddress.parse(args.broker)
    else:
        mosquitto, broker = start_mosquitto(folder)
    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    # mosquitto_sub (C) counts without becoming the bottleneck; a Python subscriber is the fallback.
    sub = shutil.which("mosquitto_sub")
    counting = ([sys.executable, "-c", MOSQUITTO_SUB, sub, broker.host, str(broker.port), str(args.lines), str(args.qos)]
                if sub else [sys.executable, "-c", COUNTER, broker.host, str(broker.port), str(args.lines), str(args.qos)])
    counter = subprocess.Popen(counting, stdout=subprocess.PIPE, text=True)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(master), str(args.lines)], pass_fds=(master,),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    bridge = SerialBridge(broker, "bench", [path], qos=args.qos, say=lambda text: print("bridge:", text))
    try:
        assert counter.stdout.readline().strip() == "ready"
        size = writer.stdout.readline().strip()
        bridge.start()
        bridge.readers[path].connected.wait(5)
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        start = time.time()
        writer.stdin.write("go\n")
        writer.stdin.flush()
        while bridge.stats.published < args.lines:
            time.sleep(0.001)
        published_at = time.time()
        cpu_published = resource.getrusage(resource.RUSAGE_SELF)
        done = counter.stdout.readline().split()
        end = float(done[1]) if done else float("nan")
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        bridge.stop()
        for process in (counter, writer, mosquitto):
            if process is not None:
                process.kill()
                process.wait()
        os.close(master)
        os.close(slave)
        shutil.rmtree(folder, ignore_errors=True)
    elapsed = end - start
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    print(f"bridge: {args.lines} lines of {size} bytes, pty -> bridge -> {broker.url} -> subscriber, QoS {args.qos}")
    print(f"  end to end: {args.lines / elapsed:,.0f} lines/s ({elapsed:.2f} s); CPU {cpu / args.lines * 1e6:.0f} us per line "
          f"({cpu / elapsed * 100:.0f} % of one core); refused {bridge.stats.dropped}")
    bridge_s = published_at - start
    bridge_cpu = (cpu_published.ru_utime - cpu0.ru_utime) + (cpu_published.ru_stime - cpu0.ru_stime)
    print(f"  bridge side (read, validated, handed to paho): {args.lines / bridge_s:,.0f} lines/s, "
          f"CPU {bridge_cpu / args.lines * 1e6:.0f} us per line")
    print(f"  target: >= 5,000 lines/s on one port: {'met' if args.lines / elapsed >= 5000 else 'NOT met'} end to end"
          f"; machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (figures are noisy when shared)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
