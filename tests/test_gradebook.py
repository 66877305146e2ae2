"""The gradebook's history: who asked, when, which code, which result; append-only in SQLite itself."""

from __future__ import annotations

import dataclasses
import hashlib
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest

from citylab.errors import StoreError
from labs import CheckResult, Gradebook, GradeResult, SolutionInfo
from labs.engine.gradebook import CODE_LIMIT_BYTES

OLD_SCHEMA = """
CREATE TABLE grades (
    id INTEGER PRIMARY KEY,
    site TEXT NOT NULL, lab_id TEXT NOT NULL, target TEXT NOT NULL,
    score INTEGER NOT NULL, max_score INTEGER NOT NULL,
    started TEXT NOT NULL, duration_s REAL NOT NULL,
    result TEXT NOT NULL
);
"""


def result(site: str = "alice", score: int = 8, sha256: str = "") -> GradeResult:
    checks = (CheckResult("test_units", "Units", score - 8 + 2 if score >= 8 else 0, 2, score == 10,
                          "" if score == 10 else "write 'Cel'"),
              CheckResult("test_rest", "The rest", 8, 8, True))
    return GradeResult("01-mqtt-telemetry", site, "sim", score, 10, checks,
                       datetime(2026, 11, 28, 10, 0, tzinfo=timezone.utc), 9.1,
                       SolutionInfo("device.py", -9, 8.0, False, sha256=sha256))


def test_each_grading_keeps_who_when_which_code_and_result(tmp_path: Path) -> None:
    book = Gradebook(tmp_path / "gradebook.sqlite")
    code = b"print('hello')\n"
    first = book.record(result(score=8), by="cli", code=code)
    second = book.record(result(score=10), by="instructor-ann", code=code + b"# fixed\n")
    entries = Gradebook(tmp_path / "gradebook.sqlite").entries("alice")
    assert [e.id for e in entries] == [first, second]
    assert [e.requested_by for e in entries] == ["cli", "instructor-ann"]
    assert entries[0].code_sha256 == hashlib.sha256(code).hexdigest() and entries[0].code_size == len(code)
    assert entries[1].code_sha256 == hashlib.sha256(code + b"# fixed\n").hexdigest()
    assert [e.result.score for e in entries] == [8, 10] and entries[1].result == result(score=10)
    recorded = datetime.fromisoformat(entries[0].recorded)
    assert abs((datetime.now(timezone.utc) - recorded).total_seconds()) < 60
    assert book.code(first) == code
    # The old API still answers with the results alone.
    assert book.history("alice", "01-mqtt-telemetry") == [result(score=8), result(score=10)]


def test_a_big_submission_is_kept_cut_with_its_full_hash(tmp_path: Path) -> None:
    book = Gradebook(tmp_path / "g.sqlite")
    code = b"#" * (CODE_LIMIT_BYTES + 1000)
    row = book.record(result(), by="cli", code=code)
    entry = book.entries()[0]
    assert entry.code_sha256 == hashlib.sha256(code).hexdigest() and entry.code_size == len(code)
    assert book.code(row) == code[:CODE_LIMIT_BYTES]


def test_without_code_the_hash_comes_from_the_result_and_nothing_is_kept(tmp_path: Path) -> None:
    book = Gradebook(tmp_path / "g.sqlite")
    row = book.record(result(sha256="ab" * 32), by="cli")
    entry = book.entries()[0]
    assert entry.code_sha256 == "ab" * 32 and entry.code_size is None and book.code(row) is None
    # An old call site (no by) still works, and says it does not know who asked.
    book.record(result())
    assert book.entries()[1].requested_by == "unknown"
    with pytest.raises(StoreError, match="who asked"):
        book.record(result(), by="  ")


def test_grades_cannot_be_changed_or_deleted_even_with_sql(tmp_path: Path) -> None:
    path = tmp_path / "g.sqlite"
    book = Gradebook(path)
    book.record(result(score=3), by="cli", code=b"x")
    db = sqlite3.connect(path)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only: a grade cannot be changed"):
            db.execute("UPDATE grades SET score = 10")
        with pytest.raises(sqlite3.DatabaseError, match="append-only: a grade cannot be deleted"):
            db.execute("DELETE FROM grades")
    finally:
        db.close()
    assert [e.result.score for e in book.entries()] == [3]


def test_an_old_gradebook_is_migrated_in_place(tmp_path: Path) -> None:
    import json

    path = tmp_path / "old.sqlite"
    old = result(site="bob", score=10)
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    db.execute("INSERT INTO grades (site, lab_id, target, score, max_score, started, duration_s, result)"
               " VALUES (?,?,?,?,?,?,?,?)", ("bob", old.lab_id, "sim", 10, 10, old.started.isoformat(), 9.1,
                                              json.dumps(old.to_dict())))
    db.commit()
    db.close()
    book = Gradebook(path)  # adds the columns and the triggers
    book.record(dataclasses.replace(old, score=9), by="cli", code=b"y")
    entries = book.entries("bob")
    assert [(e.requested_by, e.code_sha256, e.result.score) for e in entries] == [
        ("unknown", None, 10), ("cli", hashlib.sha256(b"y").hexdigest(), 9)]
    assert Gradebook(path).history("bob")[0] == old  # opening again changes nothing
    db = sqlite3.connect(path)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("DELETE FROM grades WHERE site = 'bob'")
    finally:
        db.close()
