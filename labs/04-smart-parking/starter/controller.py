"""Lab 04 starter: a parking controller. Fill in the TODO steps in order (README.md, "Steps").

Run it against a broker with the city running, or let the grader run it:

    citylab grade 04 --site YOUR_SITE --solution controller.py

The grader gives you CITYLAB_BROKER, CITYLAB_SITE and CITYLAB_DEVICE.
"""

import json
import os

import paho.mqtt.client as mqtt

BROKER = os.environ.get("CITYLAB_BROKER", "mqtt://localhost:1883")
SITE = os.environ.get("CITYLAB_SITE", "demo")
DEVICE = os.environ.get("CITYLAB_DEVICE", "controller")

# The car parks' layout: which bays make up which lot.
LOTS = {
    "lot-a": [f"bay-a{n}" for n in range(1, 7)],
    "lot-b": [f"bay-b{n}" for n in range(1, 5)],
}
LOT_OF = {bay: lot for lot, bays in LOTS.items() for bay in bays}

# TODO step 1: look at the raw distances (README, step 1) and choose your numbers.
OCCUPIED_BELOW_M = None  # a reading below this says "a car is here"
FREE_ABOVE_M = None      # a reading above this says "the floor": keep a gap between the two (hysteresis)
NO_ECHO_M = None         # a reading at or above this is a lost echo: it says nothing
CONFIRM = None           # readings in a row that must agree before a bay changes state (debounce)

state = {}    # bay -> True (taken) / False (free), once you are sure
pending = {}  # bay -> (the state the latest readings point to, how many in a row)


def observe(bay, distance):
    """Update the bay's state from one reading; return the state (None while not known yet)."""
    # TODO step 2: turn the distance into "car", "floor" or "nothing to say" with your two thresholds.
    # TODO step 3: debounce: change state[bay] only after CONFIRM readings in a row say so.
    return state.get(bay)


def free_in(lot):
    """The number of free bays in one lot."""
    # TODO step 5: count the bays of this lot (LOTS[lot]) that are not taken.
    return 0


def on_message(client, userdata, message):
    bay = message.topic.split("/")[2]
    if bay not in LOT_OF:
        return  # our own packs, or another device
    try:
        pack = json.loads(message.payload)
        when = pack[0]["bt"]  # the reading's time: stamp what you publish with it
        distance = next(r["v"] for r in pack if r.get("n") == "distance")
    except (ValueError, KeyError, IndexError, TypeError, StopIteration):
        return  # not a distance reading
    before = state.get(bay)
    occupied = observe(bay, distance)
    if occupied is None or occupied == before:
        return  # nothing new to say
    # TODO step 4: publish the bay's state, on citylab/SITE/DEVICE/telemetry, as a SenML pack
    #   [{"bn": "urn:citylab:SITE:DEVICE:", "bt": when, "n": "bay-a1.occupied", "vb": true}, ...]
    # TODO step 5: add the bay's lot's free count to the same pack: {"n": "lot-a.free", "u": "count", "v": 5}


def main():
    host, port = BROKER.split("://")[-1].rsplit(":", 1)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{SITE}-{DEVICE}")
    client.on_connect = lambda c, *args: c.subscribe(f"citylab/{SITE}/+/telemetry", qos=0)
    client.on_message = on_message
    client.connect(host, int(port))
    client.loop_forever()


main()
