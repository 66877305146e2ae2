"""What a grading produces: one result per check, and the grade that sums them.

Results are frozen dataclasses that render three ways: text for a trainee's
terminal (``render_text``), a dict for JSON and the gradebook (``to_dict`` /
``from_dict``), and JUnit XML for CI systems and LMS importers (``to_junit``).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable


# Characters XML 1.0 cannot carry at all (a program's stderr may hold ANSI
# escapes or NULs); ElementTree would write them and produce a broken file.
_NOT_XML = re.compile(r"[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: object) -> str:
    return _NOT_XML.sub("\ufffd", str(text))


@dataclass(frozen=True)
class SolutionInfo:
    """How the trainee's program behaved while it was graded."""

    path: str
    returncode: int | None
    ran_s: float
    ended_early: bool  # it stopped by itself before the end of the window
    stderr_tail: tuple[str, ...] = ()
    stdout_tail: tuple[str, ...] = ()
    sha256: str = ""  # of the submitted file as graded ("" for a kit, whose code runs on the kit)
    # What the grader itself saw and did ("stopped after 5,000 messages in 0.8 s"), added to failed checks.
    remarks: tuple[str, ...] = ()
    # A sim lab: the worst round trip of the grader's probe through the broker during the window
    # (labs/engine/lagprobe.py); above the lab's budget the grading was disturbed by a busy machine.
    grader_lag_s: float | None = None
    disturbed: bool = False
    # The sandbox's bound the program ran into, in words ("it started more than 64 processes at once;
    # the grader stopped it"): labs/engine/runner.py. "" when it kept within every bound.
    bound: str = ""
    isolation: str = ""  # how it was fenced in: "bwrap", "uid" or "rlimits" (runner.py)

    @property
    def crashed(self) -> bool:
        return self.ended_early and self.returncode not in (0, None)

    @property
    def error_line(self) -> str:
        """The line a person reads first: a traceback's last line, like "NameError: ...". """
        killed = self.returncode is not None and self.returncode < 0
        if self.bound and killed:  # stopped at a bound: the cause, not what it caused ("BlockingIOError")
            return self.bound
        for line in reversed(self.stderr_tail):
            if line.strip() and not line.startswith((" ", "\t")):
                return line.strip()
        return self.bound

    def note(self) -> str:
        """A sentence about an early stop (and the grader's remarks), added to the feedback of failed checks."""
        parts = list(self.remarks)
        if self.ended_early and self.crashed:
            what = f": {self.error_line}" if self.error_line else f" with exit code {self.returncode}"
            if self.bound and self.bound != self.error_line:
                what += f" ({self.bound})"  # "MemoryError (it ran out of its 512 MB of memory)"
            parts.append(f"your program crashed after {self.ran_s:.1f} s{what}")
        elif self.ended_early:
            parts.append(f"your program ended by itself after {self.ran_s:.1f} s; a device keeps running "
                         f"until it is switched off (loop forever)")
        return "; ".join(parts)


@dataclass(frozen=True)
class CheckResult:
    """One check: its points, and what to fix when it failed."""

    name: str
    title: str
    points: int
    max_points: int
    passed: bool
    feedback: str = ""


@dataclass(frozen=True)
class GradeResult:
    """A graded run of one solution for one lab and one site."""

    lab_id: str
    site: str
    target: str
    score: int
    max_score: int
    checks: tuple[CheckResult, ...]
    started: datetime
    duration_s: float
    solution: SolutionInfo

    @property
    def passed(self) -> bool:
        # The grader's own 0-point checks (a flood, another site's topics) count too.
        return self.score == self.max_score and all(c.passed for c in self.checks)

    # --- dict / JSON --------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["started"] = self.started.isoformat()
        data["passed"] = self.passed
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "GradeResult":
        sol = dict(data["solution"])
        solution = SolutionInfo(**{**sol, "stderr_tail": tuple(sol.get("stderr_tail", ())),
                                   "stdout_tail": tuple(sol.get("stdout_tail", ())),
                                   "remarks": tuple(sol.get("remarks", ()))})
        return cls(
            lab_id=data["lab_id"], site=data["site"], target=data["target"],
            score=data["score"], max_score=data["max_score"],
            checks=tuple(CheckResult(**c) for c in data["checks"]),
            started=datetime.fromisoformat(data["started"]), duration_s=data["duration_s"],
            solution=solution,
        )

    # --- text ---------------------------------------------------------------

    def render_text(self) -> str:
        """One line per check (✓/✗, points, title), its feedback under it, then the score."""
        width = max((len(f"{c.points}/{c.max_points}") for c in self.checks), default=3)
        when = self.started.astimezone()  # the reader's local time
        lines = [f"{self.lab_id} for site '{self.site}' ({self.target}), {when:%Y-%m-%d %H:%M:%S}"]
        for check in self.checks:
            mark = "✓" if check.passed else "✗"
            lines.append(f"  {mark} {f'{check.points}/{check.max_points}':>{width}}  {check.title}")
            if check.feedback and not check.passed:
                lines.extend(f"  {'':>{width}}     {part}" for part in check.feedback.splitlines())
        # The program's own last words explain most failures at once: show
        # them when something failed, not when all is well.
        if not self.passed and self.solution.stderr_tail:
            lines.append("  last lines your program wrote to stderr:")
            lines.extend(f"  | {line}" for line in self.solution.stderr_tail)
        verdict = "full marks" if self.passed else "fix the ✗ lines and grade again"
        lines.append(f"score: {self.score}/{self.max_score} ({verdict})")
        return "\n".join(lines)

    # --- JUnit XML ----------------------------------------------------------

    def junit_xml(self) -> str:
        failures = sum(1 for c in self.checks if not c.passed)
        suite = ET.Element("testsuite", {
            "name": f"citylab.{self.lab_id}", "tests": str(len(self.checks)), "failures": str(failures),
            "errors": "0", "skipped": "0", "time": f"{self.duration_s:.3f}",
            "timestamp": self.started.isoformat(timespec="seconds"),
        })
        props = ET.SubElement(suite, "properties")
        for name, value in (("site", self.site), ("target", self.target), ("score", self.score),
                            ("max_score", self.max_score), ("solution", self.solution.path)):
            ET.SubElement(props, "property", {"name": name, "value": _xml(value)})
        for check in self.checks:
            case = ET.SubElement(suite, "testcase", {
                "classname": _xml(f"{self.lab_id}.{self.site}"), "name": _xml(check.name), "time": "0",
            })
            ET.SubElement(case, "properties").append(
                ET.Element("property", {"name": "points", "value": f"{check.points}/{check.max_points}"}))
            if not check.passed:
                first = check.feedback.splitlines()[0] if check.feedback else "failed"
                failure = ET.SubElement(case, "failure", {"message": _xml(first), "type": "check"})
                failure.text = _xml(check.feedback)
        if self.solution.stderr_tail:
            ET.SubElement(suite, "system-err").text = _xml("\n".join(self.solution.stderr_tail))
        root = ET.Element("testsuites", {"name": "citylab", "tests": suite.get("tests", "0"),
                                         "failures": str(failures)})
        root.append(suite)
        ET.indent(root)
        return ET.tostring(root, encoding="unicode", xml_declaration=True)

    def to_junit(self, path: str | Path) -> Path:
        """Write the JUnit XML report to ``path`` and return it."""
        target = Path(path)
        target.write_text(self.junit_xml() + "\n", encoding="utf-8")
        return target


def explain_failures(note: str | None) -> Callable[[CheckResult], CheckResult]:
    """Adds the solution's fate (a crash, say) to every failed check's feedback."""

    def explain(check: CheckResult) -> CheckResult:
        # Every failed check of a program that crashed has the same cause:
        # say it where the trainee looks.
        if check.passed or not note or note in check.feedback:
            return check
        return CheckResult(check.name, check.title, check.points, check.max_points, check.passed,
                           f"{check.feedback} ({note})")

    return explain
