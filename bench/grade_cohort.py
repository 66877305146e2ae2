"""How long grading a cohort takes: one analysis lab, N sites, on this machine's cores.

    python bench/grade_cohort.py [--lab 05-air-quality-index] [--n 160] [--workers 2] [--solution PATH]

Each site is one trainee: its own dataset (seeded from the lab and the
site), the program run in its own bounded process, the checks evaluated,
exactly as ``citylab grade`` does. The gradings run ``--workers`` at a time
in worker processes (the checks hold a lock inside one process, and the
GIL would serialise the dataset generation of threads). The solution graded
is the lab's reference by default; every grading is checked to reach its
score. Targets (issue 5): one grading in 10 s or less; a cohort of 160 in
10 minutes or less on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from labs import get_lab, grade  # noqa: E402

TARGET_ONE_S = 10.0
TARGET_COHORT_S = 600.0
COHORT = 160


def _grade(job: tuple[str, str, str]) -> tuple[str, int, int, float]:
    lab_id, site, solution = job
    started = time.monotonic()
    result = grade(lab_id, site, solution)
    return site, result.score, result.max_score, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", default="05-air-quality-index")
    parser.add_argument("--n", type=int, default=COHORT, help="how many sites (trainees) to grade")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--solution", help="the program to grade (the lab's reference by default)")
    args = parser.parse_args()
    lab = get_lab(args.lab)
    if lab.kind != "analysis":
        parser.error(f"{lab.id} is a {lab.kind} lab: this benchmark grades analysis labs")
    solution = str(Path(args.solution).resolve()) if args.solution else str(lab.solution)
    jobs = [(lab.id, f"bench-{i:03d}", solution) for i in range(args.n)]

    print(f"grading {lab.id} for {args.n} sites, {args.workers} at a time, on {os.cpu_count()} cores")
    started = time.monotonic()
    with ProcessPoolExecutor(args.workers) as pool:
        results = list(pool.map(_grade, jobs))
    wall = time.monotonic() - started

    times = sorted(r[3] for r in results)
    scores = [(r[1], r[2]) for r in results]
    full = sum(1 for score, most in scores if score == most)
    per_site = wall / args.n
    cohort = per_site * COHORT
    print(f"one grading: mean {statistics.mean(times):.2f} s, median {statistics.median(times):.2f} s, "
          f"slowest {times[-1]:.2f} s (target <= {TARGET_ONE_S:.0f} s)")
    print(f"{args.n} gradings: {wall:.1f} s wall, {per_site:.2f} s per site with {args.workers} workers")
    if args.n != COHORT:
        print(f"extrapolated to {COHORT} sites: {cohort:.0f} s (linear in the number of sites)")
    print(f"cohort of {COHORT}: {cohort:.0f} s (target <= {TARGET_COHORT_S:.0f} s)")
    print(f"full marks: {full} of {args.n}")
    ok = times[-1] <= TARGET_ONE_S and cohort <= TARGET_COHORT_S
    print("OK" if ok else "TOO SLOW")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
