"""How many messages per second the recorder keeps, from a real broker into SQLite.

    .venv/bin/python bench/recorder_rate.py [--messages 20000] [--broker mqtt://host:port]

Without --broker it measures the embedded broker (amqtt) and, if installed,
a Mosquitto started on a free port. Each message is a SenML pack of two
readings; the figure is messages from the first publish to the last row
written, so it includes the broker and the database.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from citylab import contract, mqtt
from citylab.broker import EmbeddedBroker, free_port
from citylab.mqtt import BrokerAddress
from citylab.recorder import Recorder
from citylab.stores import SQLiteStore


def measure(broker: BrokerAddress, messages: int, qos: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteStore(Path(folder) / "bench.sqlite")
        recorder = Recorder(broker, store, topic_filter="citylab/bench/#", qos=qos).start()
        client = mqtt.make_client("bench")
        mqtt.connect(client, broker)
        mqtt.wait_connected(client, broker)
        packs = [contract.build_pack("bench", f"env-{i % 50:02d}", [("temperature", "Cel", 20 + i % 7), ("humidity", "%RH", 50.0)],
                                     base_time=1_800_000_000 + i) for i in range(messages)]
        start = time.perf_counter()
        for i, pack in enumerate(packs):
            client.publish(f"citylab/bench/env-{i % 50:02d}/telemetry", pack, qos=0)
        deadline = time.monotonic() + 120
        while recorder.stats.recorded < messages and time.monotonic() < deadline:
            time.sleep(0.01)
        elapsed = time.perf_counter() - start
        recorder.stop()
        mqtt.stop(client)
        return messages / elapsed, recorder.stats.recorded


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--broker", help="measure this broker only")
    args = parser.parse_args()
    targets: list[tuple[str, BrokerAddress, int, object]] = []
    if args.broker:
        targets.append((args.broker, BrokerAddress.parse(args.broker), 1, None))
    else:
        embedded = EmbeddedBroker("127.0.0.1", free_port()).start()
        targets.append(("embedded (amqtt)", embedded.address, 0, embedded))
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if Path(binary).exists():
            port = free_port()
            process = subprocess.Popen([binary, "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            targets.append(("mosquitto", BrokerAddress("127.0.0.1", port), 1, process))
    print(f"{args.messages} SenML packs of 2 readings each, published as fast as possible")
    for name, address, qos, owner in targets:
        rate, kept = measure(address, args.messages, qos)
        print(f"  {name:18s} {rate:8.0f} messages/s recorded ({kept} of {args.messages} kept)")
        if isinstance(owner, EmbeddedBroker):
            owner.stop()
        elif owner is not None:
            owner.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
