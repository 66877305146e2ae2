"""``--target kit``: labs 01 and 02 graded against emulated kits, with the same checks as on sim.

Lab 01: the kit is a program started by the test as a separate process (the
reference, or a known-wrong device), as a kit runs its own code; the test
plays the person at the kit: it starts the program when the grader says
"switch your kit on" and SIGKILLs it (the power cut) when the grader says
"now cut the kit's power". Lab 02: ``VirtualKit`` (what ``citylab kit
emulate`` runs: the kit firmware behind a real pty) is the kit on a serial
port; the grader runs the trainee's bridge, fed from that port with its own
noise added. Reference and kit: full marks; a known fault: exactly its points.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import pytest

from citylab.errors import LabError
from citylab.mqtt import BrokerAddress
from firmware_bridge.emulator import VirtualKit
from labs import GradeResult, get_lab, grade
from labs.engine import KitOptions

LAB1 = get_lab("01-mqtt-telemetry")
LAB2 = get_lab("02-serial-sensor")


class PersonAtKit:
    """Switches the 'kit' (a device program) on and cuts its power when the grader asks."""

    def __init__(self, program: Path, broker: BrokerAddress, site: str, power_on: bool = True) -> None:
        self.program, self.broker, self.site, self.power_on = program, broker, site, power_on
        self.process: subprocess.Popen[bytes] | None = None
        self.asked: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, action: str) -> None:
        self.asked.append(action)
        if action == "power-on" and self.power_on:
            env = {**os.environ, "CITYLAB_BROKER": self.broker.url, "CITYLAB_SITE": self.site,
                   "CITYLAB_DEVICE": LAB1.device}
            self.process = subprocess.Popen([sys.executable, str(self.program)], env=env,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        elif action == "power-off":
            self.cut()

    def cut(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)  # no DISCONNECT: the broker publishes the will
            self.process.wait()


def kit_grading(program: Path, broker: BrokerAddress, site: str, will_wait: float = 10.0,
                power_on: bool = True) -> tuple[GradeResult, PersonAtKit, list[str]]:
    person = PersonAtKit(program, broker, site, power_on)
    lines: list[str] = []
    try:
        result = grade(LAB1.id, site, None, broker, target="kit", progress=lines.append,
                       kit=KitOptions(prompt=person, start_wait_s=5.0 if not power_on else 30.0,
                                      will_wait_s=will_wait))
    finally:
        person.cut()
    return result, person, lines


@pytest.fixture(scope="module")
def lab01(mosquitto: BrokerAddress) -> dict[str, tuple[GradeResult, PersonAtKit, list[str]]]:
    jobs: dict[str, Callable[[], tuple[GradeResult, PersonAtKit, list[str]]]] = {
        "reference": lambda: kit_grading(LAB1.solution, mosquitto, "kit-ref"),
        "wrong-unit": lambda: kit_grading(LAB1.folder / "wrong" / "wrong_unit.py", mosquitto, "kit-unit"),
        "no-last-will": lambda: kit_grading(LAB1.folder / "wrong" / "no_last_will.py", mosquitto, "kit-nowill",
                                            will_wait=3.0),
        "never-on": lambda: kit_grading(LAB1.solution, mosquitto, "kit-off", power_on=False),
    }
    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = {name: pool.submit(job) for name, job in jobs.items()}
        return {name: future.result(timeout=120) for name, future in futures.items()}


def failed(result: GradeResult) -> dict[str, str]:
    return {c.name: c.feedback for c in result.checks if not c.passed}


def test_lab01_reference_kit_scores_full_marks(lab01: dict) -> None:
    result, person, lines = lab01["reference"]
    assert failed(result) == {} and (result.score, result.max_score) == (10, 10), result.render_text()
    assert result.target == "kit" and person.asked == ["power-on", "power-off"]
    assert any(line.startswith("switch your kit on now") for line in lines), lines
    assert any(line.startswith("now cut the kit's power (or unplug it): waiting up to 10 s for its last will")
               for line in lines), lines
    # No program of the grader's ran: the kit's code is not in the result.
    assert result.solution.returncode is None and result.solution.sha256 == ""


def test_lab01_kit_with_the_wrong_unit_loses_exactly_the_units_points(lab01: dict) -> None:
    result, _, _ = lab01["wrong-unit"]
    assert set(failed(result)) == {"test_units"} and result.score == 8, result.render_text()
    assert "used unit 'C' for temperature" in failed(result)["test_units"]


def test_lab01_kit_without_a_last_will_loses_exactly_the_last_will_points(lab01: dict) -> None:
    result, _, _ = lab01["no-last-will"]
    assert set(failed(result)) == {"test_last_will"} and result.score == 8, result.render_text()
    assert "no 'offline' status arrived after the device was cut off" in failed(result)["test_last_will"]


def test_lab01_a_kit_that_never_comes_on_is_told_what_to_look_at(lab01: dict) -> None:
    result, _, _ = lab01["never-on"]
    assert result.score == 0
    assert all("nothing arrived from your kit on citylab/kit-off/# in 5 s" in f for f in failed(result).values())


def test_lab01_on_a_kit_needs_the_kits_broker(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="needs --broker"):
        grade(LAB1.id, "alice", None, target="kit")
    with pytest.raises(LabError, match="needs --port"):
        grade(LAB2.id, "alice", LAB2.solution, target="kit")
    with pytest.raises(LabError, match="cannot open your kit's serial port '/nonexistent/tty'"):
        grade(LAB2.id, "alice", LAB2.solution, target="kit", kit=KitOptions(port="/nonexistent/tty"))


# --- lab 02: the virtual kit on a pty ------------------------------------------------------------


def serial_kit_grading(bridge: Path, broker: BrokerAddress, site: str,
                       kit_site: str | None = None) -> GradeResult:
    kit = VirtualKit(kit="env", site=kit_site or site, device=LAB2.device, interval=0.2, seed=7).start()
    try:
        return grade(LAB2.id, site, bridge, broker, target="kit", kit=KitOptions(port=kit.path))
    finally:
        kit.stop()


@pytest.fixture(scope="module")
def lab02(mosquitto: BrokerAddress) -> dict[str, GradeResult]:
    jobs = {
        "reference": (LAB2.solution, "kit2-ref"),
        "drops-partial-lines": (LAB2.folder / "wrong" / "drops_partial_lines.py", "kit2-partial"),
        "forwards-everything": (LAB2.folder / "wrong" / "forwards_everything.py", "kit2-all"),
    }
    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = {name: pool.submit(serial_kit_grading, path, mosquitto, site) for name, (path, site) in jobs.items()}
        return {name: future.result(timeout=120) for name, future in futures.items()}


def test_lab02_reference_bridge_on_the_kit_scores_full_marks(lab02: dict[str, GradeResult]) -> None:
    result = lab02["reference"]
    assert failed(result) == {} and (result.score, result.max_score) == (10, 10), result.render_text()
    assert result.target == "kit" and result.solution.returncode == -9


def test_lab02_dropping_partial_lines_on_the_kit_loses_exactly_its_points(lab02: dict[str, GradeResult]) -> None:
    result = lab02["drops-partial-lines"]
    assert set(failed(result)) == {"test_every_pack_once"} and result.score == 7, result.render_text()
    assert "reached your program in two pieces" in failed(result)["test_every_pack_once"]


def test_lab02_forwarding_noise_on_the_kit_loses_exactly_its_points(lab02: dict[str, GradeResult]) -> None:
    result = lab02["forwards-everything"]
    assert set(failed(result)) == {"test_no_garbage_published"} and result.score == 7, result.render_text()


def test_lab02_a_kit_provisioned_for_another_site_is_a_lab_error(mosquitto: BrokerAddress) -> None:
    with pytest.raises(LabError, match="provision the kit with citylab kit provision --site kit2-me --device env-02"):
        serial_kit_grading(LAB2.solution, mosquitto, "kit2-me", kit_site="someone-else")
