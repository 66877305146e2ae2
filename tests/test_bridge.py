"""The serial <-> MQTT bridge, end to end: a virtual kit on a real pty, real Mosquitto, the recorder."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
import serial

from citylab import contract, mqtt
from citylab.mqtt import BrokerAddress
from citylab.recorder import Recorder
from citylab.stores import SQLiteStore
from firmware_bridge.bridge import SerialBridge
from firmware_bridge.emulator import PtyLine, VirtualKit
from waiting import wait_until


class Collector:
    """A real MQTT subscriber that keeps (topic, payload, retained) for the test to check."""

    def __init__(self, broker: BrokerAddress, topic_filter: str) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self.client = mqtt.make_client("test-collector")
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, bytes(m.payload), m.retain))
        self.client.on_connect = lambda c, u, f, r, p: c.subscribe(topic_filter, qos=1)
        mqtt.connect(self.client, broker)
        mqtt.wait_connected(self.client, broker)
        time.sleep(0.1)

    def on(self, suffix: str) -> list[bytes]:
        return [payload for topic, payload, _ in self.messages if topic.endswith(suffix)]

    def close(self) -> None:
        mqtt.stop(self.client)


def pack(site: str, device: str, seq: int) -> bytes:
    return contract.build_pack(site, device, [("temperature", "Cel", 20.5), ("seq", "count", seq)],
                               base_time=1_800_000_000 + seq)


def test_virtual_kit_to_recorder_and_command_back(mosquitto: BrokerAddress, tmp_path: Path) -> None:
    """emulate -> pty -> bridge -> Mosquitto -> recorder (SQLite), and cmd -> bridge -> device -> state."""
    store = SQLiteStore(tmp_path / "run.sqlite")
    recorder = Recorder(mosquitto, store, topic_filter="citylab/br-e2e/#").start()
    kit = VirtualKit("street", "br-e2e", "lamp-01", interval=0.2, seed=3).start()
    bridge = SerialBridge(mosquitto, "br-e2e", [kit.path], dead_letter_file=tmp_path / "dead.jsonl").start()
    commander = mqtt.make_client("test-cmd")
    mqtt.connect(commander, mosquitto)
    mqtt.wait_connected(commander, mosquitto)
    try:
        assert wait_until(lambda: len(store.readings("br-e2e", "lamp-01", name="distance")) >= 3)
        commander.publish(contract.topic("br-e2e", "lamp-01", "cmd"), contract.build_command({"dim": 35, "on": True}),
                          qos=1)
        assert wait_until(lambda: kit.device.lamp.dim == 35.0)
        assert wait_until(lambda: any(r["value"] == 35.0 for r in store.readings("br-e2e", "lamp-01", name="dim",
                                                                               channel="state")))
    finally:
        mqtt.stop(commander)
        kit.stop()
        bridge.stop()
        recorder.stop()
    # The LED really got the new duty (35 % squared for perceived brightness).
    assert kit.hal.pwms[0].duty == int(0.35 * 0.35 * 65535)
    final = SQLiteStore(tmp_path / "run.sqlite")
    assert {"distance", "occupied", "illuminance", "motion"} <= {r["name"] for r in final.readings("br-e2e", "lamp-01")}
    assert {"dim", "on", "interval"} == {r["name"] for r in final.readings("br-e2e", "lamp-01", channel="state")}
    assert final.statuses("br-e2e", "lamp-01")[-1]["status"] == "offline"
    assert final.commands("br-e2e", "lamp-01")[0]["command"] == {"set": {"dim": 35, "on": True}}
    assert final.dead_letters(site="br-e2e") == []
    assert bridge.stats.commands == 1 and bridge.stats.dropped == 0


def test_bad_input_is_refused_counted_and_no_valid_reading_is_lost(mosquitto: BrokerAddress, tmp_path: Path) -> None:
    line = PtyLine()
    said: list[str] = []
    collector = Collector(mosquitto, "citylab/br-bad/#")
    bridge = SerialBridge(mosquitto, "br-bad", [line.path], dead_letter_file=tmp_path / "dead.jsonl",
                          say=said.append).start()
    try:
        assert wait_until(lambda: bridge.readers[line.path].connected.is_set())
        seq = iter(range(1000))
        good = lambda: pack("br-bad", "env-01", next(seq)) + b"\n"  # noqa: E731
        rng = __import__("random").Random(7)
        line.write_raw(good())
        line.write_raw(b"\x00\x13\x7f\xfe noise \xff\xfa\n" + good())                      # line noise
        line.write_raw(b'[{"bn":"urn:citylab:br-bad:env-01:","n":"x","u":"Cel","v":1,"vs":"\xc3\x28"}]\n')  # bad UTF-8
        half = good()
        for i in range(0, len(half), 7):                                                   # partial lines
            line.write_raw(half[i:i + 7])
            time.sleep(0.001)
        line.write_raw(b"[" + b"7," * 500_000 + b"7]\n" + good())                          # a 1 MB line
        # At the wrong baud rate, bytes arrive as high, unprintable values (newlines are rare).
        line.write_raw(bytes(rng.randrange(0x80, 0x100) for _ in range(3000)) + b"\n" + good())
        line.write_raw(b'[{"bn":"urn:citylab:br-bad:env-01:","n":"temperature","u":"C","v":20}]\n')  # contract
        line.write_raw(b'[{"bn":"urn:citylab:someone:env-01:","n":"t","u":"Cel","v":20}]\n')  # wrong site
        line.write_raw(b"state " + pack("br-bad", "env-01", 999) + b"\r\n")                 # a state, CRLF
        line.write_raw(b"# booting, hello\n" + good())
        assert wait_until(lambda: len(collector.on("/telemetry")) >= 6), (collector.messages, said)
    finally:
        bridge.stop()
        time.sleep(0.2)
        collector.close()
        line.close()
    telemetry = [json.loads(p) for p in collector.on("env-01/telemetry")]
    assert [records[1]["v"] for records in telemetry] == [0, 1, 2, 3, 4, 5]  # every valid reading, in order
    assert json.loads(collector.on("env-01/state")[0])[1]["v"] == 999
    assert ("citylab/br-bad/env-01/status", b"online", False) in collector.messages or \
        any(t.endswith("/status") and p == b"online" for t, p, _ in collector.messages)
    reader = bridge.readers[line.path]
    assert reader.framer.stats.oversized == 1 and reader.framer.stats.oversized_bytes > 1_000_000
    assert bridge.stats.dropped == 5, bridge.stats.refused
    kinds = [letter.kind for letter in bridge.dead_letters.recent]
    assert kinds.count("name") == 1 and kinds.count("unit") == 1 and kinds.count("json") == 1
    reasons = " | ".join(letter.reason for letter in bridge.dead_letters.recent)
    assert "use 'Cel'" in reasons and "not UTF-8" in reasons and "--site br-bad" in reasons
    assert "baud rate" in reasons
    written = (tmp_path / "dead.jsonl").read_text().splitlines()
    assert len(written) == 5 and all(json.loads(row)["reason"] for row in written)
    assert all("\n" not in text and len(text) < 400 for text in said)  # one readable line each
    assert bridge.stats.logs == 1


def test_device_vanishing_mid_line_then_plugged_back(mosquitto: BrokerAddress, tmp_path: Path) -> None:
    link = tmp_path / "ttyKIT"
    line = PtyLine(link)
    said: list[str] = []
    collector = Collector(mosquitto, "citylab/br-plug/#")
    bridge = SerialBridge(mosquitto, "br-plug", [str(link)], say=said.append, retry=0.1).start()
    reader = bridge.readers[str(link)]
    try:
        assert wait_until(reader.connected.is_set)
        line.write_raw(pack("br-plug", "env-01", 0) + b"\n" + pack("br-plug", "env-01", 1)[:30])
        assert wait_until(lambda: len(collector.on("/telemetry")) == 1)
        line.close()  # the cable is pulled in the middle of the second line
        assert wait_until(lambda: reader.stats.losses == 1)
        assert wait_until(lambda: collector.on("/status")[-1:] == [b"offline"])
        line = PtyLine(link)  # plugged back: the same name, a new device node
        assert wait_until(lambda: reader.stats.opens == 2, 5)
        line.write_raw(pack("br-plug", "env-01", 2) + b"\n")
        assert wait_until(lambda: len(collector.on("/telemetry")) == 2)
    finally:
        bridge.stop()
        time.sleep(0.2)
        collector.close()
        line.close()
    seqs = [json.loads(p)[1]["v"] for p in collector.on("/telemetry")]
    assert seqs == [0, 2]  # the half line is dropped, never published as garbage
    assert reader.stats.partial_lost == 1
    assert any("went away" in text and "unfinished line (30 bytes)" in text for text in said), said
    assert collector.on("/status") == [b"online", b"offline", b"online", b"offline"]


def test_missing_and_busy_ports_are_reported_and_retried(mosquitto: BrokerAddress, tmp_path: Path) -> None:
    line = PtyLine()
    holder = serial.serial_for_url(line.path, exclusive=True)  # a serial monitor left open
    said: list[str] = []
    missing = str(tmp_path / "ttyUSB9")
    bridge = SerialBridge(mosquitto, "br-busy", [missing, line.path], say=said.append, retry=0.1).start()
    try:
        assert wait_until(lambda: any("is busy:" in t for t in said) and any("no such port" in t for t in said))
        assert not bridge.readers[line.path].connected.is_set()
        holder.close()  # the other program lets go: the bridge takes the port
        assert wait_until(bridge.readers[line.path].connected.is_set)
        second = PtyLine()
        os.symlink(second.path, missing)  # and the missing kit appears
        assert wait_until(bridge.readers[missing].connected.is_set)
    finally:
        bridge.stop()
        line.close()
        if "second" in locals():
            second.close()
    busy = next(t for t in said if "is busy:" in t)
    assert "close it" in busy and "\n" not in busy
    # Retried every 0.1 s but reported at most once per 5 s: no screenful of repeats.
    assert sum("no such port" in t for t in said) == 1


def test_several_ports_at_once(mosquitto: BrokerAddress) -> None:
    kits = [VirtualKit("env", "br-multi", f"env-{i:02d}", interval=0.2, seed=i).start() for i in range(3)]
    collector = Collector(mosquitto, "citylab/br-multi/+/telemetry")
    bridge = SerialBridge(mosquitto, "br-multi", [k.path for k in kits]).start()
    try:
        assert wait_until(lambda: {t.split("/")[2] for t, _, _ in collector.messages} ==
                          {"env-00", "env-01", "env-02"})
    finally:
        bridge.stop()
        for kit in kits:
            kit.stop()
        collector.close()
    for topic, payload, _ in collector.messages:
        message = contract.validate_message(topic, payload)
        assert {"temperature", "humidity", "pressure", "pm2_5", "pm10", "noise"} <= {r.name for r in message.readings}
    assert set(bridge.devices) == set()  # all went offline at stop


def test_a_command_for_an_unknown_device_is_reported_not_lost_silently(mosquitto: BrokerAddress) -> None:
    said: list[str] = []
    line = PtyLine()
    bridge = SerialBridge(mosquitto, "br-cmd", [line.path], say=said.append).start()
    client = mqtt.make_client("test-cmd")
    mqtt.connect(client, mosquitto)
    mqtt.wait_connected(client, mosquitto)
    try:
        client.publish("citylab/br-cmd/ghost/cmd", b'{"set": {"dim": 1}}', qos=1)
        client.publish("citylab/br-cmd/ghost/cmd", b"not json", qos=1)
        assert wait_until(lambda: len(said) >= 2)
    finally:
        mqtt.stop(client)
        bridge.stop()
        line.close()
    assert any("no port has heard that device" in t for t in said)
    assert any("not forwarded" in t and "JSON" in t for t in said)
    assert bridge.stats.commands == 0


def test_the_dead_letter_file_is_bounded(tmp_path: Path) -> None:
    from firmware_bridge.deadletters import DeadLetters

    letters = DeadLetters(tmp_path / "dead.jsonl", keep=10, max_file_bytes=2000)
    for i in range(100):
        letters.add("/dev/pts/9", "line noise", "senml", b"\xff" * 100 + str(i).encode())
    assert letters.count == 100 and len(letters.recent) == 10
    assert (tmp_path / "dead.jsonl.1").exists()
    assert (tmp_path / "dead.jsonl").stat().st_size <= 2000 + 400
    last = json.loads((tmp_path / "dead.jsonl").read_text().splitlines()[-1])
    assert last["line"].endswith("99") and last["size"] == 102


def test_a_failure_inside_the_bridge_does_not_stop_the_port() -> None:
    from firmware_bridge.port import PortReader

    line = PtyLine()
    seen: list[bytes] = []
    said: list[str] = []

    def on_line(url: str, data: bytes) -> None:
        if data == b"boom":
            raise RuntimeError("a bug")
        seen.append(data)

    reader = PortReader(line.path, on_line, lambda port, kind, text: said.append(text))
    reader.start()
    try:
        assert wait_until(reader.connected.is_set)
        line.write_raw(b"one\nboom\ntwo\n")
        assert wait_until(lambda: seen == [b"one", b"two"])
    finally:
        reader.stop()
        line.close()
    assert any("RuntimeError: a bug" in text for text in said)
