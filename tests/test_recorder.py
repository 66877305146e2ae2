"""The recorder keeps every valid message and dead-letters the rest, through real brokers."""

from __future__ import annotations

from pathlib import Path

from citylab import contract, mqtt
from citylab.mqtt import BrokerAddress
from citylab.recorder import Recorder
from citylab.stores import SQLiteStore
import waiting


def wait_until(condition, timeout: float = 15.0) -> bool:
    return waiting.wait_until(condition, timeout, every=0.05)


def test_valid_messages_are_stored_and_bad_ones_dead_lettered(any_broker: BrokerAddress, tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "run.sqlite")
    recorder = Recorder(any_broker, store, topic_filter="citylab/rec-test/#", qos=0).start()
    client = mqtt.make_client("test")
    mqtt.connect(client, any_broker)
    mqtt.wait_connected(client, any_broker)
    try:
        sent = 300
        # Garbage first and in between: it must not stop the valid ones behind it.
        client.publish("citylab/rec-test/env-01/telemetry", b"\xff\xfe not json")
        for i in range(sent):
            pack = contract.build_pack("rec-test", "env-01", [("temperature", "Cel", 20.0 + i / 100), ("seq", "count", i)],
                                       base_time=1_800_000_000 + i)
            client.publish(contract.topic("rec-test", "env-01", "telemetry"), pack, qos=1)
        client.publish("citylab/rec-test/env-01/telemetry",
                       b'[{"bn":"urn:citylab:rec-test:env-01:","n":"temperature","u":"C","v":1}]')
        client.publish("citylab/rec-test/env-01/status", b"online", qos=1, retain=True)
        client.publish("citylab/rec-test/lamp-1/cmd", b'{"set": {"dim": 30}}', qos=1)
        client.publish("citylab/rec-test/BAD/telemetry", b"[]")
        assert wait_until(lambda: recorder.stats.recorded + recorder.stats.dead_letters >= sent + 5), recorder.stats
    finally:
        mqtt.stop(client)
        recorder.stop()

    readings = store.readings("rec-test", "env-01", name="seq")
    assert [r["value"] for r in readings] == [float(i) for i in range(sent)]
    assert store.statuses("rec-test", "env-01")[-1]["status"] == "online"
    assert store.commands("rec-test", "lamp-1")[0]["command"] == {"set": {"dim": 30}}
    dead = {d["kind"]: d for d in store.dead_letters(site="rec-test")}
    assert set(dead) == {"json", "unit", "topic"}
    assert "use 'Cel'" in dead["unit"]["reason"]
    assert "not UTF-8" in dead["json"]["reason"]
    assert "device id 'BAD'" in dead["topic"]["reason"]
    devices = store.devices("rec-test")
    env = next(d for d in devices if d["device"] == "env-01")
    assert env["status"] == "online"
    assert env["telemetry"]["seq"]["value"] == sent - 1


def test_unreachable_broker_is_a_clear_error(tmp_path: Path) -> None:
    from citylab.broker import free_port
    from citylab.errors import BrokerError

    port = free_port()
    recorder = Recorder(BrokerAddress("127.0.0.1", port), SQLiteStore(tmp_path / "x.sqlite"), connect_attempts=2)
    try:
        recorder.start()
    except BrokerError as exc:
        assert f"mqtt://127.0.0.1:{port}" in str(exc) and "is it running?" in str(exc)
    else:
        raise AssertionError("connecting to a closed port must raise BrokerError")
