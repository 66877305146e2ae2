"""Lab 02, starter: bridge the kit on a serial port to MQTT.

Run it as the grader does (the grader sets these variables for you):

    CITYLAB_SERIAL=/dev/ttyUSB0 CITYLAB_BROKER=mqtt://localhost:1883 \\
    CITYLAB_SITE=alice CITYLAB_DEVICE=env-02 python bridge.py
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

connected = threading.Event()


def on_connect(client, userdata, flags, reason_code, properties):
    if not reason_code.is_failure:
        connected.set()


def as_pack(raw):
    """The line (bytes, without its newline) as text if it is a SenML pack, else None."""
    # TODO 2: decode without ever crashing, skip '#' logs, and keep only
    # lines that json.loads() reads as a list of records.
    raise NotImplementedError("TODO 2: decide whether a line is a pack")


def main():
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{SITE}-{DEVICE}-bridge")
    client.on_connect = on_connect
    client.connect(BROKER.hostname, BROKER.port or 1883, keepalive=30)
    client.loop_start()
    if not connected.wait(10):
        raise SystemExit(f"could not connect to the broker at {BROKER.geturl()}")

    port = serial.Serial(PORT, 115200, timeout=1)
    # TODO 1: read the port in a loop and cut the bytes into lines; a line
    # may arrive in several pieces, so keep the unfinished end for later.
    # TODO 3: publish every line as_pack() accepts on TELEMETRY_TOPIC, once.
    raise NotImplementedError("TODO 1: read the port and frame lines")


if __name__ == "__main__":
    main()
