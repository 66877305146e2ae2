"""Lab 03, starter: a controller for a street of five smart lamps.

Your program gets CITYLAB_BROKER, CITYLAB_SITE and CITYLAB_DEVICE in its
environment. It already subscribes to every telemetry topic of the site and
receives each SenML pack; your part is on_message (see README.md):

- the weather station wx-street reports "illuminance" (lx);
- each lamp lamp-1 .. lamp-5 reports "dim" (%), "power" (W), "energy" (Wh)
  and "motion" (true when someone passed since its last reading);
- a lamp obeys {"set": {"dim": 0..100}} on citylab/{site}/{lamp}/cmd.
"""

import json
import os

import paho.mqtt.client as mqtt

BROKER = os.environ.get("CITYLAB_BROKER", "mqtt://localhost:1883")
SITE = os.environ.get("CITYLAB_SITE", "demo")
DEVICE = os.environ.get("CITYLAB_DEVICE", "controller")


def on_message(client, userdata, message):
    pack = json.loads(message.payload)
    device = pack[0]["bn"].rstrip(":").split(":")[-1]   # "urn:citylab:demo:lamp-3:" -> "lamp-3"
    now = pack[0].get("bt", 0.0)                         # the reading's time (the city's clock)
    values = {r["n"]: r.get("v", r.get("vb")) for r in pack if "n" in r}
    # TODO: remember the latest illuminance from wx-street.
    # TODO: for a lamp's pack, decide its dim level (daylight, night, motion)
    #       and publish it when it changes, e.g.
    #       client.publish(f"citylab/{SITE}/{device}/cmd", json.dumps({"set": {"dim": 20}}), qos=1)


def main():
    host, port = BROKER.split("://")[-1].rsplit(":", 1)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{SITE}-{DEVICE}")
    client.on_connect = lambda c, *args: c.subscribe(f"citylab/{SITE}/+/telemetry", qos=0)
    client.on_message = on_message
    client.connect(host, int(port))
    client.loop_forever()


main()
