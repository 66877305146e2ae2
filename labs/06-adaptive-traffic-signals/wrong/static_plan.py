"""Lab 06, known wrong: one plan, worked out by hand for the peak and sent once.

Webster's plan for the avenue's rush hour (a 60 s cycle, 75 % of the green
to the avenue), computed from the README's numbers, sent to both signals at
the first reading and never changed. It suits the commuter peak, but not the
light traffic before it nor the fair's crowd on tc-fair's side road from 08:00,
which gets a quarter of the green for more than half of the vehicles. Loses
the checks on plans that change, green that follows the demand, the delay
and the starved approach.
"""

import json
import os

import paho.mqtt.client as mqtt

BROKER = os.environ.get("CITYLAB_BROKER", "mqtt://localhost:1883")
SITE = os.environ.get("CITYLAB_SITE", "demo")
DEVICE = os.environ.get("CITYLAB_DEVICE", "controller")

PLAN = {"cycle": 60, "split": 0.75}
sent = set()


def on_message(client, userdata, message):
    try:
        pack = json.loads(message.payload)
        signal = pack[0]["bn"].rstrip(":").split(":")[-1]
    except (ValueError, KeyError, IndexError, TypeError):
        return
    if signal not in sent:
        client.publish(f"citylab/{SITE}/{signal}/cmd", json.dumps({"set": PLAN}), qos=1)
        sent.add(signal)


def main():
    host, port = BROKER.split("://")[-1].rsplit(":", 1)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{SITE}-{DEVICE}")
    client.on_connect = lambda c, *args: c.subscribe(f"citylab/{SITE}/+/telemetry", qos=0)
    client.on_message = on_message
    client.connect(host, int(port))
    client.loop_forever()


main()
