"""The gradebook for instructors: gradings, one grading, the cohort matrix, CSV export."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from dashboard.deps import GradesDep
from dashboard.models import ERRORS, GradeDetail, GradeSummary, Matrix

router = APIRouter(prefix="/api/gradebook", tags=["gradebook"], responses=ERRORS)


@router.get("/grades", response_model=list[GradeSummary])
def list_grades(
    grades: GradesDep, site: str | None = None, lab_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
) -> list[dict[str, Any]]:
    """Gradings, newest first; ``site`` for one trainee, ``lab_id`` for one lab."""
    return grades.runs(site or None, lab_id or None, limit)


@router.get("/grades/{grade_id}", response_model=GradeDetail)
def get_grade(grade_id: int, grades: GradesDep) -> dict[str, Any]:
    """One grading with every check's points and feedback, and the program's last output."""
    found = grades.run(grade_id)
    if found is None:
        raise HTTPException(status_code=404, detail=f"the gradebook has no grading {grade_id}")
    return found


@router.get("/matrix", response_model=Matrix)
def matrix(grades: GradesDep, site_prefix: str | None = None, lab_id: str | None = None) -> dict[str, Any]:
    """Best score per site and lab with attempts; ``site_prefix`` picks a cohort (``group1-``)."""
    return grades.matrix(site_prefix or None, lab_id or None)


@router.get("/export.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}, "description": "one row per grading"}})
def export_csv(grades: GradesDep, site: str | None = None, lab_id: str | None = None) -> Response:
    """Every grading (filtered by ``site`` and ``lab_id``) as CSV, oldest first."""
    return Response(
        grades.csv(site or None, lab_id or None), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="citylab-gradebook.csv"'},
    )
