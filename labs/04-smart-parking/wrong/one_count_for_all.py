"""Lab 04, known wrong: the occupancy is right, the free count is the whole car park's.

Everything as in the reference solution, except that each lot's free count
is the number of free bays in both lots together, not in that lot. Loses the
free-count points.

(The reference's notes follow.)

Every bay's sensor reports the distance (m) to whatever is below it: the
floor at about 2.5 m when the bay is empty, a car's roof at 0.55 to 1.15 m when
it is taken. The readings are not clean: a car parking or leaving gives
anything in between, a person walking under an empty bay looks like a car
for one reading, a sloped windscreen can send the echo away (the sensor then
reads its maximum range, 4 m), and now and then a reading is plain garbage.

So, per bay:

- two thresholds, not one (hysteresis): below OCCUPIED_BELOW_M a reading
  says "car", above FREE_ABOVE_M it says "floor", in between it says nothing;
- a reading of NO_ECHO_M or more says nothing either (the echo was lost);
- debounce: the bay changes state only after CONFIRM readings in a row
  disagree with it, so one walker or one lost echo changes nothing.

When a bay changes state (and when it is first known) the controller
publishes, under its own device id and stamped with the reading's own time
(so the grade does not depend on how fast the city runs), the bay's state and
its lot's free count. Only on a change: the same state again every minute
for every bay says nothing new (and the grader stops a program that
publishes more than about 100 messages a wall second).

    [{"bn": "urn:citylab:SITE:controller:", "bt": T, "n": "bay-a3.occupied", "vb": true},
     {"n": "lot-a.free", "u": "count", "v": 5}]
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

OCCUPIED_BELOW_M = 1.9  # a car's roof is 0.55 to 1.15 m below a sensor 2.5 m up
FREE_ABOVE_M = 2.2      # the floor is 2.5 m below it
NO_ECHO_M = 3.5         # the sensor's "nothing came back" is its range, 4 m
CONFIRM = 2             # readings in a row (a minute apart) before a bay changes state

state = {}      # bay -> True (taken) / False (free), once confirmed
pending = {}    # bay -> (the state the readings point to, how many in a row)


def observe(bay, distance):
    """Update the bay's state from one distance reading; return the state (None: not known yet)."""
    if distance >= NO_ECHO_M:
        return state.get(bay)
    if distance < OCCUPIED_BELOW_M:
        says = True
    elif distance > FREE_ABOVE_M:
        says = False
    else:
        return state.get(bay)  # between the thresholds: keep what we had
    if says == state.get(bay):
        pending.pop(bay, None)
        return state[bay]
    seen, count = pending.get(bay, (says, 0))
    count = count + 1 if seen == says else 1
    if count >= CONFIRM:
        state[bay] = says
        pending.pop(bay, None)
    else:
        pending[bay] = (says, count)
    return state.get(bay)


def free_in(lot):
    return sum(1 for bay in LOT_OF if not state.get(bay, False))  # wrong: every lot's bays


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
