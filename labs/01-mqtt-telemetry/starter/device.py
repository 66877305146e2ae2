"""Lab 01 starter: an environment sensor to connect to the city.

The sensor part and the connection are done. Your part is marked TODO 1 to 3
(read the lab's README.md first). Try it against a broker with:

    CITYLAB_BROKER=mqtt://localhost:1883 CITYLAB_SITE=alice CITYLAB_DEVICE=env-01 python device.py

and have it graded with:

    citylab grade 01-mqtt-telemetry --site alice --solution device.py
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

# The grader (and `citylab up`) tell your device where it is through these.
BROKER = urlsplit(os.environ.get("CITYLAB_BROKER", "mqtt://localhost:1883"))
SITE = os.environ.get("CITYLAB_SITE", "alice")
DEVICE = os.environ.get("CITYLAB_DEVICE", "env-01")
PERIOD_S = 2.0

TELEMETRY_TOPIC = f"citylab/{SITE}/{DEVICE}/telemetry"
STATUS_TOPIC = f"citylab/{SITE}/{DEVICE}/status"
BASE_NAME = f"urn:citylab:{SITE}:{DEVICE}:"

connected = threading.Event()


def on_connect(client, userdata, flags, reason_code, properties):
    if reason_code.is_failure:
        print(f"the broker refused the connection: {reason_code}")
        return
    # TODO 2: tell the city this device is online: publish "online" on
    # STATUS_TOPIC, with qos=1 and retain=True (why retained? see README).
    connected.set()


def read_sensor(rng, start):
    """A simulated sensor: a slow daily-like swing plus noise. Nothing to do here."""
    phase = (time.time() - start) / 60.0
    temperature = 21.0 + 2.0 * math.sin(phase) + rng.gauss(0, 0.1)
    humidity = 55.0 - 8.0 * math.sin(phase) + rng.gauss(0, 0.5)
    return round(temperature, 2), round(min(100.0, max(0.0, humidity)), 1)


def senml_pack(temperature, humidity):
    """Return the SenML pack (a JSON text) with both values.

    TODO 3: a JSON array of two records. The first one carries the base name
    "bn" (BASE_NAME) and the base time "bt" (time.time()); each record has a
    name "n", a SenML unit "u" and a value "v". Which units? See README.
    """
    raise NotImplementedError("TODO 3: build the SenML pack in senml_pack()")


def main():
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{SITE}-{DEVICE}")
    # TODO 1: set the last will here, before connect(): "offline" on
    # STATUS_TOPIC, qos=1, retained. Look up client.will_set().
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
        print(f"published {temperature}, {humidity}")
        time.sleep(PERIOD_S)


if __name__ == "__main__":
    main()
