"""Lab 03, known wrong: switches by daylight but never dims.

Off in daylight, 100 % all night whether anyone passes or not: the street is
never dark, but it saves only the daylight minutes. Loses the energy check.
"""

import json
import os

import paho.mqtt.client as mqtt

BROKER = os.environ.get("CITYLAB_BROKER", "mqtt://localhost:1883")
SITE = os.environ.get("CITYLAB_SITE", "demo")

dark = False
sent = {}


def on_message(client, userdata, message):
    global dark
    try:
        pack = json.loads(message.payload)
        device = pack[0]["bn"].rstrip(":").split(":")[-1]
        values = {r["n"]: r.get("v", r.get("vb")) for r in pack if "n" in r}
    except (ValueError, KeyError, IndexError, TypeError):
        return
    if "illuminance" in values:
        if not dark and values["illuminance"] < 50:
            dark = True
        elif dark and values["illuminance"] > 100:
            dark = False
    if "motion" in values:
        level = 100 if dark else 0
        if sent.get(device) != level:
            client.publish(f"citylab/{SITE}/{device}/cmd", json.dumps({"set": {"dim": level}}), qos=1)
            sent[device] = level


host, port = BROKER.split("://")[-1].rsplit(":", 1)
client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
client.on_connect = lambda c, *args: c.subscribe(f"citylab/{SITE}/+/telemetry")
client.on_message = on_message
client.connect(host, int(port))
client.loop_forever()
