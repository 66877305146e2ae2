"""Running a trainee's solution: a separate process, bounded in time, memory and output.

The solution is a Python file run by the grader's own interpreter
(``sys.executable``) in a process of its own, in its own session (so the whole
process group can be killed), with a temporary working directory and a small
environment: the trainee's code sees ``CITYLAB_BROKER``, ``CITYLAB_SITE`` and
``CITYLAB_DEVICE`` (an analysis program: ``CITYLAB_SITE``, ``CITYLAB_INPUT``
and ``CITYLAB_OUTPUT``), not the server's secrets.

Bounds:

- time: the grader kills it with SIGKILL at the end of the lab's window. A
  kill, not a polite terminate, is the point: the broker sees the connection
  drop without a DISCONNECT and publishes the device's last will, as when a
  kit's power is cut;
- memory: ``RLIMIT_AS``. It is set by a two-line bootstrap that then
  ``exec``s the solution, rather than in ``preexec_fn``: preexec_fn runs
  Python in the forked child and is unsafe when the grader has threads (the
  dashboard grades in threads), while rlimits survive ``exec``;
- output: stdout and stderr go through pipes into bounded tails (the last
  lines only), so a program printing in a loop costs neither memory nor disk.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

from labs.engine.result import SolutionInfo

MEMORY_LIMIT_BYTES = 512 * 1024 * 1024
TAIL_LINES = 20
LINE_CHARS = 300

# Runs in the child: limit the address space, then become the solution.
# "-u": unbuffered output, so a crash's last lines reach the tail.
_BOOTSTRAP = (
    "import os, resource, sys\n"
    "limit = int(sys.argv[1])\n"
    "resource.setrlimit(resource.RLIMIT_AS, (limit, limit))\n"
    "os.execv(sys.executable, [sys.executable, '-u', sys.argv[2]])\n"
)


class _Tail:
    """Reads a pipe to its end in a thread, keeping only the last lines."""

    def __init__(self, stream: IO[bytes], lines: int = TAIL_LINES) -> None:
        self._stream = stream
        self._lines: collections.deque[str] = collections.deque(maxlen=lines)
        self._thread = threading.Thread(target=self._read, name="citylab-grader-tail", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        partial = b""
        try:
            while chunk := self._stream.read1(65536):  # type: ignore[attr-defined]
                *complete, partial = (partial + chunk).split(b"\n")
                for line in complete[-self._lines.maxlen:]:  # type: ignore[index]
                    self._keep(line)
                # A line with no end in sight is cut, not buffered without limit.
                partial = partial[: LINE_CHARS * 4]
        except (OSError, ValueError):
            pass
        if partial:
            self._keep(partial)

    def _keep(self, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace").rstrip("\r")
        self._lines.append(text if len(text) <= LINE_CHARS else text[: LINE_CHARS - 3] + "...")

    def lines(self, timeout: float = 2.0) -> tuple[str, ...]:
        self._thread.join(timeout)
        return tuple(self._lines)


class SolutionProcess:
    """The trainee's program, started, watched and killed by the grader."""

    def __init__(self, path: Path, env: dict[str, str], workdir: Path,
                 memory_bytes: int = MEMORY_LIMIT_BYTES) -> None:
        self.path = Path(path).resolve()
        self.env = env
        self.workdir = workdir
        self.memory_bytes = memory_bytes
        self._process: subprocess.Popen[bytes] | None = None
        self._started = 0.0
        self._ended: float | None = None
        self._killed = False

    def start(self) -> "SolutionProcess":
        self._process = subprocess.Popen(
            [sys.executable, "-c", _BOOTSTRAP, str(self.memory_bytes), str(self.path)],
            cwd=self.workdir, env=self.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, killed as one
        )
        self._started = time.monotonic()
        assert self._process.stdout and self._process.stderr
        self._stdout = _Tail(self._process.stdout)
        self._stderr = _Tail(self._process.stderr)
        return self

    def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the program to end by itself; True if it did."""
        assert self._process
        try:
            self._process.wait(timeout=max(0.0, seconds))
        except subprocess.TimeoutExpired:
            return False
        if self._ended is None:
            self._ended = time.monotonic()
        return True

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def kill(self) -> None:
        """SIGKILL the program and anything it started; safe to call twice."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            self._killed = True
            # The group, not just the pid: whatever it started dies with it.
            # Only while the leader lives: once it is reaped its id may be reused.
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        process.wait()
        if self._ended is None:
            self._ended = time.monotonic()

    def info(self) -> SolutionInfo:
        """What happened, once the program has ended or been killed."""
        assert self._process
        self.kill()
        return SolutionInfo(
            path=str(self.path),
            returncode=self._process.returncode,
            ran_s=round((self._ended or time.monotonic()) - self._started, 2),
            ended_early=not self._killed,
            stderr_tail=self._stderr.lines(),
            stdout_tail=self._stdout.lines(),
        )


def _base_env(workdir: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "PYTHONIOENCODING": "utf-8",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def solution_env(broker_url: str, site: str, device: str, workdir: Path) -> dict[str, str]:
    """The environment a solution runs with: the lab's variables and little else."""
    return {"CITYLAB_BROKER": broker_url, "CITYLAB_SITE": site, "CITYLAB_DEVICE": device, **_base_env(workdir)}


def analysis_env(site: str, input_path: Path, output_path: Path, workdir: Path) -> dict[str, str]:
    """The environment of an analysis program: where its dataset is and where its answer goes."""
    return {"CITYLAB_SITE": site, "CITYLAB_INPUT": str(input_path), "CITYLAB_OUTPUT": str(output_path),
            **_base_env(workdir)}
