"""The gradebook for instructors: gradings, one grading, the cohort matrix, CSV export."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import Response

from dashboard.deps import GradesDep, ViewerDep
from dashboard.models import ERRORS, GradeDetail, GradeSummary, Matrix

# Matches no site: a trainee without a site (an instructor-made account gone wrong) sees nothing.
NO_SITE = "\x00"

router = APIRouter(prefix="/api/gradebook", tags=["gradebook"], responses=ERRORS)


@router.get("/grades", response_model=list[GradeSummary])
def list_grades(
    grades: GradesDep, viewer: ViewerDep, site: str | None = None, lab_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
) -> list[dict[str, Any]]:
    """Gradings, newest first; ``site`` for one trainee, ``lab_id`` for one lab (a trainee: their own)."""
    return grades.runs(_own(viewer, site), lab_id or None, limit)


@router.get("/grades/{grade_id}", response_model=GradeDetail)
def get_grade(grade_id: Annotated[int, Path(ge=1, le=2**63 - 1)], grades: GradesDep,
              viewer: ViewerDep) -> dict[str, Any]:
    """One grading with every check's points and feedback, and the program's last output."""
    found = grades.run(grade_id)
    if found is None:
        raise HTTPException(status_code=404, detail=f"the gradebook has no grading {grade_id}")
    if not viewer.owns(found["site"]):
        raise HTTPException(status_code=403, detail=f"not allowed: grading {grade_id} is site "
                                                    f"{found['site']!r}'s, not yours")
    return found


@router.get("/matrix", response_model=Matrix)
def matrix(grades: GradesDep, viewer: ViewerDep, site_prefix: str | None = None,
           lab_id: str | None = None) -> dict[str, Any]:
    """Best score per site and lab with attempts; ``site_prefix`` picks a cohort (``group1-``).
    A trainee's matrix is their own site's row."""
    if viewer.sees_everything:
        return grades.matrix(site_prefix or None, lab_id or None)
    return grades.matrix(None, lab_id or None, site=viewer.site or NO_SITE)


@router.get("/export.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}, "description": "one row per grading"}})
def export_csv(grades: GradesDep, viewer: ViewerDep, site: str | None = None,
               lab_id: str | None = None) -> Response:
    """Every grading (filtered by ``site`` and ``lab_id``; a trainee's own) as CSV, oldest first."""
    return Response(
        grades.csv(_own(viewer, site), lab_id or None), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="citylab-gradebook.csv"'},
    )


def _own(viewer: Any, site: str | None) -> str | None:
    # The gate has already refused a trainee naming another site; naming none means their own.
    if viewer.sees_everything:
        return site or None
    return viewer.site or NO_SITE
