"""Response shapes of the API, so /openapi.json describes what the page reads."""

from __future__ import annotations

from pydantic import BaseModel

# bool before float: pydantic's smart union keeps a JSON true a bool.
Value = bool | float | str | None


class Problem(BaseModel):
    """Every error: one sentence that says what is wrong and what to do."""

    detail: str


# Declared on every router so /openapi.json shows the error answers too.
ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": Problem, "description": "classroom mode: not logged in"},
    403: {"model": Problem, "description": "classroom mode: another trainee's site, or instructors only"},
    404: {"model": Problem, "description": "no such device, lab, run, grading or site"},
    422: {"model": Problem, "description": "a parameter is wrong; the sentence names it"},
    503: {"model": Problem, "description": "the store or the gradebook cannot be read"},
}


class Latest(BaseModel):
    """The latest value of one quantity."""

    value: Value
    unit: str
    time: float


class Device(BaseModel):
    """A device as the store last saw it."""

    site: str
    device: str
    last_seen: float
    status: str | None
    telemetry: dict[str, Latest]
    state: dict[str, Latest]


class ReadingOut(BaseModel):
    """One recorded value of a device, in the device's time (Unix seconds)."""

    name: str
    unit: str
    time: float
    value: Value
    received: float


class DeadLetterOut(BaseModel):
    """A message the contract refused, with the reason in a trainee's words."""

    id: int
    topic: str
    site: str | None
    device: str | None
    payload: str
    size: int
    reason: str
    kind: str
    received: float


class Health(BaseModel):
    """The dashboard can read its store; how many rows of each kind it holds."""

    ok: bool
    counts: dict[str, int]


class StatusChange(BaseModel):
    """A device said online or offline (offline is often its last will, sent by the broker)."""

    status: str
    received: float


class SeriesPoint(BaseModel):
    """One bucket of a chart: the mean and extremes of the readings in it."""

    time: float
    mean: float
    min: float
    max: float
    n: int


class Series(BaseModel):
    """A quantity's history over [start, end], in at most ``points`` buckets."""

    name: str
    unit: str
    start: float
    end: float
    points: list[SeriesPoint]


class DistrictOut(BaseModel):
    name: str
    devices: int
    centre: list[float]
    outline: list[list[float]]


class CityOut(BaseModel):
    """The city the map draws: positions in metres east (x) and north (y) of its centre.

    ``devices`` is columnar (one list per field, same order) so 10,000 devices stay a small download.
    """

    name: str
    description: str
    site: str
    latitude: float
    longitude: float
    bounds: dict[str, float]
    districts: list[DistrictOut]
    types: list[str]
    devices: dict[str, list[str | float]]
    events: list[dict[str, str | int | float | bool | list[str] | None]]
    injected: list[dict[str, str | int | float | bool | list[str] | None]]
    epoch: float | None


class LabSummary(BaseModel):
    """A lab in the catalogue."""

    id: str
    number: str
    title: str
    summary: str
    level: str
    duration_minutes: int
    targets: list[str]
    competences: list[str]
    window_seconds: float
    device: str


class LabDetail(LabSummary):
    """A lab with its instructions, as markdown and as HTML for the page."""

    instructions: str
    instructions_html: str
    has_reference: bool


class RunRequest(BaseModel):
    """Start a grading: ``source`` is the trainee's program, or ``reference`` grades the lab's own solution."""

    site: str
    source: str | None = None
    filename: str = "device.py"
    reference: bool = False


class CheckOut(BaseModel):
    name: str
    title: str
    points: int
    max_points: int
    passed: bool
    feedback: str


class RunOut(BaseModel):
    """A grading started from the page: queued, running, done or failed, with its progress and result."""

    id: int
    lab_id: str
    site: str
    solution_name: str
    state: str
    progress: list[str]
    checks: list[CheckOut]  # decided so far, shown live before the result
    result: dict[str, object] | None
    error: str | None
    grade_id: int | None
    created: float
    finished: float | None
    requested_by: str = "dashboard"  # the account that asked for it


class GradeSummary(BaseModel):
    """One grading in the gradebook."""

    id: int
    site: str
    lab_id: str
    target: str
    score: int
    max_score: int
    passed: bool
    started: str
    duration_s: float


class GradeDetail(GradeSummary):
    """One grading with every check, its feedback and the program's output."""

    result: dict[str, object]


class MatrixCell(BaseModel):
    site: str
    lab_id: str
    best: int
    max_score: int
    attempts: int
    last_id: int
    last: str
    passed: bool


class Matrix(BaseModel):
    """Best score per trainee (site) and lab."""

    sites: list[str]
    labs: list[str]
    cells: list[MatrixCell]


class ReplaySpan(BaseModel):
    """The first and last reading time of a site, in Unix seconds."""

    start: float
    end: float


class SnapshotReading(BaseModel):
    """A device's newest value of one quantity at a past moment."""

    site: str
    device: str
    channel: str
    name: str
    unit: str
    time: float
    value: Value


class SessionOut(BaseModel):
    """Who is logged in; ``mode`` "open" when the dashboard runs without accounts."""

    mode: str
    username: str | None
    name: str
    role: str
    site: str | None
    shared_site: str
    csrf: str


class AccountOut(BaseModel):
    """An account as an instructor sees it (never a password)."""

    username: str
    name: str
    email: str
    role: str
    site: str | None
    cohort: str | None
    active: bool


class PasswordReset(BaseModel):
    """A new login password, shown once: give it to the trainee."""

    username: str
    password: str
    sessions_ended: int
