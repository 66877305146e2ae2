"""The gradebook: every grading ever recorded, in SQLite, append-only.

Re-grading appends: the history of a trainee's attempts is what an
instructor reads ("three tries, full marks on the last"). Each row says who
asked for the grading (an account name, or "cli"), when it was recorded,
which code was graded (the SHA-256 of the submitted file and a copy of it,
up to ``CODE_LIMIT_BYTES``) and the whole result as JSON beside the columns
an instructor filters and sorts on.

Append-only is enforced by SQLite itself, not by this class: triggers refuse
any UPDATE or DELETE on ``grades``, so no code path (a dashboard bug, a
trainee's program with the file in reach) can quietly rewrite a grade.
Gradebooks written before these columns existed are migrated in place (the
columns are added; old rows say ``by`` = "unknown").
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from citylab.errors import StoreError
from labs.engine.result import GradeResult

# A submission is one Python file; a bigger one is kept cut, with its full hash.
CODE_LIMIT_BYTES = 256 * 1024

SCHEMA = """
CREATE TABLE IF NOT EXISTS grades (
    id INTEGER PRIMARY KEY,
    site TEXT NOT NULL, lab_id TEXT NOT NULL, target TEXT NOT NULL,
    score INTEGER NOT NULL, max_score INTEGER NOT NULL,
    started TEXT NOT NULL, duration_s REAL NOT NULL,
    result TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS grades_by_site ON grades (site, lab_id, id);
"""

# Added after the first version: name -> declaration. ALTER TABLE ADD COLUMN
# on an old file, part of CREATE TABLE's effect on a new one.
HISTORY_COLUMNS = {
    "requested_by": "TEXT NOT NULL DEFAULT 'unknown'",
    "recorded": "TEXT NOT NULL DEFAULT ''",
    "code_sha256": "TEXT",
    "code": "BLOB",
    "code_size": "INTEGER",
}

TRIGGERS = """
CREATE TRIGGER IF NOT EXISTS grades_no_update BEFORE UPDATE ON grades
BEGIN SELECT RAISE(ABORT, 'the gradebook is append-only: a grade cannot be changed'); END;
CREATE TRIGGER IF NOT EXISTS grades_no_delete BEFORE DELETE ON grades
BEGIN SELECT RAISE(ABORT, 'the gradebook is append-only: a grade cannot be deleted'); END;
"""


@dataclass(frozen=True)
class GradeEntry:
    """One row of the history: the result, and who asked, when, for which code."""

    id: int
    requested_by: str
    recorded: str  # ISO time the gradebook wrote it ("" for rows older than the history columns)
    code_sha256: str | None
    code_size: int | None  # the submitted file's full size; the kept copy is cut at CODE_LIMIT_BYTES
    result: GradeResult


class Gradebook:
    """Grades of every site and lab, appended one grading at a time."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # 0700: trainees' programs run on this machine
            with self._connect() as db:
                db.executescript(SCHEMA)
                have = {row[1] for row in db.execute("PRAGMA table_info(grades)")}
                for name, declaration in HISTORY_COLUMNS.items():
                    if name not in have:
                        db.execute(f"ALTER TABLE grades ADD COLUMN {name} {declaration}")
                db.executescript(TRIGGERS)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the gradebook {self.path}: {exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        # A connection per call: gradings finish in threads of their own, and
        # a gradebook is written a few times a minute at most.
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def record(self, result: GradeResult, *, by: str = "unknown", code: bytes | None = None) -> int:
        """Append a grading; return its row id.

        ``by``: who asked for it (the account name, or "cli"); ``code``: the
        submitted file's bytes as graded (hashed, and kept up to CODE_LIMIT_BYTES).
        """
        if not isinstance(by, str) or not by.strip():
            raise StoreError("a grading must say who asked for it (by='cli' or an account name)")
        digest = (hashlib.sha256(code).hexdigest() if code is not None
                  else (result.solution.sha256 or None))
        kept = code[:CODE_LIMIT_BYTES] if code is not None else None
        size = len(code) if code is not None else None
        recorded = datetime.now(timezone.utc).isoformat()
        try:
            db = self._connect()
            try:
                with db:
                    cur = db.execute(
                        "INSERT INTO grades (site, lab_id, target, score, max_score, started, duration_s, result,"
                        " requested_by, recorded, code_sha256, code, code_size) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (result.site, result.lab_id, result.target, result.score, result.max_score,
                         result.started.isoformat(), result.duration_s, json.dumps(result.to_dict()),
                         by.strip(), recorded, digest, kept, size),
                    )
                return int(cur.lastrowid or 0)
            finally:
                db.close()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write to the gradebook {self.path}: {exc}") from exc

    def _select(self, columns: str, site: str | None, lab_id: str | None) -> list[tuple]:
        sql, params = f"SELECT {columns} FROM grades WHERE 1=1", []
        if site is not None:
            sql += " AND site = ?"
            params.append(site)
        if lab_id is not None:
            sql += " AND lab_id = ?"
            params.append(lab_id)
        try:
            db = self._connect()
            try:
                return db.execute(sql + " ORDER BY id", params).fetchall()
            finally:
                db.close()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the gradebook {self.path}: {exc}") from exc

    def history(self, site: str, lab_id: str | None = None) -> list[GradeResult]:
        """A site's gradings, oldest first, for one lab or all of them."""
        return [GradeResult.from_dict(json.loads(row[0])) for row in self._select("result", site, lab_id)]

    def entries(self, site: str | None = None, lab_id: str | None = None) -> list[GradeEntry]:
        """The full history (who, when, which code, which result), oldest first; every site if none given."""
        rows = self._select("id, requested_by, recorded, code_sha256, code_size, result", site, lab_id)
        return [GradeEntry(row[0], row[1], row[2], row[3], row[4], GradeResult.from_dict(json.loads(row[5])))
                for row in rows]

    def code(self, entry_id: int) -> bytes | None:
        """The submitted code kept with grading ``entry_id`` (cut at CODE_LIMIT_BYTES); None if none was kept."""
        try:
            db = self._connect()
            try:
                row = db.execute("SELECT code FROM grades WHERE id = ?", (entry_id,)).fetchone()
            finally:
                db.close()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the gradebook {self.path}: {exc}") from exc
        return bytes(row[0]) if row and row[0] is not None else None
