"""The firmware's Wi-Fi mode (mqtt_link) under CPython against a real Mosquitto.

The board's umqtt.simple is replaced by citylab_fw.umqtt_compat (paho with
umqtt's methods); everything else is the code that runs on the ESP32.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from citylab import contract, mqtt
from citylab.mqtt import BrokerAddress
from conftest import Mosquitto
from firmware_bridge.paths import use_firmware

use_firmware()

from citylab_fw import app, settings  # noqa: E402
from citylab_fw.backoff import Backoff  # noqa: E402
from citylab_fw.hal_fake import FakeHal  # noqa: E402
from citylab_fw.umqtt_compat import MQTTClient  # noqa: E402
from waiting import wait_until


class Watcher:
    def __init__(self, broker: BrokerAddress, site: str) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self.client = mqtt.make_client("test-watch")
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, bytes(m.payload), m.retain))
        self.client.on_connect = lambda c, u, f, r, p: c.subscribe(f"citylab/{site}/#", qos=1)
        mqtt.connect(self.client, broker, attempts=20, delay=0.1)
        mqtt.wait_connected(self.client, broker)
        time.sleep(0.1)

    def payloads(self, channel: str) -> list[bytes]:
        return [p for t, p, _ in self.messages if t.endswith("/" + channel)]


def kit(broker: BrokerAddress, site: str, kit_name: str = "street", **extra) -> tuple:
    config = settings.Settings({"site": site, "device": "lamp-01", "kit": kit_name, "mode": "wifi", "interval": 0.2,
                                "wifi": {"ssid": "lab"}, "broker": f"mqtt://{broker.host}:{broker.port}", **extra})
    hal = FakeHal(seed=9, mqtt_factory=MQTTClient)
    link = app.make_link(config, hal)
    link.backoff = Backoff(first_ms=100, cap_ms=400)
    stop = threading.Event()
    thread = threading.Thread(target=link.run, args=(lambda: not stop.is_set(),), daemon=True)
    thread.start()
    return link, hal, stop, thread


def test_wifi_kit_publishes_status_telemetry_and_obeys_commands(mosquitto: BrokerAddress) -> None:
    watcher = Watcher(mosquitto, "fw-wifi")
    link, hal, stop, thread = kit(mosquitto, "fw-wifi")
    try:
        assert wait_until(lambda: len(watcher.payloads("telemetry")) >= 3)
        watcher.client.publish("citylab/fw-wifi/lamp-01/cmd", b'{"set": {"dim": 10, "interval": 0.5}}', qos=1)
        assert wait_until(lambda: any(json.loads(p)[0]["v"] == 10.0 for p in watcher.payloads("state")))
    finally:
        stop.set()
        thread.join(5)
        mqtt.stop(watcher.client)
    assert watcher.payloads("status")[0] == b"online" and watcher.payloads("status")[-1] == b"offline"
    for topic, payload, _ in watcher.messages:
        contract.validate_message(topic, payload)  # every message the kit sent passes the contract
    assert link.device.interval == 0.5 and hal.pwms[0].duty == int(0.01 * 65535)


def test_broker_loss_keeps_readings_and_sends_them_on_reconnect(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path).start()
    link, hal, stop, thread = kit(broker.address, "fw-loss", buffer=500)
    try:
        assert wait_until(lambda: link.sent >= 2)
        broker.stop()  # the broker goes away (a restart, a cable, an access point)
        assert wait_until(lambda: link.client is None)
        assert wait_until(lambda: len(link.outbox) >= 5)  # readings taken meanwhile are kept
        hal.wifi_up = False  # hold the kit back until the test watches the restarted broker
        restarted = Mosquitto(tmp_path)
        restarted.port, restarted.address = broker.port, broker.address
        restarted.start()
        watcher = Watcher(broker.address, "fw-loss")
        kept_while_offline = len(link.outbox)
        hal.wifi_up = True
        assert wait_until(lambda: len(watcher.payloads("telemetry")) >= kept_while_offline, 15)
        assert link.connects == 2
    finally:
        stop.set()
        thread.join(5)
        if "restarted" in locals():
            mqtt.stop(watcher.client)
            restarted.stop()
        broker.stop()
    times = [contract.validate_message("citylab/fw-loss/lamp-01/telemetry", p).readings[0].time
             for p in watcher.payloads("telemetry")]
    assert times == sorted(times)  # sent oldest first, each with the time it was taken
    assert times[-1] - times[0] >= 0.2 * (kept_while_offline - 1) * 0.8
    assert any("lost the broker" in text or "cannot connect" in text for text in hal.logs)


def test_wifi_loss_backs_off_and_the_last_will_says_offline(mosquitto: BrokerAddress) -> None:
    watcher = Watcher(mosquitto, "fw-will")
    link, hal, stop, thread = kit(mosquitto, "fw-will", kit_name="env")
    try:
        assert wait_until(lambda: watcher.payloads("status") == [b"online"])
        link.client.sock_close()  # the board loses power: no DISCONNECT, the broker sends the will
        hal.wifi_up = False
        assert wait_until(lambda: watcher.payloads("status")[-1:] == [b"offline"], 60)
        assert wait_until(lambda: link.backoff.failures >= 3)
        hal.wifi_up = True
        assert wait_until(lambda: watcher.payloads("status")[-1:] == [b"online"])
    finally:
        stop.set()
        thread.join(5)
        mqtt.stop(watcher.client)
    assert any("Wi-Fi 'lab' is not connected" in text for text in hal.logs)
    assert link.backoff.failures == 0  # reset after the successful reconnect
