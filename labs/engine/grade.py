"""``grade()``: one call that runs, observes and evaluates a trainee's solution."""

from __future__ import annotations

import dataclasses
import hashlib
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from citylab import contract
from citylab.broker import EmbeddedBroker, free_port
from citylab.errors import ContractError, LabError
from citylab.mqtt import BrokerAddress
from labs.catalogue import Lab, get_lab
from labs.engine.analysis import grade_analysis
from labs.engine.observe import observe, recorder_qos as _qos
from labs.engine.plugin import check_run
from labs.engine.recording import Run
from labs.engine.result import CheckResult, GradeResult, SolutionInfo


def _quiet(line: str) -> None:
    pass


@dataclass(frozen=True)
class KitOptions:
    """How to grade on a trainee's kit (``target="kit"``).

    ``port``: a serial lab's kit port (the grader runs the bridge on it);
    ``prompt``: called with "power-on" and "power-off" when a device lab asks
    the person at the kit to act (labs/engine/kit.py); the waits bound them.
    """

    port: str | None = None
    prompt: Callable[[str], None] | None = None
    start_wait_s: float = 60.0
    will_wait_s: float = 60.0


def grade(
    lab_id: str,
    site: str,
    solution: Path | str | None,
    broker: BrokerAddress | None = None,
    target: str = "sim",
    progress: Callable[[str], None] | None = None,
    on_check: Callable[[CheckResult], None] | None = None,
    influx: str | None = None,
    kit: KitOptions | None = None,
    foreign: bool | None = None,
    recorder_qos: int | None = None,
) -> GradeResult:
    """Grade ``solution`` for lab ``lab_id`` as site ``site``; never hangs, whatever the solution does.

    With ``broker`` None the grader starts an embedded broker of its own on a
    free port and stops it afterwards. Raises LabError (or UnknownLabError)
    with a sentence when the grading cannot happen; a solution that crashes
    or never connects is graded, not an error. ``progress`` gets a line per
    stage; ``on_check`` gets each check's result as soon as it is known.
    ``influx`` is the InfluxDB 1.x URL for labs that need one (else the
    grader starts its own influxd).

    ``target="kit"``: a device lab watches the trainee's kit on ``broker``
    (required: the broker the kit is provisioned for) and runs no program
    (``solution`` may be None, or the file flashed, for the record); a serial
    lab runs the bridge on the kit's port, ``kit.port``. ``foreign``: report
    messages the program publishes under other sites; by default only when
    the grader owns the broker, where it knows every other publisher.
    ``recorder_qos``: the QoS the grader's recorder subscribes with on a given
    broker (default 1; a cohort's own embedded broker on localhost passes 0,
    since amqtt delivers QoS 1 one PUBACK at a time).
    """
    say = progress or _quiet
    lab = get_lab(lab_id)
    try:
        contract.Topic(site, lab.device, "status")
    except ContractError as exc:
        raise LabError(f"cannot grade for this site: {exc.reason}") from exc
    if target not in lab.targets:
        raise LabError(f"lab {lab.id} runs on {' or '.join(lab.targets)}, not on {target!r}")
    on_kit = target == "kit"
    kit = kit or KitOptions()
    if on_kit and lab.kind not in ("device", "serial"):
        raise LabError(f"lab {lab.id} is a {lab.kind} lab: it cannot be graded on a kit")
    if on_kit and lab.kind == "device" and broker is None:
        raise LabError("grading on a kit needs --broker: the broker your kit is provisioned for, "
                       "like --broker mqtt://192.168.1.10:1883")
    if on_kit and lab.kind == "serial" and not kit.port:
        raise LabError("grading a serial lab on a kit needs --port: your kit's serial port, like --port /dev/ttyUSB0")
    path = Path(solution) if solution is not None else None
    if path is None and not (on_kit and lab.kind == "device"):
        raise LabError("give the Python file to grade, like --solution my_device.py")
    if path is not None and not path.is_file():
        raise LabError(f"the solution file {str(path)!r} does not exist: give the path to your Python file, "
                       f"like --solution my_device.py")
    # The hash of the file as it was when the grading began: the gradebook's "which code".
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest() if path is not None else ""

    started = datetime.now(timezone.utc)
    clock = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="citylab-grade-") as tmp:
        workdir = Path(tmp)
        if on_kit and lab.kind == "device":
            from labs.engine.kit import observe_kit

            assert broker is not None
            run = observe_kit(lab, site, broker, workdir, say, kit.prompt, kit.start_wait_s, kit.will_wait_s, path)
            checks, solution_info = _check(lab, run, workdir, say, on_check)
        elif lab.kind == "analysis":
            # No broker: the program reads a dataset and writes an answer (and may use InfluxDB).
            assert path is not None
            checks, solution_info = grade_analysis(lab, site, path, workdir, say, on_check, influx)
        else:
            assert path is not None
            solution = path
            if lab.kind == "sim":
                from labs.engine.sim_lab import observe_sim  # here: the simulator loads only for sim labs

                def run_on(address: BrokerAddress, qos: int, outside: bool) -> Run:
                    return observe_sim(lab, site, solution, address, workdir, recorder_qos=qos, progress=say,
                                       foreign=outside)
            elif lab.kind == "serial":
                from labs.engine.serial_lab import observe_serial
                port = kit.port if on_kit else None

                def run_on(address: BrokerAddress, qos: int, outside: bool) -> Run:
                    return observe_serial(lab, site, solution, address, workdir, recorder_qos=qos, progress=say,
                                          foreign=outside, port=port)
            else:
                def run_on(address: BrokerAddress, qos: int, outside: bool) -> Run:
                    return observe(lab, site, solution, address, workdir, recorder_qos=qos, progress=say,
                                   foreign=outside)
            checks, solution_info = _on_broker(lab, broker, workdir, say, on_check, foreign, recorder_qos, run_on)
    if sha256:
        solution_info = dataclasses.replace(solution_info, sha256=sha256)

    return GradeResult(
        lab_id=lab.id, site=site, target=target,
        score=sum(c.points for c in checks), max_score=sum(c.max_points for c in checks),
        checks=tuple(checks), started=started, duration_s=round(time.monotonic() - clock, 2),
        solution=solution_info,
    )


def _on_broker(lab: Lab, broker: BrokerAddress | None, workdir: Path, say: Callable[[str], None],
               on_check: Callable[[CheckResult], None] | None, foreign: bool | None, recorder_qos: int | None,
               run_on: Callable[[BrokerAddress, int, bool], Run]) -> tuple[list[CheckResult], SolutionInfo]:
    """Device, sim and serial labs alike: a broker (ours if none is given), the observed run, the checks.

    On our own broker every message is the program's or the grader's, so messages under another
    site are pinned on the program (``foreign``); on a shared one they cannot be.
    """
    own: EmbeddedBroker | None = None
    try:
        if broker is None:
            own = EmbeddedBroker("127.0.0.1", free_port()).start()
            broker = own.address
            say(f"started an embedded MQTT broker on {broker.url}")
        run = run_on(broker, _qos(own, recorder_qos), own is not None if foreign is None else foreign)
        return _check(lab, run, workdir, say, on_check)
    finally:
        if own is not None:
            own.stop()


def _check(lab: Lab, run: Run, workdir: Path, say: Callable[[str], None],
           on_check: Callable[[CheckResult], None] | None) -> tuple[list[CheckResult], SolutionInfo]:
    say(f"checking {lab.id}...")
    try:
        return check_run(lab, run, workdir, on_check), run.solution
    finally:
        run.store.close()

