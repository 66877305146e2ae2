"""Sim labs (``kind = "sim"``): the trainee's controller against a seeded virtual city.

The grader starts a broker (its own unless given one), a Recorder on the
site, the trainee's program, and then a ``SimulatorService`` running the
lab's city (``scenario`` in lab.toml, a city file in the lab's folder) for
the site. The city's seed comes from the lab and the site (``seed_for``), so
each trainee gets their own clouds and passers-by, and two gradings of one
submission see the same city. The city runs at ``SPEED``: the lab's window
of wall time covers ``window_seconds * SPEED`` simulated seconds.

After the window the simulator is stopped first, so its ground-truth KPIs
(energy used, say) cover exactly the recorded span, then the program is
killed. The checks get a ``SimRun``: the ``Run`` of a device lab plus the
city and the KPIs.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from citylab import contract, mqtt
from citylab.errors import BrokerError, ConfigError, LabError
from citylab.recorder import Recorder
from citylab.stores import SQLiteStore
from labs.catalogue import Lab
from labs.engine.analysis import seed_for
from labs.engine.guard import start_guard
from labs.engine.lagprobe import LagProbe
from labs.engine.observe import wait_for_connection
from labs.engine.recording import Run
from labs.engine.runner import SolutionProcess, solution_env
from simulator import City, SimulatorService, load_city

# Simulated seconds per wall second: a lab's 8 s window is 2 simulated hours,
# an evening from dusk into the night. Faster (1300x was tried) let a
# controller short of CPU fall simulated minutes behind on a busy 2-core
# machine and lose points that were the grader's fault.
SPEED = 900.0
# The program's head start before the city's clock runs: until it holds a
# connection to the broker (at most STARTUP_S, for a program that never
# connects), then SUBSCRIBE_GRACE_S to subscribe, so its first readings are
# not lost. A fixed 1.5 s was the rule before; Python and paho usually connect
# in half that, and a loaded machine gets the longer wait it needs.
STARTUP_S = 3.0
SUBSCRIBE_GRACE_S = 0.3
# The grader's own delay it tolerates before calling a grading disturbed (labs/engine/lagprobe.py):
# a probe's worst round trip through the broker, in wall seconds.
LAG_BUDGET_S = 0.25
# Messages still on their way from the broker to the recorder when the simulator stops.
DRAIN_S = 0.3


@dataclass(frozen=True)
class SimRun(Run):
    """A sim lab's run: the recording, and what the simulator knows to be true."""

    city: City | None = None
    kpis: dict[str, Any] = field(default_factory=dict)
    speed: float = SPEED

    def readings(self, device: str, name: str | None = None) -> list[dict[str, Any]]:
        """A device's valid telemetry readings ``{name, unit, time, value, ...}``, oldest first."""
        rows = self.store.readings(self.site, device, name=name, limit=1_000_000)
        return sorted(rows, key=lambda r: (r["time"], r["name"]))

    def local(self, unix_time: float) -> str:
        """A simulated instant as the city's clock shows it, like '19:42'."""
        assert self.city is not None
        return self.city.local_time(unix_time).strftime("%H:%M")


def city_of(lab: Lab) -> City:
    if not lab.scenario:
        raise LabError(f"lab {lab.id} is a sim lab but its lab.toml names no scenario (a city file)")
    try:
        return load_city(lab.folder / lab.scenario)
    except ConfigError as exc:
        raise LabError(f"lab {lab.id}: its city cannot be loaded: {exc}") from exc


def observe_sim(lab: Lab, site: str, solution: Path, broker: mqtt.BrokerAddress, workdir: Path,
                recorder_qos: int, progress: Callable[[str], None], foreign: bool = False) -> SimRun:
    """Run the program against the lab's city for the lab's window; return the SimRun."""
    city = city_of(lab)
    seed = seed_for(lab.id, site)
    store = SQLiteStore(workdir / "run.sqlite")
    recorder = Recorder(broker, store, contract.subscription(site), qos=recorder_qos).start()
    sandbox = workdir / "solution"
    sandbox.mkdir()
    process = SolutionProcess(solution, solution_env(broker.url, site, lab.device, sandbox), sandbox)
    service: SimulatorService | None = None
    kpis: dict[str, Any] = {}
    probe = LagProbe(broker)
    lag = 0.0
    # The simulator publishes on the site too: the flood count leaves its messages out.
    guard = start_guard(broker, site, lab.window_seconds, process.kill, foreign=foreign,
                        grader_published=lambda: service.published if service is not None else 0)
    try:
        progress(f"running {solution.name} as '{lab.device}' of site '{site}' on {broker.url}, "
                 f"against {city.name} for {lab.window_seconds:.0f} s ({lab.window_seconds * SPEED / 3600:.1f} "
                 f"simulated hours)...")
        started = time.time()
        process.start()
        # Built while the program starts up, not before: the city and its
        # value tables cost this process about 0.1 s of CPU, which the
        # program's own start (Python, paho, connecting) hides.
        service = SimulatorService(broker, city, site=site, seed=seed, speed=SPEED)
        if wait_for_connection(process, broker.port, started + STARTUP_S):
            process.wait(SUBSCRIBE_GRACE_S)
        try:
            probe.start()
            service.start()
        except BrokerError as exc:
            raise LabError(f"the simulator could not start on {broker.url}: {exc}") from exc
        try:
            process.wait(lab.window_seconds)
        finally:
            service.stop()
            lag = probe.stop()
            kpis = service.kpis()
        time.sleep(DRAIN_S)
        ended = time.time()
        process.kill()
        info = process.info()
        if info.ended_early:
            ended = started + info.ran_s
    finally:
        process.kill()
        probe.stop()
        guard.stop()
        recorder.stop()
    remarks = guard.remarks()
    disturbed = lag > LAG_BUDGET_S
    if disturbed:
        remarks += (f"the grader was short of CPU during this grading (its own messages took up to {lag:.2f} s "
                    f"through the broker, {lag * SPEED / 60:.0f} simulated minutes): a timing check may have "
                    f"failed through no fault of yours; grade again",)
    return SimRun(
        lab_id=lab.id, site=site, device=lab.device, store=store,
        solution=dataclasses.replace(info, remarks=remarks, grader_lag_s=round(lag, 3), disturbed=disturbed),
        started=started, ended=ended, window_s=lab.window_seconds, city=city, kpis=kpis,
        findings=tuple(guard.findings()),
    )
