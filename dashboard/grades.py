"""Reading the gradebook for instructors: runs, one run, the cohort matrix, CSV.

``labs.Gradebook`` appends gradings and reads one site's history; an
instructor needs every site at once, so this module reads the same
``grades`` table directly (opening it through ``Gradebook`` first, which
creates the table when the file is new). Read-only.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

from citylab.errors import StoreError

CSV_COLUMNS = ("id", "site", "lab_id", "target", "score", "max_score", "passed", "started", "duration_s",
               "failed_checks")


class GradesReader:
    """Every grading in a gradebook file, for the instructor's views."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._ready = False

    def _rows(self, sql: str, params: list[Any]) -> list[sqlite3.Row]:
        if not self._ready:
            # Created on first use, not at start: a broken gradebook file must
            # not stop the dashboard from starting (its pages say 503 instead).
            from labs import Gradebook

            Gradebook(self.path)  # creates the file and its table if they are new; raises StoreError
            self._ready = True
        try:
            db = sqlite3.connect(self.path, timeout=30)
            try:
                db.row_factory = sqlite3.Row
                return db.execute(sql, params).fetchall()
            finally:
                db.close()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the gradebook {self.path}: {exc}") from exc

    def runs(self, site: str | None = None, lab_id: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        """Gradings, newest first, without their per-check detail."""
        sql, params = "SELECT * FROM grades WHERE 1=1", []
        if site:
            sql += " AND site = ?"
            params.append(site)
        if lab_id:
            sql += " AND lab_id = ?"
            params.append(lab_id)
        params.append(limit)
        return [_summary(row) for row in self._rows(sql + " ORDER BY id DESC LIMIT ?", params)]

    def run(self, grade_id: int) -> dict[str, Any] | None:
        """One grading with every check and the program's output; None if there is none."""
        rows = self._rows("SELECT * FROM grades WHERE id = ?", [grade_id])
        if not rows:
            return None
        return {**_summary(rows[0]), "result": json.loads(rows[0]["result"])}

    def matrix(self, site_prefix: str | None = None, lab_id: str | None = None,
               site: str | None = None) -> dict[str, Any]:
        """Best score per site and lab, with the number of attempts: the cohort x labs table
        (``site``: one site's row only)."""
        sql = ("SELECT site, lab_id, MAX(CAST(score AS REAL) / max_score) AS best_ratio, MAX(score) AS best,"
               " MAX(max_score) AS max_score, COUNT(*) AS attempts, MAX(id) AS last_id, MAX(started) AS last"
               " FROM grades WHERE max_score > 0")
        params: list[Any] = []
        if site_prefix:
            sql += " AND site LIKE ? ESCAPE '\\'"
            params.append(site_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
        if site is not None:
            sql += " AND site = ?"
            params.append(site)
        if lab_id:
            sql += " AND lab_id = ?"
            params.append(lab_id)
        rows = self._rows(sql + " GROUP BY site, lab_id ORDER BY site, lab_id", params)
        sites = sorted({r["site"] for r in rows})
        labs = sorted({r["lab_id"] for r in rows})
        cells = [{"site": r["site"], "lab_id": r["lab_id"], "best": r["best"], "max_score": r["max_score"],
                  "attempts": r["attempts"], "last_id": r["last_id"], "last": r["last"],
                  "passed": r["best"] >= r["max_score"]} for r in rows]
        return {"sites": sites, "labs": labs, "cells": cells}

    def csv(self, site: str | None = None, lab_id: str | None = None) -> str:
        """Every grading (filtered) as CSV, oldest first: one row per grading."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        sql, params = "SELECT * FROM grades WHERE 1=1", []
        if site:
            sql += " AND site = ?"
            params.append(site)
        if lab_id:
            sql += " AND lab_id = ?"
            params.append(lab_id)
        for row in self._rows(sql + " ORDER BY id", params):
            run = _summary(row)
            failed = [c["name"] for c in json.loads(row["result"]).get("checks", []) if not c["passed"]]
            writer.writerow([run["id"], run["site"], run["lab_id"], run["target"], run["score"], run["max_score"],
                             "yes" if run["passed"] else "no", run["started"], run["duration_s"],
                             " ".join(failed)])
        return out.getvalue()


def _summary(row: sqlite3.Row) -> dict[str, Any]:
    return {"id": row["id"], "site": row["site"], "lab_id": row["lab_id"], "target": row["target"],
            "score": row["score"], "max_score": row["max_score"], "passed": row["score"] >= row["max_score"],
            "started": row["started"], "duration_s": row["duration_s"]}
