"""Lab 04, known wrong: one threshold, every reading believed.

A reading below THRESHOLD_M is a car, above it the floor. It is right most of
the time, but a person walking under an empty bay, a lost echo off a
windscreen (4 m: "free") or a car half-way into the bay flips the bay for one
reading: many more changes than really happen. Loses the no-flapping points.
"""

import json
import os

import paho.mqtt.client as mqtt

BROKER = os.environ.get("CITYLAB_BROKER", "mqtt://localhost:1883")
SITE = os.environ.get("CITYLAB_SITE", "demo")
DEVICE = os.environ.get("CITYLAB_DEVICE", "controller")

LOTS = {
    "lot-a": [f"bay-a{n}" for n in range(1, 7)],
    "lot-b": [f"bay-b{n}" for n in range(1, 5)],
}
LOT_OF = {bay: lot for lot, bays in LOTS.items() for bay in bays}

THRESHOLD_M = 1.75  # half-way between a car's roof and the floor

state = {}  # bay -> True (taken) / False (free)


def observe(bay, distance):
    state[bay] = distance < THRESHOLD_M
    return state[bay]


def free_in(lot):
    return sum(1 for bay in LOTS[lot] if not state.get(bay, False))


def on_message(client, userdata, message):
    bay = message.topic.split("/")[2]
    if bay not in LOT_OF:
        return  # our own packs, or another device
    try:
        pack = json.loads(message.payload)
        when = pack[0]["bt"]
        distance = next(r["v"] for r in pack if r.get("n") == "distance")
    except (ValueError, KeyError, IndexError, TypeError, StopIteration):
        return  # not a distance reading: not ours to act on
    before = state.get(bay)
    occupied = observe(bay, distance)
    if occupied is None or occupied == before:
        return
    lot = LOT_OF[bay]
    out = [
        {"bn": f"urn:citylab:{SITE}:{DEVICE}:", "bt": when, "n": f"{bay}.occupied", "vb": occupied},
        {"n": f"{lot}.free", "u": "count", "v": free_in(lot)},
    ]
    client.publish(f"citylab/{SITE}/{DEVICE}/telemetry", json.dumps(out), qos=0)


def main():
    host, port = BROKER.split("://")[-1].rsplit(":", 1)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{SITE}-{DEVICE}")
    client.on_connect = lambda c, *args: c.subscribe(f"citylab/{SITE}/+/telemetry", qos=0)
    client.on_message = on_message
    client.connect(host, int(port))
    client.loop_forever()


main()
