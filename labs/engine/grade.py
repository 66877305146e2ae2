"""``grade()``: one call that runs, observes and evaluates a trainee's solution."""

from __future__ import annotations

import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from citylab import contract
from citylab.broker import EmbeddedBroker, free_port
from citylab.errors import ContractError, LabError
from citylab.mqtt import BrokerAddress
from labs.catalogue import Lab, get_lab
from labs.engine.analysis import run_analysis
from labs.engine.observe import observe
from labs.engine.plugin import evaluate
from labs.engine.result import CheckResult, GradeResult, SolutionInfo, explain_failures


def _quiet(line: str) -> None:
    pass


def grade(
    lab_id: str,
    site: str,
    solution: Path | str,
    broker: BrokerAddress | None = None,
    target: str = "sim",
    progress: Callable[[str], None] | None = None,
    on_check: Callable[[CheckResult], None] | None = None,
) -> GradeResult:
    """Grade ``solution`` for lab ``lab_id`` as site ``site``; never hangs, whatever the solution does.

    With ``broker`` None the grader starts an embedded broker of its own on a
    free port and stops it afterwards. Raises LabError (or UnknownLabError)
    with a sentence when the grading cannot happen; a solution that crashes
    or never connects is graded, not an error. ``progress`` gets a line per
    stage; ``on_check`` gets each check's result as soon as it is known.
    """
    say = progress or _quiet
    lab = get_lab(lab_id)
    try:
        contract.Topic(site, lab.device, "status")
    except ContractError as exc:
        raise LabError(f"cannot grade for this site: {exc.reason}") from exc
    path = Path(solution)
    if not path.is_file():
        raise LabError(f"the solution file {str(path)!r} does not exist: give the path to your Python file, "
                       f"like --solution my_device.py")
    if target not in lab.targets:
        raise LabError(f"lab {lab.id} runs on {' or '.join(lab.targets)}, not on {target!r}")
    if target != "sim":
        # On a kit the device code runs on the kit, and cutting its power is
        # the trainee's part: not built in this first version of the grader.
        raise LabError(f"grading on a {target} is not available yet: use --target sim")

    started = datetime.now(timezone.utc)
    clock = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="citylab-grade-") as tmp:
        workdir = Path(tmp)
        if lab.kind == "analysis":
            # No broker: the program reads a dataset and writes an answer.
            analysis, note = run_analysis(lab, site, path, workdir, say)
            say(f"checking {lab.id}...")
            explain = explain_failures(note)
            checks = [explain(c) for c in evaluate(
                lab, analysis, workdir, on_check and (lambda check: on_check(explain(check))))]
            solution_info = analysis.solution
        elif lab.kind == "sim":
            from labs.engine.sim_lab import grade_sim  # here: the simulator loads only for sim labs
            checks, solution_info = grade_sim(lab, site, path, broker, workdir, say, on_check)
        elif lab.kind == "serial":
            from labs.engine.serial_lab import grade_serial
            checks, solution_info = grade_serial(lab, site, path, broker, workdir, say, on_check)
        else:
            checks, solution_info = _device(lab, site, path, broker, workdir, say, on_check)

    return GradeResult(
        lab_id=lab.id, site=site, target=target,
        score=sum(c.points for c in checks), max_score=sum(c.max_points for c in checks),
        checks=tuple(checks), started=started, duration_s=round(time.monotonic() - clock, 2),
        solution=solution_info,
    )


def _device(lab: Lab, site: str, path: Path, broker: BrokerAddress | None, workdir: Path,
            say: Callable[[str], None], on_check: Callable[[CheckResult], None] | None,
            ) -> tuple[list[CheckResult], SolutionInfo]:
    """A device lab: a broker (ours if none is given), the observed window, the checks."""
    own: EmbeddedBroker | None = None
    try:
        if broker is None:
            own = EmbeddedBroker("127.0.0.1", free_port()).start()
            broker = own.address
            say(f"started an embedded MQTT broker on {broker.url}")
        # amqtt waits for each PUBACK in turn under QoS 1; on our own
        # embedded broker, on localhost, QoS 0 loses nothing.
        run = observe(lab, site, path, broker, workdir, recorder_qos=0 if own else 1, progress=say)
        say(f"checking {lab.id}...")
        explain = explain_failures(run.solution.note())
        try:
            checks = [explain(c) for c in evaluate(
                lab, run, workdir, on_check and (lambda check: on_check(explain(check))))]
        finally:
            run.store.close()
    finally:
        if own is not None:
            own.stop()
    return checks, run.solution
