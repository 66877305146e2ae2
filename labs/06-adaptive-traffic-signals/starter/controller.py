"""Lab 06, starter: a controller for the two signalised junctions of an avenue.

Your program gets CITYLAB_BROKER, CITYLAB_SITE and CITYLAB_DEVICE in its
environment. It already subscribes to every telemetry and state topic of the
site and decodes each SenML pack; your part is on_message (see README.md):

- each signal (tc-market, tc-fair) reports once a simulated minute
  "vehicles_main" and "vehicles_side" (vehicles that crossed each stop line
  since the last reading), "queue_main" and "queue_side" (vehicles waiting);
- a signal obeys {"set": {"cycle": 30..180, "split": 0.1..0.9}} on
  citylab/{site}/{signal}/cmd ("split" is the main approach's share of the
  green) and answers on its state topic with its plan, or an "error".
"""

import json
import os

import paho.mqtt.client as mqtt

BROKER = os.environ.get("CITYLAB_BROKER", "mqtt://localhost:1883")
SITE = os.environ.get("CITYLAB_SITE", "demo")
DEVICE = os.environ.get("CITYLAB_DEVICE", "controller")

SATURATION_PER_S = 1800 / 3600  # vehicles per second of green, each approach
LOST_S = 8                      # lost time per cycle (amber, all-red, start-up)
UPDATE_S = 180                  # a new plan every 3 simulated minutes


def on_message(client, userdata, message):
    pack = json.loads(message.payload)
    signal = pack[0]["bn"].rstrip(":").split(":")[-1]   # "urn:citylab:demo:tc-fair:" -> "tc-fair"
    now = pack[0].get("bt", 0.0)                         # the reading's time (the city's clock)
    values = {r["n"]: r.get("v", r.get("vs")) for r in pack if "n" in r}
    if message.topic.endswith("/state"):
        # TODO 5: print values["error"] when a signal refuses your plan.
        return
    # TODO 1: per signal, add up vehicles_main and vehicles_side over a window of UPDATE_S seconds
    #         (use `now`, not the wall clock) and remember the queues at its start.
    # TODO 2: at the window's end, the arrivals of an approach are the vehicles that crossed
    #         plus the queue's growth; the flow q is arrivals / window (vehicles per second).
    # TODO 3: Webster: y = q / SATURATION_PER_S per approach, Y = y_main + y_side,
    #         cycle = (1.5 * LOST_S + 5) / (1 - Y), split = y_main / Y.
    # TODO 4: clamp the cycle to 30..180 s (90 s is a kinder maximum) and the split to 0.1..0.9,
    #         and publish the plan when it changes, e.g.
    #         client.publish(f"citylab/{SITE}/{signal}/cmd",
    #                        json.dumps({"set": {"cycle": 60, "split": 0.6}}), qos=1)


def main():
    host, port = BROKER.split("://")[-1].rsplit(":", 1)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{SITE}-{DEVICE}")
    client.on_connect = lambda c, *args: c.subscribe([(f"citylab/{SITE}/+/telemetry", 0),
                                                      (f"citylab/{SITE}/+/state", 1)])
    client.on_message = on_message
    client.connect(host, int(port))
    client.loop_forever()


main()
