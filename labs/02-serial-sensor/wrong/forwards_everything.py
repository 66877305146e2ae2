"""Lab 02, known-wrong: frames lines well, but forwards every line.

The framing is right, so every pack arrives once and nothing crashes; but
the kit's '#' logs, the packs cut off by a reset and the random bytes are
published too, and the city refuses them as dead letters. This solution
must lose exactly the no-garbage check.
"""

import os
import threading
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import serial
from paho.mqtt.enums import CallbackAPIVersion

PORT = os.environ.get("CITYLAB_SERIAL", "/dev/ttyUSB0")
BROKER = urlsplit(os.environ.get("CITYLAB_BROKER", "mqtt://localhost:1883"))
SITE = os.environ.get("CITYLAB_SITE", "alice")
DEVICE = os.environ.get("CITYLAB_DEVICE", "env-02")
TELEMETRY_TOPIC = f"citylab/{SITE}/{DEVICE}/telemetry"
# A line longer than this is noise, not a pack: never let it grow the buffer without end.
MAX_LINE = 4096

connected = threading.Event()


def on_connect(client, userdata, flags, reason_code, properties):
    if reason_code.is_failure:
        print(f"the broker refused the connection: {reason_code}")
        return
    connected.set()


def as_pack(raw):
    """The line as text if it is a SenML pack, else None (and why, printed)."""
    # errors="replace": a bad byte makes the line unreadable JSON, not a crash.
    text = raw.decode("utf-8", errors="replace").strip()
    # The mistake: anything that is not empty is taken for a pack.
    return text or None


def main():
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{SITE}-{DEVICE}-bridge")
    client.on_connect = on_connect
    client.connect(BROKER.hostname, BROKER.port or 1883, keepalive=30)
    client.loop_start()
    if not connected.wait(10):
        raise SystemExit(f"could not connect to the broker at {BROKER.geturl()}")

    port = serial.Serial(PORT, 115200, timeout=1)
    buffer = b""
    while True:
        # Whatever is waiting, or wait (up to the timeout) for one byte.
        buffer += port.read(port.in_waiting or 1)
        # Every complete line; the unfinished tail stays for the next read,
        # because a line may arrive in several pieces.
        *lines, buffer = buffer.split(b"\n")
        if len(buffer) > MAX_LINE:
            buffer = b""
        for raw in lines:
            pack = as_pack(raw)
            if pack is not None:
                client.publish(TELEMETRY_TOPIC, pack, qos=1)


if __name__ == "__main__":
    main()
