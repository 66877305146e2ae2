"""`citylab bridge serial` as a command: a virtual kit in, a summary line out, refused lines in the data folder."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

import pytest

from citylab.config import load_settings
from citylab.mqtt import BrokerAddress
from firmware_bridge import commands
from firmware_bridge.emulator import PtyLine, VirtualKit
from firmware_bridge.errors import SerialPortError


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="citylab")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true")
    common.add_argument("--data", dest="data_dir", type=Path)
    commands.register(parser.add_subparsers(), common)
    args = parser.parse_args(list(argv))
    return args.run(args, load_settings(vars(args), env={}))


def test_bridge_command_carries_a_kit_and_writes_refused_lines(mosquitto: BrokerAddress, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    kit = VirtualKit("env", "br-cli", "env-01", interval=0.2).start()
    noisy = PtyLine()
    # Sent once the bridge has the port open (pyserial empties the input queue when it opens).
    timer = threading.Timer(0.8, lambda: noisy.write_raw(b"\xff\xfe garbage\n"))
    timer.start()
    try:
        code = cli("bridge", "serial", "--port", kit.path, "--port", noisy.path, "--site", "br-cli",
                   "--broker", mosquitto.url, "--data", str(tmp_path), "--duration", "1.5")
    finally:
        timer.join()
        kit.stop()
        noisy.close()
    out = capsys.readouterr()
    assert code == 0
    assert f"bridging {kit.path}, {noisy.path} to {mosquitto.url} for site 'br-cli'" in out.out
    summary = out.out.strip().splitlines()[-1]
    published = int(summary.split("published ")[1].split(",")[0])
    assert published >= 3, summary
    assert "refused 1 (json 1)" in summary or "refused 1 (senml 1)" in summary, summary
    [letter] = (tmp_path / "bridge-dead-letters.jsonl").read_text().splitlines()
    assert "not UTF-8" in letter and noisy.path in letter
    assert "line refused" in out.err and out.err.count("\n") == 1  # one readable line on stderr


def test_bridge_command_with_no_kit_on_usb_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    from firmware_bridge import discovery

    monkeypatch.setattr(discovery.list_ports, "comports", lambda: [])  # whatever this machine has plugged in
    with pytest.raises(SerialPortError, match="data cable"):
        cli("bridge", "serial", "--port", "auto", "--site", "alice", "--broker", "mqtt://127.0.0.1:1")


def test_port_auto_picks_up_a_kit_plugged_in_later(mosquitto: BrokerAddress, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import time

    from serial.tools.list_ports_common import ListPortInfo

    from firmware_bridge import discovery

    first = VirtualKit("env", "br-auto", "env-01", interval=0.2).start()
    second = VirtualKit("street", "br-auto", "lamp-01", interval=0.2, seed=2).start()
    plugged_at = time.monotonic() + 1.0

    def usb_port(path: str) -> ListPortInfo:
        info = ListPortInfo(path, skip_link_detection=True)
        info.vid, info.pid = 0x10C4, 0xEA60  # a CP210x, as on an ESP32 DevKitC
        return info

    def comports() -> list[ListPortInfo]:
        ports = [usb_port(first.path)]
        if time.monotonic() >= plugged_at:  # the second kit is plugged in a second after the start
            ports.append(usb_port(second.path))
        return ports

    monkeypatch.setattr(discovery.list_ports, "comports", comports)
    try:
        assert cli("bridge", "serial", "--port", "auto", "--site", "br-auto", "--broker", mosquitto.url,
                   "--data", str(tmp_path), "--duration", "3.5") == 0
    finally:
        first.stop()
        second.stop()
    out = capsys.readouterr().out
    assert f"bridging {first.path} to" in out  # only the first kit at the start
    summary = out.strip().splitlines()[-1]
    for kit in (first, second):
        lines = int(summary.split(f"{kit.path}: ")[1].split(" lines")[0])
        assert lines >= 2, summary  # ... and both carried by the end
