"""Running a trainee's solution: a separate process, fenced in, bounded in time, memory, output and disk.

The solution is a Python file run by the grader's own interpreter
(``sys.executable``) in a process of its own, in its own session (so the whole
process group can be killed), in its own working folder, with a small
environment: the trainee's code sees ``CITYLAB_BROKER``, ``CITYLAB_SITE`` and
``CITYLAB_DEVICE`` (an analysis program: ``CITYLAB_SITE``, ``CITYLAB_INPUT``
and ``CITYLAB_OUTPUT``), not the server's secrets.

Isolation, the best the machine allows (``SolutionInfo.isolation`` says
which): under bubblewrap with nothing of the server's in sight, as a user of
its own, or the bounds only; ``sandbox.py`` says what each one gives.

Bounds, in every mode:

- time: the grader kills it with SIGKILL at the end of the lab's window. A
  kill, not a polite terminate, is the point: the broker sees the connection
  drop without a DISCONNECT and publishes the device's last will, as when a
  kit's power is cut;
- memory (RLIMIT_AS), one file's size (RLIMIT_FSIZE: a write beyond it fails
  with "File too large"), open files, no core dumps, CPU seconds (a backstop
  should the kill never come), processes (RLIMIT_NPROC, for a fork bomb; it
  binds a non-root user only, so the watchdog below counts too). They are
  set by a bootstrap that runs the solution in the same process, rather than
  in ``preexec_fn``: preexec_fn runs Python in the forked child and is unsafe
  when the grader has threads (the dashboard grades in threads), while the
  bootstrap is a program of its own. The bootstrap reads the solution, sets
  the limits, becomes the sandbox user and runs the code as ``__main__``;
- a watchdog thread, every 0.1 s: the process count and the folder's size
  and file count. Over a bound it kills the program and says why
  (``SolutionInfo.bound``, which the checks' feedback quotes);
- output: stdout and stderr go through pipes into bounded tails (the last
  lines only), so a program printing in a loop costs neither memory nor disk.
"""

from __future__ import annotations

import collections
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from labs.engine import sandbox
from labs.engine.result import SolutionInfo
from labs.engine.sandbox import ISOLATIONS, MB, best_isolation

MEMORY_LIMIT_BYTES = 512 * 1024 * 1024
TAIL_LINES = 20
LINE_CHARS = 300
WATCH_EVERY_S = 0.1


@dataclass(frozen=True)
class Limits:
    """The bounds of one run, beside the wall time the caller keeps."""

    memory_bytes: int = MEMORY_LIMIT_BYTES
    processes: int = 64  # tasks: processes and threads, as the kernel counts them
    file_bytes: int = 64 * MB  # one file
    folder_bytes: int = 100 * MB  # everything it wrote into its folder
    folder_files: int = 10_000
    open_files: int = 256
    cpu_seconds: int = 300
    tmpfs_bytes: int = 16 * MB  # bwrap: /tmp and /dev/shm, in memory


# Runs in the child: limits, read the solution, become the sandbox user, run it as __main__.
# In the same process, not by exec: the solution's file may be readable by the grader only
# (an upload folder is 0700), and one interpreter start is quicker than two.
_BOOTSTRAP = """\
import json, linecache, os, resource, sys, traceback, types
cfg = json.loads(sys.argv[1])
for name, value in cfg["limits"].items():
    resource.setrlimit(getattr(resource, name), (value, value))
path = cfg["path"]
with open(path, "rb") as f:
    source = f.read()
if cfg["uid"] is not None:
    os.setgroups([])
    os.setgid(cfg["uid"])
    os.setuid(cfg["uid"])
os.umask(0o077)
os.chdir(cfg["cwd"])
del cfg
sys.argv = [path]
sys.path[0] = os.path.dirname(path)
linecache.cache[path] = (len(source), None, source.decode("utf-8", "replace").splitlines(True), path)
main = types.ModuleType("__main__")
main.__file__ = path
main.__builtins__ = __builtins__
sys.modules["__main__"] = main
try:
    exec(compile(source, path, "exec"), main.__dict__)
except SystemExit:
    raise
except BaseException as exc:
    # The trainee's traceback, without this bootstrap's frame.
    traceback.print_exception(exc.with_traceback(exc.__traceback__.tb_next if exc.__traceback__ else None))
    sys.exit(1)
"""


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
    """The trainee's program, started, watched and killed by the grader.

    ``isolation``: one of ISOLATIONS, or None for the best available
    (``best_isolation()``). ``network=False`` (bwrap only) gives the program
    no network at all, for a program that needs none. A program whose
    environment names a device under /dev (a serial lab's pty) does not run
    under bwrap: the device and the caller's pid checks need the program in
    the grader's namespaces.
    """

    def __init__(self, path: Path, env: dict[str, str], workdir: Path,
                 memory_bytes: int = MEMORY_LIMIT_BYTES, *, limits: Limits | None = None,
                 isolation: str | None = None, network: bool = True) -> None:
        self.path = Path(path).resolve()
        self.env = env
        self.workdir = Path(workdir).resolve()
        self.limits = limits or Limits(memory_bytes=memory_bytes)
        self.memory_bytes = self.limits.memory_bytes
        self.network = network
        self.devices = tuple(sorted({v for v in env.values() if v.startswith("/dev/")}))
        if isolation is not None and isolation not in ISOLATIONS:
            raise ValueError(f"isolation must be one of {', '.join(ISOLATIONS)}, not {isolation!r}")
        self.isolation = isolation or best_isolation(devices=bool(self.devices))
        self.uid: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._started = 0.0
        self._ended: float | None = None
        self._killed = False
        self._bound = ""
        self._cleaned = False
        self._lock = threading.Lock()
        self._finished = threading.Event()

    # --- starting ---------------------------------------------------------------

    def start(self) -> "SolutionProcess":
        root = os.geteuid() == 0
        if root and self.isolation in ("bwrap", "uid"):
            self.uid = sandbox.UID_BASE + secrets.randbelow(sandbox.UID_SPAN)
            os.chown(self.workdir, self.uid, self.uid)
            os.chmod(self.workdir, 0o700)
            for device in self.devices:
                if os.path.exists(device):
                    os.chown(device, self.uid, -1)
            if self.isolation == "uid":
                sandbox.make_traversable(self.workdir.parent)
        config = {"path": str(self.path), "uid": self.uid, "cwd": str(self.workdir),
                  "limits": self._rlimits()}
        command = [sys.executable, "-u", "-s", "-c", _BOOTSTRAP, json.dumps(config)]
        if self.isolation == "bwrap":
            command = sandbox.bwrap_command(self.path, self.workdir, self.limits.tmpfs_bytes, self.network,
                                            root) + command
        self._process = subprocess.Popen(
            command, cwd=self.workdir, env=self.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, killed as one
        )
        self._started = time.monotonic()
        assert self._process.stdout and self._process.stderr
        self._stdout = _Tail(self._process.stdout)
        self._stderr = _Tail(self._process.stderr)
        self._baseline = sandbox.folder_usage(self.workdir, self.limits.folder_files)[0]
        threading.Thread(target=self._watch, name="citylab-grader-watchdog", daemon=True).start()
        return self

    def _rlimits(self) -> dict[str, int]:
        limits = self.limits
        processes = limits.processes
        if self.uid is None and os.geteuid() != 0:
            # Our own user's processes count too (on older kernels even inside bwrap's
            # user namespace): allow that many more. Root is not bound by it at all.
            processes += sandbox.tasks_of_user(os.getuid())
        return {"RLIMIT_AS": limits.memory_bytes, "RLIMIT_FSIZE": limits.file_bytes,
                "RLIMIT_NOFILE": limits.open_files, "RLIMIT_CORE": 0, "RLIMIT_CPU": limits.cpu_seconds,
                "RLIMIT_NPROC": processes}

    # --- watching ---------------------------------------------------------------

    def _watch(self) -> None:
        limits = self.limits
        overhead = 2 if self.isolation == "bwrap" else 0  # bwrap's two processes
        while not self._finished.wait(WATCH_EVERY_S):
            process = self._process
            if process is None or process.poll() is not None:
                return
            tasks = sandbox.tree_tasks(process.pid)
            if tasks >= limits.processes + overhead:
                self._stop(f"it started more processes than allowed ({limits.processes} processes or threads "
                           f"at once: a fork bomb?); the grader stopped it")
                return
            size, files = sandbox.folder_usage(self.workdir, limits.folder_files)
            if size - self._baseline > limits.folder_bytes:
                self._stop(f"it wrote more than {limits.folder_bytes // MB} MB into its folder; "
                           f"the grader stopped it")
                return
            if files > limits.folder_files:
                self._stop(f"it created more than {limits.folder_files:,} files in its folder; "
                           f"the grader stopped it")
                return

    def _stop(self, reason: str) -> None:
        with self._lock:
            if not self._bound:
                self._bound = reason
        self.kill()

    # --- the caller's interface -------------------------------------------------

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

    @property
    def pid(self) -> int | None:
        """The solution's own process id as the grader sees it (under bwrap: inside bwrap's two)."""
        if self._process is None:
            return None
        if self.isolation != "bwrap":
            return self._process.pid  # the bootstrap runs the solution in its own process
        pid: int | None = self._process.pid
        for _ in range(2):
            kids = sandbox.children(pid) if pid is not None else []
            pid = kids[0] if kids else None
        return pid

    def kill(self) -> None:
        """SIGKILL the program and anything it started; safe to call twice, from any thread."""
        process = self._process
        if process is None:
            return
        with self._lock:
            if process.poll() is None:
                self._killed = True
                # The group, not just the pid: whatever it started dies with it (under bwrap,
                # bwrap's first process dies too, and the kernel ends its whole pid namespace).
                # Only while the leader lives: once it is reaped its id may be reused.
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            process.wait()
            if self._ended is None:
                self._ended = time.monotonic()
            self._finished.set()
            if self.isolation == "uid" and self.uid is not None:
                if not self._cleaned:
                    self._cleaned = True
                    sandbox.kill_user(self.uid)
                    sandbox.remove_leftovers(self.uid)

    def info(self) -> SolutionInfo:
        """What happened, once the program has ended or been killed."""
        assert self._process
        self.kill()
        returncode = self._process.returncode
        if self.isolation == "bwrap" and not self._killed and returncode is not None and 128 < returncode < 160:
            returncode = 128 - returncode  # bwrap reports a signal as 128+N; Popen's way is -N
        stderr = self._stderr.lines()
        bound = self._bound or _bound_from(stderr, self.limits)
        if not bound and returncode == -signal.SIGXCPU:
            bound = f"it used more than {self.limits.cpu_seconds} s of processor time"
        return SolutionInfo(
            path=str(self.path),
            returncode=returncode,
            ran_s=round((self._ended or time.monotonic()) - self._started, 2),
            # Stopped at a bound is like a crash: it ended before its window, for a cause.
            ended_early=not self._killed or bool(self._bound),
            stderr_tail=stderr,
            stdout_tail=self._stdout.lines(),
            bound=bound,
            isolation=self.isolation,
        )


def _bound_from(stderr: tuple[str, ...], limits: Limits) -> str:
    """A bound the program ran into by itself and crashed on, in words; "" if none."""
    last = next((line for line in reversed(stderr) if line.strip() and not line.startswith((" ", "\t"))), "")
    if last.startswith("MemoryError"):
        return f"it ran out of its {limits.memory_bytes // MB} MB of memory"
    if "File too large" in last:
        return f"it tried to write a file of more than {limits.file_bytes // MB} MB"
    if "Too many open files" in last:
        return f"it opened more than {limits.open_files} files at once"
    return ""


# --- environments ----------------------------------------------------------------------


def _base_env(workdir: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "PYTHONIOENCODING": "utf-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        # One thread per numerical library: fair to the gradings beside it, and
        # OpenBLAS's thread per core would count against the process bound.
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def solution_env(broker_url: str, site: str, device: str, workdir: Path) -> dict[str, str]:
    """The environment a solution runs with: the lab's variables and little else."""
    return {"CITYLAB_BROKER": broker_url, "CITYLAB_SITE": site, "CITYLAB_DEVICE": device, **_base_env(workdir)}


def analysis_env(site: str, input_path: Path, output_path: Path, workdir: Path) -> dict[str, str]:
    """The environment of an analysis program: where its dataset is and where its answer goes."""
    return {"CITYLAB_SITE": site, "CITYLAB_INPUT": str(input_path), "CITYLAB_OUTPUT": str(output_path),
            **_base_env(workdir)}
