"""Serial labs (``kind = "serial"``): the program reads a kit over a serial line and bridges it to MQTT.

The grader plays the kit: a real pseudo-terminal (``firmware_bridge.emulator.PtyLine``,
the line ``citylab kit emulate`` uses) whose far end the program opens with
pyserial from ``CITYLAB_SERIAL``, exactly as it would open /dev/ttyUSB0. On
it the grader writes a script of SenML packs, one JSON pack a line, mixed
with the noise a real line carries: boot logs (``#`` lines), a pack cut off
by a reset, bursts of garbage bytes that are not UTF-8, and good packs that
arrive in two pieces. The script is seeded from the lab and the site, so two
gradings of one submission agree and two trainees see different numbers.

What the grader sent (every valid pack, with a unique temperature to know
it again, and every noise burst) goes into a ``SerialRun`` beside the
recording, so the checks compare what arrived with what was sent.

With a kit (``--target kit --port /dev/ttyUSB0``) the packs are the kit's
own: the grader opens the trainee's serial port, reads the kit's telemetry
lines and forwards them to the pty the bridge opens, with the same seeded
noise and split packs in between (``_Tap``). So every check keeps its
evidence and its points: the grader still knows each pack sent and each
burst of noise. Packs whose temperature repeats one already forwarded are
not forwarded (the checks know a pack by its temperature); the kit's log and
state lines are not forwarded either (the grader's noise stands for them).
The window ends when the script has been played, whatever the kit's pace.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from citylab import contract
from citylab.errors import LabError
from citylab.mqtt import BrokerAddress
from citylab.recorder import Recorder
from citylab.stores import SQLiteStore
from firmware_bridge.emulator import PtyLine
from labs.catalogue import Lab
from labs.engine.guard import start_guard
from labs.engine.observe import clear_retained
from labs.engine.recording import Run
from labs.engine.runner import SolutionProcess, solution_env

# Time between two writes on the line: fast enough to fit the script in a
# few seconds, slow enough that a program polling every 0.1 s reads the
# two halves of a split pack separately (which is what the split is for).
STEP_S = 0.1
# The gap inside a split pack: a USB-serial adapter flushing mid-line.
SPLIT_GAP_S = 0.3
# How long the grader waits for the program to open the port before it
# starts the script anyway. pyserial flushes the input when it opens the
# port, so a script written before that would be lost through no fault of
# the program.
OPEN_WAIT_S = 6.0
# After the program has opened the port, time to finish its own start-up
# (connecting to the broker) before the first pack.
OPEN_GRACE_S = 0.5
# A kit: how long the grader waits for its next distinct pack before it gives up,
# and the longest a kit grading may take (a kit sending every 2 s takes about 35 s).
KIT_PACK_WAIT_S = 15.0
KIT_WINDOW_MAX_S = 240.0


@dataclass(frozen=True)
class SentPack:
    """A valid pack the kit wrote: its line, when, and the temperature that identifies it."""

    line: str
    sent: float
    temperature: float
    split: bool = False


@dataclass(frozen=True)
class Noise:
    """A burst of noise the kit wrote, and what it was, for the feedback."""

    kind: str  # "log", "truncated", "garbage", "bad-utf8"
    data: bytes
    sent: float


@dataclass(frozen=True)
class SerialRun(Run):
    """A Run, plus what the kit sent on the serial line."""

    sent: tuple[SentPack, ...] = ()
    noise: tuple[Noise, ...] = ()
    port_opened: bool = False


def _script(lab: Lab, site: str) -> list[tuple[str, object]]:
    """The steps of the kit: ("pack", split) or ("noise", (kind, bytes)), seeded by lab and site."""
    rng = random.Random(f"{lab.id}:{site}")
    garbage = bytes(rng.choice([b for b in range(256) if b != 0x0A]) for _ in range(40))
    # At least one byte that is never UTF-8, wherever the random ones fall.
    garbage = garbage[:10] + b"\xff\xfe" + garbage[10:]
    noise: list[tuple[str, bytes]] = [
        # ASCII noise first: a program that cannot decode bad bytes still
        # gets to show that it frames lines and skips what is not a pack.
        ("log", f"# boot: citylab-fw 1.4 on {lab.device}, sensor ok".encode()),
        ("truncated", b'[{"bn":"urn:citylab:' + site.encode() + b':' + lab.device.encode() + b':","bt":17'),
        ("garbage", garbage),
        ("bad-utf8", b"# log: sensor at 21.5 \xb0C, calibration \xc3\x28 ok"),
    ]
    steps: list[tuple[str, object]] = []
    steps += [("pack", False)] * 3
    for index, burst in enumerate(noise):
        steps.append(("noise", burst))
        # Between bursts, packs; one of each pair arrives in two pieces.
        steps += [("pack", index % 2 == 0), ("pack", index % 2 == 1)]
    # After the last burst: the program must still be listening.
    steps += [("pack", False), ("pack", True), ("pack", False), ("pack", False)]
    return steps


class _Kit:
    """Plays the script on the pty in a thread, noting what it sent and when."""

    def __init__(self, lab: Lab, site: str, line: PtyLine) -> None:
        self.lab, self.site, self.line = lab, site, line
        self.sent: list[SentPack] = []
        self.noise: list[Noise] = []
        self.go = threading.Event()
        self.stop = threading.Event()
        self.done = threading.Event()
        self._rng = random.Random(f"{lab.id}:{site}:values")
        self._thread = threading.Thread(target=self._play, name="citylab-serial-kit", daemon=True)

    def start(self) -> "_Kit":
        self._thread.start()
        return self

    def _pack(self, number: int) -> tuple[str, float] | None:
        # Temperatures 0.25 apart plus less than 0.2 of noise: each pack's
        # temperature is unique, so it names the pack when it comes back.
        temperature = round(15.0 + 0.25 * number + self._rng.uniform(0.0, 0.2), 2)
        humidity = round(self._rng.uniform(40.0, 60.0), 1)
        payload = contract.build_pack(self.site, self.lab.device,
                                      [("temperature", "Cel", temperature), ("humidity", "%RH", humidity)])
        return payload.decode(), temperature

    def _play(self) -> None:
        number = 0
        try:
            self.go.wait()
            for kind, arg in _script(self.lab, self.site):
                if self.stop.is_set():
                    return
                if kind == "pack":
                    got = self._pack(number)
                    if got is None:  # a kit that fell silent
                        return
                    line, temperature = got
                    number += 1
                    data = line.encode() + b"\n"
                    self.sent.append(SentPack(line, time.time(), temperature, bool(arg)))
                    if arg:  # in two pieces, cut inside a record
                        cut = len(data) // 2
                        self.line.write_raw(data[:cut])
                        if self.stop.wait(SPLIT_GAP_S):
                            return
                        self.line.write_raw(data[cut:])
                    else:
                        self.line.write_raw(data)
                else:
                    noise_kind, noise_data = arg  # type: ignore[misc]
                    self.noise.append(Noise(noise_kind, noise_data, time.time()))
                    self.line.write_raw(noise_data + b"\n")
                if self.stop.wait(STEP_S):
                    return
        finally:
            self.done.set()

    def join(self) -> None:
        self.stop.set()
        self.go.set()
        self._thread.join(5.0)


class _Tap(_Kit):
    """The trainee's own kit, read on its serial port: its packs, forwarded with the grader's noise."""

    def __init__(self, lab: Lab, site: str, line: PtyLine, port: str) -> None:
        super().__init__(lab, site, line)
        import serial  # here: only a kit grading opens a real port

        try:
            self.port = serial.Serial(port, 115200, timeout=0.2)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise LabError(f"cannot open your kit's serial port {port!r} ({exc}): plug the kit in and give "
                           f"its port, like --port /dev/ttyUSB0 ('citylab kit emulate' prints a virtual one)") from exc
        self.port_path = port
        self._buffer = b""
        self._seen: set[float] = set()
        self.repeated = 0  # kit packs not forwarded: their temperature was seen already
        self.problem = ""  # a reason to stop the grading: the kit is provisioned for another site, say
        self.silent = False

    def _line(self) -> bytes | None:
        while b"\n" not in self._buffer:
            chunk = self.port.read(self.port.in_waiting or 1)
            if not chunk:
                return None
            self._buffer = (self._buffer + chunk)[-65536:]
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def _pack(self, number: int) -> tuple[str, float] | None:
        if number == 0:
            self.port.reset_input_buffer()  # what the kit sent before the grading is not part of it
            self._buffer = b""
        base = f"urn:citylab:{self.site}:{self.lab.device}:"
        deadline = time.monotonic() + KIT_PACK_WAIT_S
        while not self.stop.is_set() and time.monotonic() < deadline:
            raw = self._line()
            if raw is None:
                continue
            try:
                data = json.loads(raw.decode("utf-8"))
            except ValueError:
                continue  # the kit's own log and state lines
            if not isinstance(data, list) or not data or not isinstance(data[0], dict):
                continue
            name = data[0].get("bn")
            if name != base:
                self.problem = (f"your kit's packs are named {name!r}, but this grading is for site "
                                f"'{self.site}', device '{self.lab.device}' ({base!r}): provision the kit with "
                                f"citylab kit provision --site {self.site} --device {self.lab.device}")
                return None
            temperature = next((r.get("v") for r in data if isinstance(r, dict) and r.get("n") == "temperature"),
                               None)
            if not isinstance(temperature, (int, float)):
                self.problem = "your kit's packs carry no temperature record: this lab needs the env kit"
                return None
            temperature = round(float(temperature), 2)
            if temperature in self._seen:
                self.repeated += 1
                continue
            self._seen.add(temperature)
            return raw.decode("utf-8").strip(), temperature
        self.silent = not self.stop.is_set()
        return None

    def join(self) -> None:
        super().join()
        self.port.close()


def _has_open(pid: int, path: str) -> bool:
    """True if process ``pid`` holds ``path`` open (Linux: /proc/PID/fd)."""
    folder = f"/proc/{pid}/fd"
    try:
        names = os.listdir(folder)
    except OSError:
        return False
    for name in names:
        try:
            if os.readlink(f"{folder}/{name}") == path:
                return True
        except OSError:
            continue
    return False


def observe_serial(lab: Lab, site: str, solution: Path, broker: BrokerAddress, workdir: Path,
                   recorder_qos: int, progress: Callable[[str], None], foreign: bool = False,
                   port: str | None = None) -> SerialRun:
    """Run ``solution`` against the kit's pty for the lab's window while recording the site.

    ``port``: the trainee's kit's serial port; its packs replace the grader's (see ``_Tap``).
    """
    device = lab.device
    line = PtyLine()
    try:
        kit = (_Tap(lab, site, line, port) if port else _Kit(lab, site, line)).start()
    except LabError:
        line.close()
        raise
    clear_retained(broker, [contract.topic(site, device, "status"), contract.topic(site, device, "state")])
    store = SQLiteStore(workdir / "run.sqlite")
    recorder = Recorder(broker, store, contract.subscription(site), qos=recorder_qos).start()
    sandbox = workdir / "solution"
    sandbox.mkdir()
    env = solution_env(broker.url, site, device, sandbox)
    env["CITYLAB_SERIAL"] = line.path
    process = SolutionProcess(solution, env, sandbox)
    window = lab.window_seconds if port is None else KIT_WINDOW_MAX_S
    opened = False
    guard = start_guard(broker, site, window, process.kill, foreign=foreign)
    try:
        if port is None:
            progress(f"running {solution.name} for {window:.0f} s on the serial port {line.path} as device "
                     f"'{device}' of site '{site}', publishing to {broker.url}...")
        else:
            progress(f"running {solution.name} on {line.path}, fed by your kit on {port} with the grader's noise "
                     f"added, as device '{device}' of site '{site}', publishing to {broker.url}; this takes 15 of "
                     f"the kit's packs...")
        started = time.time()
        process.start()
        while time.time() - started < OPEN_WAIT_S and process.running:
            pid = process.pid  # asked each time: under a sandbox the program's own process comes a little later
            if pid is not None and _has_open(pid, line.path):
                opened = True
                process.wait(OPEN_GRACE_S)
                break
            time.sleep(0.05)
        kit.go.set()
        # Wait for the end of the window (with a kit: the end of the script), or for the program's own end.
        while process.running and time.time() < started + window:
            if port is not None and kit.done.is_set():
                process.wait(1.0)  # the last pack on its way through the bridge
                break
            process.wait(min(0.2, started + window - time.time()))
        ended = time.time()
        kit.join()
        process.kill()
        info = process.info()
        if info.ended_early:
            ended = started + info.ran_s
        # The last packs the program published are still on their way to the recorder.
        time.sleep(0.3)
    finally:
        kit.join()
        process.kill()
        guard.stop()
        recorder.stop()
        line.close()
    remarks = guard.remarks()
    if isinstance(kit, _Tap):
        if kit.problem:
            store.close()
            raise LabError(kit.problem)
        if kit.silent:
            remarks += (f"your kit on {kit.port_path} stopped sending packs after {len(kit.sent)} of them: "
                        f"is it still plugged in and running?",)
        if kit.repeated:
            progress(f"{kit.repeated} of the kit's packs repeated a temperature and were not forwarded")
    return SerialRun(
        lab_id=lab.id, site=site, device=device, store=store, solution=dataclasses.replace(info, remarks=remarks),
        started=started, ended=ended, window_s=ended - started if port else window,
        sent=tuple(kit.sent), noise=tuple(kit.noise), port_opened=opened, findings=tuple(guard.findings()),
    )
