"""What the sandbox costs a grading: start-to-exit time of a trivial solution, per isolation.

    /tmp/venv/bin/python bench/sandbox_start.py [RUNS]

Prints, for each isolation this machine offers (labs/engine/sandbox.py), the
median and the slowest of RUNS runs of a program that imports json and ends.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from labs.engine.runner import SolutionProcess, analysis_env
from labs.engine.sandbox import best_isolation


def once(solution: Path, isolation: str) -> float:
    with tempfile.TemporaryDirectory(prefix="citylab-bench-") as tmp:
        workdir = Path(tmp) / "solution"
        workdir.mkdir()
        env = analysis_env("alice", workdir / "in.csv", workdir / "out.json", workdir)
        started = time.perf_counter()
        process = SolutionProcess(solution, env, workdir, isolation=isolation).start()
        process.wait(30)
        info = process.info()
        took = time.perf_counter() - started
        if info.returncode != 0:
            raise SystemExit(f"{isolation}: the program failed: {info.stderr_tail}")
        return took


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    modes = ["bwrap", "uid", "rlimits"] if best_isolation() == "bwrap" else [best_isolation(), "rlimits"]
    with tempfile.TemporaryDirectory() as tmp:
        solution = Path(tmp) / "trivial.py"
        solution.write_text("import os\nprint(os.getpid())\n")  # the uid mode here cannot import beyond os
        print(f"best isolation here: {best_isolation()}; {runs} runs each")
        for mode in dict.fromkeys(modes):
            times = [once(solution, mode) for _ in range(runs)]
            print(f"{mode:8} median {statistics.median(times) * 1000:6.0f} ms   slowest {max(times) * 1000:6.0f} ms")


if __name__ == "__main__":
    main()
