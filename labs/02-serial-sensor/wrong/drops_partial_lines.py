"""Lab 02, known-wrong: throws away the unfinished end of each read.

It polls the port and splits what it read on newlines, but drops the last
piece when it has no newline yet, instead of keeping it for the next read.
A pack that reaches it in two pieces is lost (and its second half, not
being JSON, is skipped). This solution must lose exactly the every-pack check.
"""

import json
import os
import threading
import time
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
    if not text or text.startswith("#"):
        return None  # an empty line or the kit's log
    try:
        data = json.loads(text)
    except ValueError:
        print(f"skipped a line that is not JSON ({len(raw)} bytes)")
        return None
    if not isinstance(data, list) or not data or not all(isinstance(r, dict) for r in data):
        print("skipped a line that is JSON but not a SenML pack")
        return None
    return text


def main():
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{SITE}-{DEVICE}-bridge")
    client.on_connect = on_connect
    client.connect(BROKER.hostname, BROKER.port or 1883, keepalive=30)
    client.loop_start()
    if not connected.wait(10):
        raise SystemExit(f"could not connect to the broker at {BROKER.geturl()}")

    port = serial.Serial(PORT, 115200, timeout=1)
    while True:
        time.sleep(0.1)
        # The mistake: the piece after the last newline is thrown away.
        *lines, _unfinished = port.read(port.in_waiting).split(b"\n")
        for raw in lines:
            pack = as_pack(raw)
            if pack is not None:
                client.publish(TELEMETRY_TOPIC, pack, qos=1)


if __name__ == "__main__":
    main()
