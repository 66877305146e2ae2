"""The grading engine: run a trainee's solution, record what it does, run the lab's checks.

    grade.py       grade(): the one public entry, orchestrating the rest
    analysis.py    analysis labs: the seeded dataset, the program's JSON answer, AnalysisRun
    runner.py      the solution in a separate process, bounded in time, memory and output
    observe.py     the recorder, retained-message probes, the window, the kill and the last will
    recording.py   Run, the ``run`` fixture the checks read
    plugin.py      the checks as pytest tests, run in-process by a collecting plugin
    result.py      CheckResult and GradeResult: text, JSON and JUnit XML
    gradebook.py   every grading, appended to SQLite
"""

from labs.engine.analysis import AnalysisRun, seed_for
from labs.engine.grade import grade
from labs.engine.gradebook import Gradebook
from labs.engine.recording import Pack, Record, Run
from labs.engine.result import CheckResult, GradeResult, SolutionInfo

__all__ = ["AnalysisRun", "CheckResult", "GradeResult", "Gradebook", "Pack", "Record", "Run", "SolutionInfo",
           "grade", "seed_for"]
