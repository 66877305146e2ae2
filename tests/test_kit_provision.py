"""Provisioning and flashing without a board: the config, the mpremote commands, the errors; the CLI."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from citylab.config import load_settings
from firmware_bridge import commands
from firmware_bridge.errors import KitConfigError, ProvisionError
from firmware_bridge.paths import FIRMWARE_DIR
from firmware_bridge.provision import flash, kit_config, provision


def cli(*argv: str) -> int:
    """The kit commands as the lead will register them in citylab.cli."""
    parser = argparse.ArgumentParser(prog="citylab")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true")
    common.add_argument("--data", dest="data_dir", type=Path)
    commands.register(parser.add_subparsers(), common)
    args = parser.parse_args(list(argv))
    return args.run(args, load_settings(vars(args), env={}))


def test_kit_config_is_checked_by_the_contract_and_the_firmware() -> None:
    config = kit_config("alice", "env-01", "env", ssid="lab", wifi_password="pw", broker="mqtt://192.168.1.10:1883")
    assert config["site"] == "alice" and config["wifi"] == {"ssid": "lab", "password": "pw"}
    for kwargs, words in [(dict(site="Alice"), "site 'Alice'"), (dict(ssid=""), "--wifi SSID"),
                          (dict(broker=""), "not 127.0.0.1"), (dict(broker="http://x"), "mqtt://"),
                          (dict(interval=0), "interval")]:
        args = dict(site="alice", device="env-01", kit="env", ssid="lab", broker="mqtt://10.0.0.1") | kwargs
        with pytest.raises(KitConfigError, match=words):
            kit_config(args.pop("site"), args.pop("device"), args.pop("kit"), **args)
    assert kit_config("alice", "env-01", mode="serial")["mode"] == "serial"  # no Wi-Fi needed on USB


def test_provision_writes_config_json_through_mpremote() -> None:
    seen: list[dict] = []

    def fake_run(command: list[str]) -> subprocess.CompletedProcess:
        local = Path(command[command.index("cp") + 1])
        seen.append({"command": command, "config": json.loads(local.read_text()), "mode": local.stat().st_mode})
        return subprocess.CompletedProcess(command, 0, "", "")

    config = kit_config("alice", "env-01", ssid="lab", wifi_password="secret", broker="mqtt://10.0.0.1:1883")
    provision("/dev/ttyUSB0", config, run=fake_run)
    assert seen[0]["command"][-6:] == ["connect", "/dev/ttyUSB0", "fs", "cp", seen[0]["command"][-2], ":config.json"]
    assert seen[0]["config"]["wifi"]["password"] == "secret"
    assert seen[0]["mode"] & 0o077 == 0  # the Wi-Fi password is readable by its owner only


def test_provision_on_a_missing_board_says_what_to_check() -> None:
    config = kit_config("alice", "env-01", mode="serial")
    with pytest.raises(ProvisionError, match="is the board plugged in"):
        provision("/dev/ttyNOPE0", config)  # the real mpremote, on a port that does not exist


def test_flash_copies_the_board_files_only() -> None:
    commands_run = flash("/dev/ttyUSB0", dry_run=True)
    copy = commands_run[1]
    targets = [copy[i + 1] for i, word in enumerate(copy) if word.startswith(str(FIRMWARE_DIR))]
    assert ":main.py" in targets and ":citylab_fw/hal.py" in targets and ":citylab_fw/mqtt_link.py" in targets
    assert not any("hal_fake" in t or "umqtt_compat" in t for t in targets)  # computer-only files stay home
    assert commands_run[-1][-1] == "reset"
    calls: list[list[str]] = []

    def already_there(command: list[str]) -> subprocess.CompletedProcess:
        calls.append(command)
        failed = "mkdir" in command
        return subprocess.CompletedProcess(command, 1 if failed else 0, "", "mkdir: EEXIST: exists" if failed else "")

    flash("/dev/ttyUSB0", run=already_there)
    assert len(calls) == 3  # a second flash over an existing citylab_fw/ carries on


def test_cli_kit_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("kit", "flash", "--port", "/dev/ttyUSB0", "--dry-run") == 0
    assert "mpremote connect /dev/ttyUSB0" in capsys.readouterr().out
    assert cli("kit", "provision", "--port", "/dev/ttyUSB0", "--site", "alice", "--device", "lamp-01", "--kit",
               "street", "--mode", "serial", "--dry-run") == 0
    assert ":config.json" in capsys.readouterr().out
    with pytest.raises(KitConfigError, match="--wifi SSID"):
        cli("kit", "provision", "--port", "/dev/ttyUSB0", "--site", "alice", "--device", "env-01")


def test_cli_emulate_prints_the_port_to_bridge(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("kit", "emulate", "--kit", "street", "--site", "alice", "--duration", "0.5", "--interval", "0.2") == 0
    out = capsys.readouterr().out
    assert "citylab bridge serial --port /dev/pts/" in out and "--site alice" in out


def test_citylab_kit_emulate_runs_as_a_program(tmp_path: Path) -> None:
    code = ("import sys; from citylab.config import load_settings; sys.argv[0] = 'citylab';"
            "import test_kit_provision as t; raise SystemExit(t.cli(*sys.argv[1:]))")
    link = tmp_path / "kit"
    process = subprocess.Popen([sys.executable, "-c", code, "kit", "emulate", "--link", str(link), "--interval", "0.2",
                                "--duration", "1.5"], cwd=Path(__file__).parent, stdout=subprocess.PIPE, text=True)
    try:
        first = process.stdout.readline()
        assert str(link) in first
        import serial

        with serial.serial_for_url(str(link), timeout=3) as port:
            line = port.readline()
            while line.startswith((b"#", b"state")):  # the greeting and the state come first
                line = port.readline()
        assert line.startswith(b"[") and b"urn:citylab:demo:env-01:" in line
    finally:
        process.wait(10)
    assert process.returncode == 0


def test_emulated_kit_in_wifi_mode_publishes_itself(mosquitto) -> None:
    import time

    from citylab import contract, mqtt
    from firmware_bridge.emulator import VirtualKit

    seen: list[tuple[str, bytes]] = []
    client = mqtt.make_client("test-emu")
    client.on_message = lambda c, u, m: seen.append((m.topic, bytes(m.payload)))
    client.on_connect = lambda c, u, f, r, p: c.subscribe("citylab/emu-wifi/#", qos=1)
    mqtt.connect(client, mosquitto)
    mqtt.wait_connected(client, mosquitto)
    time.sleep(0.1)
    kit = VirtualKit("env", "emu-wifi", "env-07", interval=0.2, mode="wifi", broker=mosquitto.url).start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and sum(t.endswith("/telemetry") for t, _ in seen) < 2:
        time.sleep(0.05)
    kit.stop()
    time.sleep(0.3)
    mqtt.stop(client)
    telemetry = [contract.validate_message(t, p) for t, p in seen if t.endswith("/telemetry")]
    assert len(telemetry) >= 2 and {r.name for r in telemetry[0].readings} >= {"temperature", "pm2_5", "noise"}
    assert [p for t, p in seen if t.endswith("/status")] == [b"online", b"offline"]
    assert kit.error is None
