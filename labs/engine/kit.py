"""Device labs on a kit (``--target kit``): watch the trainee's own device, then ask for its power cut.

The grader does not run the trainee's program: it runs on the kit, which
publishes to the broker it was provisioned for. The grader records the site
on that broker, exactly as for ``--target sim``, so the lab's checks are the
same, and asks the person at the kit for the two things only they can do:

1. "switch your kit on now (or press its reset button)": the grader has
   cleared the device's retained status, so the kit must announce itself
   ('online', retained) within this grading, as the checks require. The
   window (the lab's ``window_seconds``) starts at the kit's first message;
   if nothing arrives within ``start_wait`` the checks run on the empty
   recording and say so;
2. after the window, "now cut the kit's power (or unplug it)": the broker
   notices the lost connection (at once for a closed socket, or after 1.5
   keep-alive periods for a kit that simply lost power: 45 s with the
   firmware's 30 s) and publishes the last will. The grader waits up to
   ``will_wait`` for an 'offline' status, then probes what the broker retains.

``prompt`` receives "power-on" and "power-off" as the grader asks for them:
the CLI only prints the sentence; a test plays the person (starting and
SIGKILLing a program that stands in for the kit).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable

from citylab import contract, mqtt
from citylab.recorder import Recorder
from citylab.stores import SQLiteStore
from labs.catalogue import Lab
from labs.engine.guard import start_guard
from labs.engine.observe import WILL_GRACE_S, clear_retained, retained_snapshot
from labs.engine.recording import Run
from labs.engine.result import SolutionInfo

START_WAIT_S = 60.0
# 1.5 x the firmware's 30 s keep-alive, and a margin for a loaded broker.
WILL_WAIT_S = 60.0
_POLL_S = 0.1


def _nothing(action: str) -> None:
    pass


def observe_kit(lab: Lab, site: str, broker: mqtt.BrokerAddress, workdir: Path,
                progress: Callable[[str], None], prompt: Callable[[str], None] | None = None,
                start_wait: float = START_WAIT_S, will_wait: float = WILL_WAIT_S,
                solution: Path | None = None) -> Run:
    """Record the trainee's kit for the lab's window, ask for its power cut, wait for its will."""
    ask = prompt or _nothing
    device = lab.device
    site_filter = contract.subscription(site)
    status_topic = contract.topic(site, device, "status")
    clear_retained(broker, [status_topic, contract.topic(site, device, "state")])
    store = SQLiteStore(workdir / "run.sqlite")
    recorder = Recorder(broker, store, site_filter, qos=1).start()
    flooded = threading.Event()  # a kit cannot be killed: a flood ends the window instead
    window = lab.window_seconds
    guard = start_guard(broker, site, window, flooded.set, foreign=False)
    remarks: list[str] = []
    retained_mid: dict[str, str] = {}
    try:
        started = time.time()
        progress(f"switch your kit on now (or press its reset button): waiting up to {start_wait:.0f} s for "
                 f"device '{device}' of site '{site}' on {broker.url}...")
        ask("power-on")
        while guard.own == 0 and time.time() < started + start_wait:
            time.sleep(_POLL_S)
        if guard.own == 0:
            remarks.append(f"nothing arrived from your kit on citylab/{site}/# in {start_wait:.0f} s: is it "
                           f"powered, on the network, and provisioned for site '{site}', device '{device}' and "
                           f"the broker {broker.url}?")
            ended = time.time()
        else:
            first = time.time()
            progress(f"your kit is talking: recording it for {window:.0f} s...")
            while time.time() < first + window / 2 and not flooded.is_set():
                time.sleep(_POLL_S)
            retained_mid = retained_snapshot(broker, site_filter)
            while time.time() < first + window and not flooded.is_set():
                time.sleep(_POLL_S)
            ended = time.time()
            progress(f"now cut the kit's power (or unplug it): waiting up to {will_wait:.0f} s for its last will "
                     f"'offline' on {status_topic}...")
            ask("power-off")
            while time.time() < ended + will_wait and not _went_offline(store, site, device, ended):
                time.sleep(_POLL_S)
            time.sleep(WILL_GRACE_S if _went_offline(store, site, device, ended) else 0.0)
        retained_end = retained_snapshot(broker, site_filter)
    finally:
        guard.stop()
        recorder.stop()
    if flooded.is_set():
        remarks.append(f"the grader stopped recording your kit after {guard.flooded_after:.1f} s: it had "
                       f"published more than {guard.limit} messages")
    info = SolutionInfo(path=str(solution) if solution else f"kit '{device}' of site '{site}' on {broker.url}",
                        returncode=None, ran_s=round(ended - started, 2), ended_early=False,
                        remarks=tuple(remarks))
    return Run(lab_id=lab.id, site=site, device=device, store=store, solution=info,
               started=started, ended=ended, window_s=window, retained_mid=retained_mid,
               retained_end=retained_end, findings=tuple(guard.findings()))


def _went_offline(store: SQLiteStore, site: str, device: str, since: float) -> bool:
    return any(s["status"] == "offline" and s["received"] >= since for s in store.statuses(site, device))
