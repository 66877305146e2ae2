"""The gradebook: every grading ever recorded, in SQLite.

Re-grading appends: the history of a trainee's attempts is what an
instructor reads ("three tries, full marks on the last"). The table can live
in the same file as the recorder's SQLite store; the whole result is kept as
JSON beside the columns an instructor filters and sorts on.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from citylab.errors import StoreError
from labs.engine.result import GradeResult

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


class Gradebook:
    """Grades of every site and lab, appended one grading at a time."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.executescript(SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the gradebook {self.path}: {exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        # A connection per call: gradings finish in threads of their own, and
        # a gradebook is written a few times a minute at most.
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def record(self, result: GradeResult) -> int:
        """Append a grading; return its row id."""
        try:
            db = self._connect()
            try:
                with db:
                    cur = db.execute(
                        "INSERT INTO grades (site, lab_id, target, score, max_score, started, duration_s, result)"
                        " VALUES (?,?,?,?,?,?,?,?)",
                        (result.site, result.lab_id, result.target, result.score, result.max_score,
                         result.started.isoformat(), result.duration_s, json.dumps(result.to_dict())),
                    )
                return int(cur.lastrowid or 0)
            finally:
                db.close()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write to the gradebook {self.path}: {exc}") from exc

    def history(self, site: str, lab_id: str | None = None) -> list[GradeResult]:
        """A site's gradings, oldest first, for one lab or all of them."""
        sql, params = "SELECT result FROM grades WHERE site = ?", [site]
        if lab_id is not None:
            sql += " AND lab_id = ?"
            params.append(lab_id)
        try:
            db = self._connect()
            try:
                rows = db.execute(sql + " ORDER BY id", params).fetchall()
            finally:
                db.close()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the gradebook {self.path}: {exc}") from exc
        return [GradeResult.from_dict(json.loads(row[0])) for row in rows]
