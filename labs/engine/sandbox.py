"""The sandbox a trainee's program runs in: what the machine offers, and the operating system's part.

``runner.SolutionProcess`` picks the strongest isolation this machine gives
(``best_isolation``) and uses the functions here to build it, watch it and
clean up after it:

- ``bwrap`` (bubblewrap installed and working): the program sees a read-only
  system (/usr, /etc), the interpreter, its own file and its own folder, and
  nothing else: no home folders, no data dir, no gradebook, no other
  trainee's upload; /tmp and /dev/shm are small private tmpfs; its own pid,
  IPC and UTS namespaces (it cannot see or signal the server's processes, and
  killing the namespace's first process kills everything it started, even a
  daemon that left the process group). The network is kept unless the caller
  says otherwise: a device must reach the broker on localhost, lab 07 its
  InfluxDB. When the grader is root the program also runs as a user of its
  own (next point); otherwise bwrap's user namespace keeps the caller's id;
- ``uid`` (the grader is root, no bwrap): the program runs as a user id of
  its own, picked at random per run from an unused range (not ``nobody``:
  RLIMIT_NPROC counts per user, so with one shared user a fork bomb would
  use up the allowance of every grading running beside it). Its folder is
  chowned to it, mode 0700, and the folder above made passable (x, not r);
  the gradebook and data dir are out of reach as long as they are private
  (0700/0600). It needs an interpreter every user may read (not one under
  /root). At the end every process of that user is killed (``kill -9 -1`` as
  that user), wherever it went, and what it left in /tmp, /var/tmp and
  /dev/shm is removed;
- ``rlimits`` (a laptop, or an interpreter other users cannot read): the
  caller's own user, with the bounds of ``runner.Limits`` only. A daemon that
  leaves the process group survives the kill here.

Counting (processes, a folder's size) reads Linux's /proc; elsewhere the
counts are 0 and only the rlimits bound the program.
"""

from __future__ import annotations

import functools
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
from pathlib import Path

ISOLATIONS = ("bwrap", "uid", "rlimits")
# Sandbox users are picked from here: far above any real account or
# container mapping, below 2**31 (some tools misread larger ids).
UID_BASE = 1_870_000_000
UID_SPAN = 10_000_000
MB = 1024 * 1024


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


@functools.lru_cache(maxsize=None)  # a probe per process: the machine does not change under us
def _bwrap_works(path: str, root: bool) -> bool:
    args = [path, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--perms", "1777", "--size", str(MB), "--tmpfs", "/tmp", "--perms", "0755", "--dir", "/tmp/probe",
            "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent", "--new-session"]
    if root:
        args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID"]
    try:
        return subprocess.run(args + ["--", "true"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def best_isolation(devices: bool = False) -> str:
    """The strongest isolation this machine gives: "bwrap", "uid" or "rlimits"."""
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    path = bwrap_path()
    if not devices and path and _bwrap_works(path, root):
        return "bwrap"
    if root and all(world_reachable(folder) for folder in interpreter_folders()):
        return "uid"
    return "rlimits"


def bwrap_command(solution: Path, workdir: Path, tmpfs_bytes: int, network: bool, root: bool) -> list[str]:
    """bwrap's arguments, up to "--", for running ``solution`` in ``workdir`` (see the module's docstring)."""
    size = str(tmpfs_bytes)
    args = [bwrap_path() or "bwrap"]
    for top in ("/usr", "/etc"):
        args += ["--ro-bind", top, top]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    args += ["--dev", "/dev", "--proc", "/proc",
             "--perms", "1777", "--size", size, "--tmpfs", "/tmp",
             "--perms", "1777", "--size", size, "--tmpfs", "/dev/shm"]
    binds = {"/usr", "/etc"}  # the host's trees, with the host's folders and modes
    made = {"/", "/tmp", "/dev", "/dev/shm", "/proc"}  # folders of our own making

    def bind(source: Path, option: str = "--ro-bind") -> None:
        # bwrap copies the host's modes onto the folders it makes on the
        # way (/root is 0700): make them 0755, or the sandbox user is stuck.
        for parent in reversed(source.parents):
            if str(parent) not in made and not _covered(parent, binds):
                args.extend(["--perms", "0755", "--dir", str(parent)])
                made.add(str(parent))
        args.extend([option, str(source), str(source)])
        binds.add(str(source))

    for folder in interpreter_folders():
        if not _covered(folder, binds):
            bind(folder)
    # A broker named by host name needs DNS: resolv.conf is often a link into /run.
    resolver = Path(os.path.realpath("/etc/resolv.conf"))
    if resolver.is_file() and not _covered(resolver, binds):
        bind(resolver)
    bind(workdir, "--bind")
    if not _covered(solution, binds):
        bind(solution)
    args += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent", "--new-session"]
    if not network:
        args.append("--unshare-net")
    if root:
        # The bootstrap needs to read the solution and become the sandbox user; nothing else.
        args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
                 "--cap-add", "CAP_DAC_READ_SEARCH"]
    return args + ["--"]


def interpreter_folders() -> list[Path]:
    """What the interpreter reads: its prefixes and site-packages (not an editable project's source)."""
    folders = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), Path(sys.base_exec_prefix),
               Path(os.path.realpath(sys.executable)).parent, Path(sys.executable).parent}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        value = sysconfig.get_paths().get(key)
        if value:
            folders.add(Path(value))
    existing = sorted({Path(os.path.realpath(f)) for f in folders if f.exists()} | {f for f in folders if f.exists()})
    existing = [f for f in existing if f != Path("/")]  # never the whole machine, whatever sys.prefix says
    # Keep the outermost: /opt/venv covers /opt/venv/lib/.../site-packages.
    return [f for f in existing if not any(o != f and o in f.parents for o in existing)]


def _covered(path: Path, mounts: set[str]) -> bool:
    return any(str(path) == m or (m != "/" and str(path).startswith(m.rstrip("/") + "/")) for m in mounts)


def world_reachable(folder: Path) -> bool:
    """True if any user can walk down to ``folder`` and read it."""
    try:
        for part in [*reversed(folder.parents), folder]:
            mode = os.stat(part).st_mode
            if not mode & stat.S_IXOTH:
                return False
        return bool(os.stat(folder).st_mode & stat.S_IROTH)
    except OSError:
        return False


def make_traversable(folder: Path) -> None:
    """Let the sandbox user walk through ``folder`` (x, not r: it cannot list it)."""
    try:
        mode = os.stat(folder).st_mode
        if not mode & stat.S_IXOTH:
            os.chmod(folder, stat.S_IMODE(mode) | stat.S_IXOTH)
    except OSError:
        pass


# --- counting and cleaning (Linux /proc; elsewhere the counts are 0) ----------------------


def children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += [int(k) for k in f.read().split()]
        except (OSError, ValueError):
            continue
    return kids


def tree_tasks(root: int) -> int:
    """Processes and threads from ``root`` down."""
    total, stack, seen = 0, [root], set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            total += len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            continue
        stack += children(pid)
    return total


def tasks_of_user(uid: int) -> int:
    """Processes and threads the kernel counts against ``uid``'s RLIMIT_NPROC."""
    total = 0
    try:
        pids = [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return 0
    for pid in pids:
        try:
            if os.stat(f"/proc/{pid}").st_uid == uid:
                total += len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            continue
    return total


def folder_usage(folder: Path, max_files: int) -> tuple[int, int]:
    """Bytes on disk and files under ``folder``; stops counting past ``max_files``."""
    size = files = 0
    stack = [str(folder)]
    while stack and files <= max_files:
        try:
            entries = os.scandir(stack.pop())
        except OSError:
            continue
        with entries:
            for entry in entries:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                files += 1
                # Blocks, not the apparent size: a sparse file costs no disk.
                size += getattr(st, "st_blocks", 0) * 512 or st.st_size
                if stat.S_ISDIR(st.st_mode):
                    stack.append(entry.path)
    return size, files


def kill_user(uid: int) -> None:
    """Every process of the sandbox user, wherever it went: kill(-1) as that user, twice."""
    for _ in range(2):
        try:
            subprocess.run(["/bin/sh", "-c", "kill -9 -1"], user=uid, group=uid, extra_groups=[],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=5)
        except (OSError, subprocess.SubprocessError):
            pass


def remove_leftovers(uid: int) -> None:
    """What the sandbox user left in the shared temporary folders."""
    for base in ("/tmp", "/var/tmp", "/dev/shm"):
        try:
            entries = list(os.scandir(base))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_uid != uid:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
            except OSError:
                continue
