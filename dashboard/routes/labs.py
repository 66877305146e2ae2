"""GET /api/labs, one lab with its instructions, and POST a grading run of it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from citylab import contract
from citylab.errors import ContractError, LabError, UnknownLabError
from dashboard import instructions
from dashboard.deps import RunsDep, ViewerDep
from dashboard.models import ERRORS, LabDetail, LabSummary, Problem, RunOut, RunRequest
from dashboard.runs import MAX_SOLUTION_BYTES

router = APIRouter(prefix="/api/labs", tags=["labs"], responses=ERRORS)


def _summary(lab: Any) -> dict[str, Any]:
    return {"id": lab.id, "number": lab.number, "title": lab.title, "summary": lab.summary, "level": lab.level,
            "duration_minutes": lab.duration_minutes, "targets": list(lab.targets),
            "competences": list(lab.competences), "window_seconds": lab.window_seconds, "device": lab.device}


def _lab(lab_id: str) -> Any:
    from labs import get_lab

    if not lab_id.isascii() or not lab_id.isprintable():
        # No lab is called that; and labs.get_lab reads "²" as a digit it cannot convert.
        raise HTTPException(status_code=404, detail=f"there is no lab {lab_id!r}: lab ids are like "
                                                    f"01 or 01-mqtt-telemetry")
    try:
        return get_lab(lab_id)
    except UnknownLabError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    except LabError as exc:
        # A broken lab folder is the server's content, but a sentence beats a 500.
        raise HTTPException(status_code=503, detail=str(exc)) from exc


@router.get("", response_model=list[LabSummary])
def list_labs() -> list[dict[str, Any]]:
    """The catalogue: title, level, duration, targets and competences of every lab."""
    from labs import list_labs as catalogue

    try:
        return [_summary(lab) for lab in catalogue()]
    except LabError as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from exc


@router.get("/{lab_id}", response_model=LabDetail)
def get_lab(lab_id: str) -> dict[str, Any]:
    """One lab with its instructions rendered; 404 if there is no such lab."""
    lab = _lab(lab_id)
    return {**_summary(lab), "instructions": lab.instructions,
            "instructions_html": instructions.render(lab.instructions), "has_reference": lab.solution.is_file()}


@router.post("/{lab_id}/runs", response_model=RunOut, status_code=202,
             responses={413: {"model": Problem, "description": "the program is larger than the limit"},
                        429: {"model": Problem, "description": "too many gradings: wait (Retry-After)"}})
def start_run(lab_id: str, request: RunRequest, runs: RunsDep, viewer: ViewerDep, http: Request) -> dict[str, Any]:
    """Grade a program (``source``) or the lab's reference solution (``reference: true``) as ``site``
    (a trainee: their own site only; a few gradings a minute).

    Returns at once with the run's id; follow it with GET /api/runs/{id}.
    """
    if not viewer.owns(request.site):
        raise HTTPException(status_code=403, detail=f"not allowed: site {request.site!r} is not yours; "
                                                    f"grade as your own site, {viewer.site!r}")
    if request.reference and not viewer.sees_everything:
        # The reference solution earns full marks: graded as a trainee's site it would be their grade.
        raise HTTPException(status_code=403, detail="not allowed: only an instructor grades the reference "
                                                    "solution; choose your own program")
    lab = _lab(lab_id)
    try:
        contract.Topic(request.site, lab.device, "status")
    except ContractError as exc:
        raise HTTPException(status_code=422, detail=f"site {request.site!r}: {exc.reason}") from exc
    if "sim" not in lab.targets:
        raise HTTPException(status_code=422, detail=f"lab {lab.id} runs on a kit only: grade it with "
                                                    f"'citylab grade' next to the kit")
    if request.reference == (request.source is not None):
        raise HTTPException(status_code=422, detail="give either the program's source or reference: true, "
                                                    "not both and not neither")
    source: bytes | None = None
    if request.source is not None:
        source = request.source.encode("utf-8")
        if not source.strip():
            raise HTTPException(status_code=422, detail="the program is empty: choose your device.py file")
        if len(source) > MAX_SOLUTION_BYTES:
            raise HTTPException(status_code=413, detail=f"the program is {len(source):,} bytes; "
                                                        f"the limit is {MAX_SOLUTION_BYTES:,}")
        name = request.filename.rsplit("/", 1)[-1][:100] or "device.py"
    else:
        if not lab.solution.is_file():
            raise HTTPException(status_code=404, detail=f"lab {lab.id} has no reference solution")
        name = "reference solution"
    auth = http.app.state.auth
    if auth is not None:
        key = f"runs:{viewer.username}"
        wait = auth.runs_per_user.retry_after(key)
        if wait:
            raise HTTPException(status_code=429, headers={"Retry-After": str(wait)},
                                detail=f"you started {auth.runs_per_user.limit} gradings in the last "
                                       f"{auth.runs_per_user.seconds:g} s: wait {wait} s and try again")
        auth.runs_per_user.hit(key)
    run = runs.start(lab.id, request.site, source, name, None if source is not None else lab.solution,
                     by=viewer.who)
    return run.to_dict()
