"""The grading engine: run a trainee's solution, record what it does, run the lab's checks.

    grade.py       grade(): the one public entry, orchestrating the rest
    analysis.py    analysis labs: the seeded dataset, the program's JSON answer, AnalysisRun
    runner.py      the solution in a separate process, bounded in time, memory and output
    observe.py     the recorder, retained-message probes, the window, the kill and the last will
    recording.py   Run, the ``run`` fixture the checks read
    plugin.py      the checks as pytest tests, run in-process by a collecting plugin
    result.py      CheckResult and GradeResult: text, JSON and JUnit XML
    gradebook.py   every grading, appended to SQLite, append-only: who asked, when, which code
    guard.py       counts what a program publishes: a flood is stopped, other sites' topics are reported
    kit.py         device labs on a trainee's kit: watch it, ask for the power cut, wait for the will
    cohort.py      a folder of submissions, one per site, graded a few at a time on one broker
"""

from labs.engine.analysis import AnalysisRun, seed_for
from labs.engine.grade import KitOptions, grade
from labs.engine.gradebook import GradeEntry, Gradebook
from labs.engine.recording import Pack, Record, Run
from labs.engine.result import CheckResult, GradeResult, SolutionInfo

__all__ = ["AnalysisRun", "CheckResult", "GradeEntry", "GradeResult", "Gradebook", "KitOptions",
           "Pack", "Record", "Run", "SolutionInfo", "grade", "seed_for"]
