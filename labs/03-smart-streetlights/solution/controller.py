"""Lab 03, reference solution: a street's lamps by daylight and motion.

Reads the street's telemetry (the weather station's illuminance, each lamp's
motion) and sends each lamp the dim level it should have:

- daylight (illuminance above OFF_ABOVE_LX): 0 %, the lamp is not needed;
- night, someone passed within HOLD_S: 100 %;
- night, nobody for HOLD_S: IDLE_DIM %, enough to see the street by.

Two thresholds, not one (hysteresis): at dusk the illuminance wobbles with
the clouds, and one threshold would switch the lamps on and off with it.
Time is the readings' own (SenML base time), not the wall clock, so the
controller behaves the same whatever speed the city runs at.
A command is sent only when the level changes, not at every reading.
"""

import json
import os

import paho.mqtt.client as mqtt

BROKER = os.environ.get("CITYLAB_BROKER", "mqtt://localhost:1883")
SITE = os.environ.get("CITYLAB_SITE", "demo")
DEVICE = os.environ.get("CITYLAB_DEVICE", "controller")

ON_BELOW_LX = 50      # lamps on when the street gets darker than this
OFF_ABOVE_LX = 100    # ... and off again only when it is clearly lighter
HOLD_S = 180          # full brightness for 3 minutes after the last motion
IDLE_DIM = 20         # % while nobody is about

dark = False          # are the lamps on? (starts as daylight: the grader starts the city then)
last_motion = {}      # lamp -> time of its last motion reading
sent = {}             # lamp -> last dim level sent


def records(payload):
    """The SenML pack as (device, time, {name: value})."""
    pack = json.loads(payload)
    base = pack[0]
    device = base["bn"].rstrip(":").split(":")[-1]
    values = {r["n"]: r.get("v", r.get("vb")) for r in pack if "n" in r}
    return device, base.get("bt", 0.0), values


def set_dim(client, lamp, level):
    if sent.get(lamp) != level:
        client.publish(f"citylab/{SITE}/{lamp}/cmd", json.dumps({"set": {"dim": level}}), qos=1)
        sent[lamp] = level


def on_message(client, userdata, message):
    global dark
    try:
        device, now, values = records(message.payload)
    except (ValueError, KeyError, IndexError, TypeError):
        return  # not a SenML pack: not ours to act on
    if "illuminance" in values:
        lux = values["illuminance"]
        if not dark and lux < ON_BELOW_LX:
            dark = True
        elif dark and lux > OFF_ABOVE_LX:
            dark = False
    if "motion" in values:
        if values["motion"]:
            last_motion[device] = now
        if not dark:
            level = 0
        elif now - last_motion.get(device, -1e12) <= HOLD_S:
            level = 100
        else:
            level = IDLE_DIM
        set_dim(client, device, level)


def main():
    host, port = BROKER.split("://")[-1].rsplit(":", 1)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{SITE}-{DEVICE}")
    client.on_connect = lambda c, *args: c.subscribe(f"citylab/{SITE}/+/telemetry", qos=0)
    client.on_message = on_message
    client.connect(host, int(port))
    client.loop_forever()


main()
