"""The Raspberry Pi agent: the firmware's logic over gpiozero (mock pin factory) and smbus2's API, on Mosquitto."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPWMPin

from citylab import contract, mqtt
from citylab.mqtt import BrokerAddress
from firmware_bridge.paths import AGENT_DIR, use_firmware

use_firmware()
sys.path.insert(0, str(AGENT_DIR))

from citylab_agent.hal import PiHal  # noqa: E402
from citylab_fw import app, settings  # noqa: E402
from citylab_fw.hal_fake import FakeBME280Bus  # noqa: E402
from waiting import wait_until


class FakeSMBus:
    """smbus2.SMBus's two block calls over the fake BME280's registers."""

    def __init__(self, bus_number: int) -> None:
        assert bus_number == 1
        self.chip = FakeBME280Bus(random.Random(1))

    def read_i2c_block_data(self, address: int, register: int, length: int) -> list[int]:
        return list(self.chip.readfrom_mem(address, register, length))

    def write_i2c_block_data(self, address: int, register: int, data: list[int]) -> None:
        self.chip.writeto_mem(address, register, bytes(data))


@pytest.fixture
def pins():
    factory = MockFactory(pin_class=MockPWMPin)
    previous, Device.pin_factory = Device.pin_factory, factory
    yield factory
    factory.reset()
    Device.pin_factory = previous


def test_pi_agent_reads_bme280_and_pir_and_dims_the_led(pins: MockFactory, mosquitto: BrokerAddress) -> None:
    config = settings.Settings({"site": "rpi-test", "device": "pi-01", "kit": "rpi", "mode": "wifi", "interval": 0.2,
                                "wifi": {"ssid": "os"}, "broker": f"mqtt://{mosquitto.host}:{mosquitto.port}"})
    lines: list[str] = []
    hal = PiHal(smbus_factory=FakeSMBus, write=lines.append)
    link = app.make_link(config, hal)
    messages: list[tuple[str, bytes]] = []
    watcher = mqtt.make_client("test-pi")
    watcher.on_message = lambda c, u, m: messages.append((m.topic, bytes(m.payload)))
    watcher.on_connect = lambda c, u, f, r, p: c.subscribe("citylab/rpi-test/#", qos=1)
    mqtt.connect(watcher, mosquitto)
    mqtt.wait_connected(watcher, mosquitto)
    time.sleep(0.1)
    stop = threading.Event()
    thread = threading.Thread(target=link.run, args=(lambda: not stop.is_set(),), daemon=True)
    thread.start()
    pir = pins.pin(17)
    try:
        assert wait_until(lambda: any(t.endswith("/telemetry") for t, _ in messages))
        pir.drive_high()  # someone walks past
        assert wait_until(lambda: any(r.name == "motion" and r.value is True
                                      for t, p in messages if t.endswith("/telemetry")
                                      for r in contract.validate_message(t, p).readings))
        watcher.publish("citylab/rpi-test/pi-01/cmd", b'{"set": {"dim": 50}}', qos=1)
        assert wait_until(lambda: abs(pins.pin(18).state - 0.25) < 0.001)  # 50 % looks half as bright
    finally:
        stop.set()
        thread.join(5)
        mqtt.stop(watcher)
        hal.close()
    telemetry = [contract.validate_message(t, p) for t, p in messages if t.endswith("/telemetry")]
    values = {r.name: r.value for r in telemetry[0].readings}
    assert values["temperature"] == pytest.approx(25.08, abs=0.3) and values["pressure"] == pytest.approx(1006.5, abs=1)
    assert values["motion"] is False
    statuses = [p for t, p in messages if t.endswith("/status")]
    assert statuses[0] == b"online" and statuses[-1] == b"offline"
    assert json.loads([p for t, p in messages if t.endswith("/state")][-1])[0]["v"] == 50.0


def test_pi_agent_without_i2c_still_runs_and_says_how_to_fix_it(pins: MockFactory) -> None:
    def no_bus(number: int):
        raise FileNotFoundError("/dev/i2c-1")

    config = settings.Settings({"site": "rpi-test", "device": "pi-02", "kit": "rpi", "mode": "serial"})
    lines: list[str] = []
    commands = ['{"set": {"dim": 60}}']
    hal = PiHal(smbus_factory=no_bus, write=lines.append, read=lambda: commands.pop(0) if commands else None)
    link = app.make_link(config, hal)
    link.start()
    link.step()
    hal.close()
    assert any("raspi-config" in line for line in lines)
    states = [json.loads(line[6:]) for line in lines if line.startswith("state ")]
    assert states[-1][0]["v"] == 60.0  # serial mode obeys commands on stdin, like the ESP32 on USB
    packs = [line for line in lines if line.startswith("[")]
    readings = contract.validate_message("citylab/rpi-test/pi-02/telemetry", packs[0].encode()).readings
    assert [r.name for r in readings] == ["motion"]


def test_pi_agent_refuses_a_bad_config_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text('{"site": "Alice", "device": "pi-01", "kit": "rpi", "mode": "serial"}')
    result = subprocess.run([sys.executable, "-m", "citylab_agent", "--config", str(config)], cwd=AGENT_DIR,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "site 'Alice' is not a valid id" in result.stderr


def test_pi_agent_program_in_serial_mode_obeys_stdin(tmp_path: Path) -> None:
    import os

    config = tmp_path / "config.json"
    config.write_text('{"site": "rpi-test", "device": "pi-03", "kit": "rpi", "mode": "serial", "interval": 0.2}')
    env = dict(os.environ, GPIOZERO_PIN_FACTORY="mock", GPIOZERO_MOCK_PIN_CLASS="mockpwmpin")
    process = subprocess.Popen([sys.executable, "-m", "citylab_agent", "--config", str(config)], cwd=AGENT_DIR,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        first = [process.stdout.readline() for _ in range(3)]
        process.stdin.write('{"set": {"dim": 30, "on": false}}\n')
        process.stdin.flush()
        later = [process.stdout.readline() for _ in range(8)]
    finally:
        process.terminate()
        process.wait(10)
    packs = [line for line in first + later if line.startswith("[")]
    assert packs and all(contract.validate_message("citylab/rpi-test/pi-03/telemetry", p.strip().encode())
                         for p in packs)
    states = [json.loads(line[6:]) for line in later if line.startswith("state ")]
    assert states and {r["n"]: r.get("v", r.get("vb")) for r in states[-1]} == {"dim": 30.0, "on": False,
                                                                               "interval": 0.2}
    assert process.returncode == 0  # SIGTERM stops it cleanly
