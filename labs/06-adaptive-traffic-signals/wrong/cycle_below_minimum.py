"""Lab 06, known wrong: Webster's cycle sent unclamped below the 30 s minimum.

Before the fair opens (08:00) tc-fair's traffic is light and Webster's cycle
comes out at 20 to 29 s; the signals refuse it (their cycle is 30..180 s)
and keep the cycle they had. The split goes in its own command and is obeyed, and at the peak
the cycle is within bounds again, so the morning still beats the fixed plan:
loses only the check on commands within limits.
"""

import json
import os
import sys

import paho.mqtt.client as mqtt

BROKER = os.environ.get("CITYLAB_BROKER", "mqtt://localhost:1883")
SITE = os.environ.get("CITYLAB_SITE", "demo")
DEVICE = os.environ.get("CITYLAB_DEVICE", "controller")

SATURATION_PER_S = 1800 / 3600  # vehicles per second of green, each approach
LOST_S = 8                      # lost time per cycle (amber, all-red, start-up)
UPDATE_S = 180                  # a new plan every 3 simulated minutes
SMOOTHING = 0.5                 # weight of the newest window's flow
MIN_CYCLE_S, MAX_CYCLE_S = 30, 90
MIN_SPLIT, MAX_SPLIT = 0.1, 0.9
MAX_Y = 0.9                     # Webster's cycle grows without bound as Y nears 1

windows = {}  # signal -> {"start", "queues", "crossed", "flows"}
sent = {}     # signal -> last plan sent (cycle, split)


def records(payload):
    """The SenML pack as (device, time, {name: value})."""
    pack = json.loads(payload)
    base = pack[0]
    device = base["bn"].rstrip(":").split(":")[-1]
    values = {r["n"]: r.get("v", r.get("vs")) for r in pack if "n" in r}
    return device, base.get("bt", 0.0), values


def clamp(value, low, high):
    return min(max(value, low), high)


def webster(flows, queues):
    """(cycle, split) for flows (vehicles/s) and standing queues (vehicles)."""
    demand = [flows[i] + queues[i] / UPDATE_S for i in range(2)]
    y = [d / SATURATION_PER_S for d in demand]
    total = sum(y)
    cycle = (1.5 * LOST_S + 5) / (1 - min(total, MAX_Y))
    split = y[0] / total if total > 0 else 0.5
    # The mistake: only the upper bound. In light traffic Webster's cycle is
    # below the signals' 30 s minimum and they refuse it.
    return round(min(cycle, MAX_CYCLE_S)), round(clamp(split, MIN_SPLIT, MAX_SPLIT), 2)


def on_telemetry(client, signal, now, values):
    queues = (values["queue_main"], values["queue_side"])
    window = windows.get(signal)
    if window is None:
        windows[signal] = {"start": now, "queues": queues, "crossed": [0, 0], "flows": None}
        return
    window["crossed"][0] += values["vehicles_main"]
    window["crossed"][1] += values["vehicles_side"]
    span = now - window["start"]
    if span < UPDATE_S:
        return
    arrived = [window["crossed"][i] + queues[i] - window["queues"][i] for i in range(2)]
    flows = [max(a, 0) / span for a in arrived]
    if window["flows"] is not None:
        flows = [SMOOTHING * flows[i] + (1 - SMOOTHING) * window["flows"][i] for i in range(2)]
    windows[signal] = {"start": now, "queues": queues, "crossed": [0, 0], "flows": flows}
    plan = webster(flows, queues)
    if sent.get(signal) != plan:
        cycle, split = plan
        # One setting a command: a refused cycle does not take the split with it.
        client.publish(f"citylab/{SITE}/{signal}/cmd", json.dumps({"set": {"cycle": cycle}}), qos=1)
        client.publish(f"citylab/{SITE}/{signal}/cmd", json.dumps({"set": {"split": split}}), qos=1)
        sent[signal] = plan


def on_message(client, userdata, message):
    try:
        signal, now, values = records(message.payload)
    except (ValueError, KeyError, IndexError, TypeError):
        return  # not a SenML pack: not ours to act on
    if message.topic.endswith("/state"):
        # The signal's acknowledgement: its plan now, or why it refused ours.
        if "error" in values:
            print(f"{signal} refused a plan: {values['error']}", file=sys.stderr)
        return
    if {"vehicles_main", "vehicles_side", "queue_main", "queue_side"} <= values.keys():
        on_telemetry(client, signal, now, values)


def on_connect(client, userdata, flags, reason_code, properties=None):
    client.subscribe([(f"citylab/{SITE}/+/telemetry", 0), (f"citylab/{SITE}/+/state", 1)])


def main():
    host, port = BROKER.split("://")[-1].rsplit(":", 1)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{SITE}-{DEVICE}")
    client.on_connect = on_connect
    client.on_message = on_message
    client.connect(host, int(port))
    client.loop_forever()


main()
