"""The virtual city published to a real Mosquitto at QoS 1, counted by a separate subscriber process.

    /tmp/venv/bin/python bench/sim_mosquitto.py [--messages 300000] [--runs 3] [--city metropolis]

Starts Mosquitto on a free port (its own config in a temporary folder), a
subscriber in another process (``mosquitto_sub``, QoS 1 on
``citylab/bench/#``, writing each message's arrival time), then runs the city
as fast as possible and publishes every pack at QoS 1 with
``simulator.bulk_mqtt.BulkPublisher`` until ``--messages`` have gone. Prints, per run and as the median: the
publisher's rate (until the broker acknowledged the last message), the rate
the subscriber received at (first to last message), and how many were lost
(goal: >= 20,000 msg/s sustained, none lost).
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path



class Enough(Exception):
    """Raised by the consumer once the wanted number of messages has gone."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_mosquitto(folder: Path) -> tuple[subprocess.Popen, int]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port()
    config = folder / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                      "max_queued_messages 2000000\nmax_inflight_messages 1000\n")
    process = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return process, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("Mosquitto did not start")


def one_run(city_name: str, count: int) -> dict:
    from simulator import Simulation, load_city
    from simulator.bulk_mqtt import BulkPublisher

    with tempfile.TemporaryDirectory() as folder:
        broker, port = start_mosquitto(Path(folder))
        out_file = Path(folder) / "received.txt"
        # The separate subscriber: Mosquitto's own C client, QoS 1, one line (arrival time) per message.
        with out_file.open("w") as sink:
            subscriber = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-q", "1",
                                           "-t", "citylab/bench/#", "-C", str(count), "-F", "%U"], stdout=sink)
            try:
                time.sleep(0.5)  # let the subscription land
                publisher = BulkPublisher("127.0.0.1", port, "bench-publisher")
                sent = [0]

                def consume(batch: list) -> None:
                    left = count - sent[0]
                    if left <= 0:
                        raise Enough
                    chunk = batch[:left]
                    publisher.publish_batch(chunk)
                    sent[0] += len(chunk)

                simulation = Simulation(load_city(city_name), "bench", 1, 0, publish_batch=consume)
                began = time.perf_counter()
                try:
                    simulation.run()
                except Enough:
                    pass
                publisher.flush(120)
                published_s = time.perf_counter() - began
                acked = publisher.acked
                publisher.close()
                try:
                    subscriber.wait(30)
                except subprocess.TimeoutExpired:
                    subscriber.terminate()
                    subscriber.wait(5)
            finally:
                if subscriber.poll() is None:
                    subscriber.kill()
                broker.terminate()
                broker.wait(5)
        stamps = [float(line) for line in out_file.read_text().split()]
    span = (stamps[-1] - stamps[0]) if len(stamps) > 1 else 1e-9
    return {"sent": sent[0], "acked": acked, "publish_rate": sent[0] / published_s,
            "received": len(stamps), "receive_rate": len(stamps) / max(span, 1e-9)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=300_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--city", default="metropolis")
    args = parser.parse_args()
    results = []
    for i in range(args.runs):
        r = one_run(args.city, args.messages)
        results.append(r)
        print(f"run {i + 1}: published {r['sent']:,} at QoS 1 ({r['acked']:,} acknowledged) at "
              f"{r['publish_rate']:,.0f} msg/s; the subscriber process received {r['received']:,} at "
              f"{r['receive_rate']:,.0f} msg/s; lost {r['sent'] - r['received']:,}", flush=True)
    rate = statistics.median(min(r["publish_rate"], r["receive_rate"]) for r in results)
    lost = max(r["sent"] - r["received"] for r in results)
    print(f"median sustained rate {rate:,.0f} msg/s (goal >= 20,000), most lost in a run {lost} (goal 0): "
          f"{'ok' if rate >= 20_000 and lost == 0 else 'BELOW GOAL'}")


if __name__ == "__main__":
    main()
