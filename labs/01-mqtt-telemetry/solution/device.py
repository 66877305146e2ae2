"""Lab 01, reference solution: an environment sensor that speaks the citylab contract.

- telemetry: a SenML pack with temperature (Cel) and humidity (%RH) every 2 s
  on citylab/{site}/{device}/telemetry;
- status: 'online', retained, once connected; 'offline', retained, as the last
  will, which the broker publishes when the device disappears.

Plain paho-mqtt 2.x and json, as on a kit: nothing from citylab is imported.
Run it against a broker with:

    CITYLAB_BROKER=mqtt://localhost:1883 CITYLAB_SITE=alice CITYLAB_DEVICE=env-01 python device.py
"""

import json
import math
import os
import random
import threading
import time
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

BROKER = urlsplit(os.environ.get("CITYLAB_BROKER", "mqtt://localhost:1883"))
SITE = os.environ.get("CITYLAB_SITE", "alice")
DEVICE = os.environ.get("CITYLAB_DEVICE", "env-01")
PERIOD_S = 2.0

TELEMETRY_TOPIC = f"citylab/{SITE}/{DEVICE}/telemetry"
STATUS_TOPIC = f"citylab/{SITE}/{DEVICE}/status"
# Every record's full name is base name + name: urn:citylab:alice:env-01:temperature
BASE_NAME = f"urn:citylab:{SITE}:{DEVICE}:"

connected = threading.Event()


def on_connect(client, userdata, flags, reason_code, properties):
    if reason_code.is_failure:
        print(f"the broker refused the connection: {reason_code}")
        return
    # Here and not once after connect(): after a reconnect the device must
    # say 'online' again, because the broker has published the will meanwhile.
    client.publish(STATUS_TOPIC, "online", qos=1, retain=True)
    connected.set()


def read_sensor(rng, start):
    """A simulated sensor: a slow daily-like swing plus noise."""
    phase = (time.time() - start) / 60.0
    temperature = 21.0 + 2.0 * math.sin(phase) + rng.gauss(0, 0.1)
    humidity = 55.0 - 8.0 * math.sin(phase) + rng.gauss(0, 0.5)
    return round(temperature, 2), round(min(100.0, max(0.0, humidity)), 1)


def senml_pack(temperature, humidity):
    """One SenML pack (RFC 8428): base name and base time in the first record."""
    return json.dumps([
        {"bn": BASE_NAME, "bt": round(time.time(), 3), "n": "temperature", "u": "Cel", "v": temperature},
        {"n": "humidity", "u": "%RH", "v": humidity},
    ])


def main():
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{SITE}-{DEVICE}")
    # The will is handed to the broker in the CONNECT packet, so it must be
    # set before connect(); retained, so a dashboard opened later sees it too.
    client.will_set(STATUS_TOPIC, "offline", qos=1, retain=True)
    client.on_connect = on_connect
    client.connect(BROKER.hostname, BROKER.port or 1883, keepalive=30)
    client.loop_start()
    if not connected.wait(10):
        raise SystemExit(f"could not connect to the broker at {BROKER.geturl()}")

    rng = random.Random()
    start = time.time()
    while True:
        temperature, humidity = read_sensor(rng, start)
        client.publish(TELEMETRY_TOPIC, senml_pack(temperature, humidity), qos=1)
        print(f"published {temperature} Cel, {humidity} %RH")
        time.sleep(PERIOD_S)


if __name__ == "__main__":
    main()
