"""The ESP32 firmware's logic under CPython: packs, settings, drivers, commands, buffer, backoff.

Every pack the firmware builds is checked with citylab.contract, the module
the recorder uses, so a kit cannot publish what the recorder would refuse.
"""

from __future__ import annotations

import json
import math

import pytest

from citylab import contract
from firmware_bridge.paths import use_firmware

use_firmware()

from citylab_fw import kits, senml, sensors, settings  # noqa: E402
from citylab_fw.backoff import Backoff  # noqa: E402
from citylab_fw.device import Device  # noqa: E402
from citylab_fw.hal_fake import FakeBME280Bus, FakeHal, sds011_frame  # noqa: E402
from citylab_fw.outbox import Outbox  # noqa: E402
from citylab_fw.serial_link import SerialLink  # noqa: E402


def config(**extra) -> settings.Settings:
    return settings.Settings({"site": "fw", "device": "kit-01", "kit": "street", "mode": "serial", **extra})


def test_packs_pass_the_contract_and_skip_unsendable_values() -> None:
    text = senml.pack("fw", "env-01", [("temperature", 21.5), ("humidity", float("nan")), ("motion", True),
                                       ("pm2_5", 3), ("noise", float("inf"))], 1_800_000_000.0)
    message = contract.validate_message("citylab/fw/env-01/telemetry", text.encode(), received=1_800_000_001)
    assert [(r.name, r.unit, r.value) for r in message.readings] == [
        ("temperature", "Cel", 21.5), ("motion", "", True), ("pm2_5", "ug/m3", 3.0)]
    assert senml.pack("fw", "env-01", [("humidity", float("nan"))], 0) is None


def test_a_board_without_clock_sends_relative_times() -> None:
    assert senml.pack_time(None, None, 12.5) == -12.5
    assert senml.pack_time(1_800_000_100.0, None, 100.0) == 1_800_000_000.0
    text = senml.pack("fw", "env-01", [("temperature", 20)], senml.pack_time(None, None, 30.0))
    reading = contract.validate_message("citylab/fw/env-01/telemetry", text.encode(), received=1000.0).readings[0]
    assert reading.time == 970.0  # 30 s before arrival


def test_bme280_driver_gives_the_datasheet_example() -> None:
    import random

    bus = FakeBME280Bus(random.Random(1))
    bus.step = -1  # the first read: the datasheet's raw values with no drift (sin(0))
    bus.rng = type("NoNoise", (), {"gauss": staticmethod(lambda mu, sigma: 0.0)})()
    values = dict(sensors.BME280(bus).read())
    assert values["temperature"] == pytest.approx(25.08, abs=0.01)
    assert values["pressure"] == pytest.approx(1006.53, abs=0.05)
    assert 0 < values["humidity"] < 100
    with pytest.raises(OSError, match="no device answers"):
        sensors.BME280(bus, address=0x77)


def test_sds011_frames_survive_noise_and_bad_checksums() -> None:
    parser = sensors.SDS011(uart=None)
    good = sds011_frame(12.3, 20.1)
    bad = bytearray(sds011_frame(99, 99))
    bad[8] ^= 0xFF
    assert parser.feed(b"\x00\xaa\x13" + bytes(bad) + good[:4]) is None
    assert parser.feed(good[4:]) == (12.3, 20.1)
    assert parser.bad_frames == 1


def test_analog_and_digital_drivers() -> None:
    class Adc:
        def __init__(self, volts: float) -> None:
            self.volts = volts

        def read_uv(self) -> int:
            return int(self.volts * 1e6)

    assert sensors.SoundLevel(Adc(1.2)).read() == [("noise", 60.0)]
    assert sensors.SoundLevel(Adc(0.0)).read() == []  # unplugged, not 0 dB
    bright, dark = sensors.LightSensor(Adc(3.0)).read()[0][1], sensors.LightSensor(Adc(0.3)).read()[0][1]
    assert bright > 100 > dark
    echo_us = int(0.5 * 2 / 343.0 * 1e6)
    sonar = sensors.Ultrasonic(trigger=FakePinRecorder(), echo=None, pulse_us=lambda pin, level, t: echo_us)
    assert sonar.read() == [("distance", pytest.approx(0.5, abs=0.001)), ("occupied", True)]
    assert sensors.Ultrasonic(FakePinRecorder(), None, lambda *a: -1).read() == []  # no echo: nothing invented


class FakePinRecorder:
    def __init__(self) -> None:
        self.levels: list[int] = []

    def value(self, level: int | None = None) -> int | None:
        if level is not None:
            self.levels.append(level)
        return None


def test_settings_refuse_what_the_board_could_not_use() -> None:
    good = settings.parse(json.dumps({"site": "alice", "device": "env-01", "mode": "wifi", "wifi": {"ssid": "lab"},
                                      "broker": "mqtt://bob:secret@192.168.1.10:1884"}))
    assert (good.host, good.port, good.user, good.password) == ("192.168.1.10", 1884, "bob", "secret")
    for bad, words in [({"site": "Alice", "device": "x"}, "site 'Alice' is not a valid id"),
                       ({"site": "a", "device": "x", "mode": "wifi", "broker": "mqtt://h"}, "wifi.ssid"),
                       ({"site": "a", "device": "x", "mode": "wifi", "wifi": {"ssid": "s"}, "broker": "h:1883"},
                        "must look like mqtt://"),
                       ({"site": "a", "device": "x", "mode": "serial", "interval": 0}, "interval"),
                       ({"site": "a", "device": "x", "kit": "tram", "mode": "serial"}, "kit 'tram'")]:
        with pytest.raises(ValueError, match=words):
            settings.Settings(bad)
    with pytest.raises(ValueError, match="not valid JSON"):
        settings.parse("{site: alice")


def test_commands_are_checked_whole_before_anything_changes() -> None:
    hal = FakeHal(seed=2)
    sensor_list, lamp = kits.build("street", hal)
    device = Device(config(), sensor_list, lamp, hal)
    assert device.command(b'{"set": {"dim": 40, "interval": 5}}') is None
    assert (lamp.dim, device.interval, hal.pwms[0].duty) == (40.0, 5, int(0.16 * 65535))
    for payload, words in [(b'{"set": {"dim": 140}}', "from 0 to 100"), (b'{"set": {"on": "yes"}}', "true or false"),
                           (b'{"set": {"dim": 10, "colour": 1}}', "no setting 'colour'"), (b"\xff", "not JSON"),
                           (b'{"dim": 3}', "{\"set\""), (b'{"set": {"interval": true}}', "interval")]:
        assert words in device.command(payload)
    assert lamp.dim == 40.0  # the half-valid command changed nothing
    assert device.command(b'{"set": {"on": false}}') is None and hal.pwms[0].duty == 0
    state = contract.validate_message("citylab/fw/kit-01/state", device.state().encode())
    assert {r.name: r.value for r in state.readings} == {"dim": 40.0, "on": False, "interval": 5.0}
    env = Device(config(kit="env"), *kits.build("env", hal), hal)
    assert "no setting 'dim'" in env.command(b'{"set": {"dim": 1}}')


def test_a_broken_sensor_does_not_silence_the_others() -> None:
    hal = FakeHal(seed=4)

    class Broken:
        def read(self):
            raise OSError("I2C bus stuck")

    device = Device(config(), [Broken(), sensors.Motion(hal.pin_in(27))], None, hal)
    text = device.telemetry(device.sample())
    assert [r.name for r in contract.validate_message("citylab/fw/kit-01/telemetry", text.encode()).readings] == ["motion"]
    assert device.sensor_errors == 1 and "I2C bus stuck" in device.last_error


def test_serial_link_prints_packs_and_obeys_command_lines() -> None:
    written: list[str] = []
    incoming = ['{"set": {"dim": 25}}', "garbage"]
    hal = FakeHal(seed=5, write=written.append, read=lambda: incoming.pop(0) if incoming else None)
    link = SerialLink(Device(config(), *kits.build("street", hal), hal), hal)
    link.start()
    link.step()
    states = [line[6:] for line in written if line.startswith("state ")]
    assert len(states) == 3  # at start, after the command, after the refused one
    assert json.loads(states[1])[0]["v"] == 25.0
    assert any(line.startswith("# command refused: the command is not JSON") for line in written)
    packs = [line for line in written if line.startswith("[")]
    assert len(packs) == 1
    contract.validate_message("citylab/fw/kit-01/telemetry", packs[0].encode())


def test_outbox_is_bounded_and_counts_what_it_dropped() -> None:
    box = Outbox(3)
    for i in range(5):
        box.put(i)
    assert (box.items, box.dropped) == ([2, 3, 4], 2)
    assert box.pop() == 2 and len(box) == 2
    with pytest.raises(ValueError):
        Outbox(0)


def test_backoff_grows_caps_jitters_and_resets() -> None:
    backoff = Backoff(first_ms=100, cap_ms=1000, jitter=0.2)
    delays = [backoff.next_ms() for _ in range(8)]
    assert 80 <= delays[0] <= 120 and 160 <= delays[1] <= 240
    assert all(800 <= d <= 1200 for d in delays[4:])
    assert len(set(delays[4:])) > 1  # jitter: thirty boards do not retry in the same millisecond
    backoff.reset()
    assert backoff.next_ms() <= 120
    assert math.isclose(sum(delays[4:]) / 4, 1000, rel_tol=0.2)


def test_serial_link_resends_its_state_for_a_bridge_started_later(monkeypatch: pytest.MonkeyPatch) -> None:
    from citylab_fw import serial_link

    monkeypatch.setattr(serial_link, "STATE_EVERY_MS", 50)
    written: list[str] = []
    hal = FakeHal(seed=6, write=written.append)
    link = SerialLink(Device(config(interval=60), *kits.build("street", hal), hal), hal)
    link.start()
    for _ in range(4):
        hal.sleep_ms(60)
        link.step()
    assert sum(line.startswith("state ") for line in written) == 5  # at start, then every 50 ms


def test_a_broker_refusing_the_kit_is_retried_not_fatal() -> None:
    from citylab_fw.mqtt_link import MqttLink

    class MQTTException(Exception):  # what umqtt.simple raises on a refused CONNACK
        pass

    class Refusing:
        def set_callback(self, cb): pass
        def set_last_will(self, *args): pass
        def connect(self): raise MQTTException(5)  # 5: not authorised
        def sock_close(self): pass

    hal = FakeHal(seed=8, mqtt_factory=lambda *args: Refusing())
    cfg = settings.Settings({"site": "fw", "device": "kit-01", "kit": "env", "mode": "wifi", "wifi": {"ssid": "lab"},
                             "broker": "mqtt://user:wrong@10.0.0.1"})
    link = MqttLink(Device(cfg, *kits.build("env", hal), hal), hal, cfg, Backoff(first_ms=1, cap_ms=2))
    for _ in range(3):
        link.step()
        hal.sleep_ms(5)
    assert link.client is None and link.backoff.failures == 3 and len(link.outbox) == 1
    assert any("cannot connect: MQTTException(5" in text for text in hal.logs)
