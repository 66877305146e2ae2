"""The citylab command as a user runs it: a real process, real ports, real brokers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from citylab.broker import free_port
from citylab.mqtt import BrokerAddress

ROOT = Path(__file__).resolve().parents[1]


def citylab(*args: str, data: Path, **kwargs) -> subprocess.Popen[str]:
    env = {**os.environ, "CITYLAB_DATA": str(data), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "citylab.cli", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, **kwargs)


def run_citylab(*args: str, data: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    process = citylab(*args, data=data)
    out, err = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def read_until(process: subprocess.Popen[str], marker: str, timeout: float) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    os.set_blocking(process.stdout.fileno(), False)
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line:
            lines.append(line)
            if marker in line:
                return lines
        elif process.poll() is not None:
            break
        else:
            time.sleep(0.05)
    raise AssertionError(f"no {marker!r} in output: {''.join(lines)} / {process.stderr.read() if process.stderr else ''}")


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("citylab: error:")]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize("use_mosquitto", [False, True], ids=["embedded-broker", "mosquitto"])
def test_up_shows_live_values_and_stops_on_ctrl_c(use_mosquitto: bool, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    http_port = free_port()
    args = ["up", "--http-port", str(http_port), "--speed", "10"]
    if use_mosquitto:
        broker: BrokerAddress = request.getfixturevalue("mosquitto")
        args += ["--broker", broker.url]
    else:
        args += ["--mqtt-port", str(free_port())]
    started = time.monotonic()
    process = citylab(*args, data=tmp_path)
    try:
        banner = "".join(read_until(process, "Press Ctrl-C", timeout=20))
        assert f"http://127.0.0.1:{http_port}" in banner
        # Live values within 10 s of start, through broker, recorder and store.
        devices: list = []
        while time.monotonic() - started < 10 and not any(d["telemetry"] for d in devices):
            time.sleep(0.3)
            devices = get_json(f"http://127.0.0.1:{http_port}/api/devices")  # type: ignore[assignment]
        with_values = [d for d in devices if d["telemetry"]]
        assert len(with_values) >= 3, devices
        kinds = {name for d in with_values for name in d["telemetry"]}
        assert {"temperature", "pm2_5", "power"} <= kinds, kinds
        assert (tmp_path / "citylab.sqlite").exists()
        stop_sent = time.monotonic()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
        assert time.monotonic() - stop_sent < 5, "Ctrl-C must stop everything within 5 s"
        assert process.returncode == 0, err
        assert "citylab stopped." in out
        assert "Traceback" not in err
        # The port is free again (as a server binds it: TIME_WAIT is no obstacle).
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("127.0.0.1", http_port))
    finally:
        if process.poll() is None:
            process.kill()


def test_port_in_use_names_the_port_and_the_option(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_citylab("up", "--mqtt-port", str(port), "--http-port", str(free_port()), data=tmp_path)
    assert_one_line_error(result, f"port {port}", "--mqtt-port")


def test_dashboard_port_in_use_names_the_port_and_the_option(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_citylab("up", "--mqtt-port", str(free_port()), "--http-port", str(port), data=tmp_path)
    assert_one_line_error(result, f"port {port}", "--http-port")


def test_broker_down_at_start_is_retried_then_a_clear_error(tmp_path: Path) -> None:
    port = free_port()
    result = run_citylab("record", "--broker", f"mqtt://127.0.0.1:{port}", data=tmp_path)
    assert_one_line_error(result, f"mqtt://127.0.0.1:{port}", "is it running?")


def test_bad_broker_url_is_a_clear_error(tmp_path: Path) -> None:
    assert_one_line_error(run_citylab("sim", "--broker", "http://x", data=tmp_path), "mqtt://")


def test_unknown_lab_is_a_clear_error(tmp_path: Path) -> None:
    assert_one_line_error(run_citylab("labs", "show", "99-nothing", data=tmp_path), "99-nothing")
    solution = ROOT / "labs" / "01-mqtt-telemetry" / "solution" / "device.py"
    result = run_citylab("grade", "99-nothing", "--site", "alice", "--solution", str(solution), data=tmp_path)
    assert_one_line_error(result, "99-nothing")


def test_missing_solution_is_a_clear_error(tmp_path: Path) -> None:
    result = run_citylab("grade", "01-mqtt-telemetry", "--site", "alice", "--solution", str(tmp_path / "nope.py"),
                         data=tmp_path)
    assert_one_line_error(result, "nope.py")


def test_every_command_has_help(tmp_path: Path) -> None:
    for command in (["--help"], ["up", "--help"], ["sim", "--help"], ["record", "--help"], ["grade", "--help"],
                    ["labs", "--help"], ["labs", "list", "--help"], ["labs", "show", "--help"]):
        result = run_citylab(*command, data=tmp_path)
        assert result.returncode == 0 and "usage: citylab" in result.stdout, command


def test_labs_list_and_show(tmp_path: Path) -> None:
    listing = run_citylab("labs", "list", data=tmp_path)
    assert listing.returncode == 0 and "01-mqtt-telemetry" in listing.stdout
    shown = run_citylab("labs", "show", "01", data=tmp_path)
    assert shown.returncode == 0 and "last will" in shown.stdout.lower()


def test_grade_reference_solution_full_marks_as_json(tmp_path: Path) -> None:
    solution = ROOT / "labs" / "01-mqtt-telemetry" / "solution" / "device.py"
    result = run_citylab("grade", "01-mqtt-telemetry", "--site", "alice", "--solution", str(solution), "--json",
                         "--junit", str(tmp_path / "junit.xml"), data=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    graded = json.loads(result.stdout)
    assert graded["score"] == graded["max_score"] > 0
    assert (tmp_path / "junit.xml").read_text().startswith("<?xml")
    assert (tmp_path / "gradebook.sqlite").exists()
