"""The lab catalogue: every folder ``labs/NN-slug/`` that holds a ``lab.toml``.

A lab is one folder, like an ESPHome component: its manifest (``lab.toml``),
the trainee's instructions (``README.md``), a ``starter/``, a reference
``solution/``, known-wrong solutions in ``wrong/`` and the ``checks.py`` the
grader runs; an analysis lab (``kind = "analysis"``) adds its dataset
generator, ``dataset.py``. Adding a lab adds a folder and touches no other
file: the catalogue finds it by looking.

The manifest is checked field by field when it is read, so a broken lab is a
``LabError`` naming the file and the field, not a KeyError at grading time.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from citylab.contract import ID_PATTERN
from citylab.errors import LabError, UnknownLabError

LABS_ROOT = Path(__file__).resolve().parent
FOLDER_PATTERN = re.compile(r"(\d{2})-([a-z0-9][a-z0-9-]*)")
TARGETS = ("kit", "sim")
# "device": the grader runs the program against a broker and watches it;
# "analysis": the grader hands it a dataset of its own and reads its answer.
KINDS = ("device", "analysis", "sim", "serial")
# "sim" (labs/engine/sim_lab.py): the program controls a seeded virtual city, the lab's scenario.
# "serial" (labs/engine/serial_lab.py): the program reads a kit on a pty and bridges it to MQTT.
# The file a trainee hands in, in starter/ and solution/, by kind.
PROGRAM_FILES = {"device": "device.py", "analysis": "analysis.py", "sim": "controller.py", "serial": "bridge.py"}
# Analysis programs publish nothing; they still get a valid id in CITYLAB_DEVICE.
ANALYSIS_DEVICE = "analysis"
LEVELS = ("beginner", "intermediate", "advanced")
# Services an analysis lab may ask the grader for: "influxdb" gives the program
# a fresh, empty InfluxDB 1.x database (labs/engine/analysis.py).
NEEDS = ("influxdb",)
# The grader records a device lab's run for this long, and gives an analysis
# program this long to answer; outside these bounds a lab is either too
# short to see a 2 s rhythm or too long for "a grade in seconds".
WINDOW_LIMITS = (3.0, 600.0)


@dataclass(frozen=True)
class Lab:
    """One lab, as its manifest and folder describe it."""

    id: str
    title: str
    level: str
    duration_minutes: int
    targets: tuple[str, ...]
    competences: tuple[str, ...]
    folder: Path
    instructions: str
    window_seconds: float
    device: str
    summary: str = ""
    scenario: str = ""
    kind: str = "device"
    needs: tuple[str, ...] = ()

    @property
    def number(self) -> str:
        return self.id[:2]

    @property
    def checks(self) -> Path:
        return self.folder / "checks.py"

    @property
    def starter(self) -> Path:
        return self.folder / "starter" / PROGRAM_FILES[self.kind]

    @property
    def solution(self) -> Path:
        """The reference solution, which must score full marks."""
        return self.folder / "solution" / PROGRAM_FILES[self.kind]

    @property
    def dataset(self) -> Path:
        """An analysis lab's dataset generator: ``make(rng, site) -> (rows, truth)``."""
        return self.folder / "dataset.py"

    def wrong_solutions(self) -> list[Path]:
        """Known-wrong solutions, each of which must lose its points."""
        return sorted((self.folder / "wrong").glob("*.py"))


# --- reading a manifest ---------------------------------------------------------


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _texts(value: Any) -> bool:
    return isinstance(value, list) and all(_text(v) for v in value)


# field -> (required, test, what a correct value looks like)
_FIELDS: dict[str, tuple[bool, Callable[[Any], bool], str]] = {
    "id": (True, _text, "the folder's name, like '01-mqtt-telemetry'"),
    "title": (True, _text, "a non-empty text"),
    "level": (True, lambda v: v in LEVELS, f"one of {', '.join(LEVELS)}"),
    "duration_minutes": (True, lambda v: type(v) is int and 1 <= v <= 600, "a whole number of minutes from 1 to 600"),
    "targets": (True, lambda v: _texts(v) and bool(v) and set(v) <= set(TARGETS),
                f"a non-empty list drawn from {list(TARGETS)}"),
    "competences": (True, lambda v: _texts(v) and bool(v), "a non-empty list of texts"),
    "window_seconds": (True, lambda v: type(v) in (int, float) and WINDOW_LIMITS[0] <= v <= WINDOW_LIMITS[1],
                       f"a number of seconds from {WINDOW_LIMITS[0]:.0f} to {WINDOW_LIMITS[1]:.0f}"),
    "kind": (False, lambda v: v in KINDS, f"one of {', '.join(KINDS)} (device if left out)"),
    # Required for device labs only: see load_lab.
    "device": (False, lambda v: isinstance(v, str) and bool(ID_PATTERN.fullmatch(v)),
               "a device id like 'env-01' (lower-case letters, digits and '-')"),
    "summary": (False, lambda v: isinstance(v, str), "a text"),
    # The city or scenario file a sim lab runs in; labs without one run alone.
    "scenario": (False, lambda v: isinstance(v, str), "a text"),
    "needs": (False, lambda v: isinstance(v, list) and all(isinstance(n, str) for n in v) and set(v) <= set(NEEDS),
              f"a list drawn from {list(NEEDS)}"),
}


def load_lab(folder: Path) -> Lab:
    """Read one lab folder; raise LabError naming the file and the field if it is broken."""
    manifest = folder / "lab.toml"
    try:
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LabError(f"{manifest}: cannot be read ({exc.strerror or exc})") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise LabError(f"{manifest}: is not valid TOML ({exc})") from exc
    for name, (required, test, expected) in _FIELDS.items():
        if name not in data:
            if required:
                raise LabError(f"{manifest}: field '{name}' is missing: it must be {expected}")
            continue
        if not test(data[name]):
            raise LabError(f"{manifest}: field '{name}' is {data[name]!r}, but it must be {expected}")
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise LabError(f"{manifest}: unknown field '{unknown[0]}' (known: {', '.join(_FIELDS)})")
    kind = data.get("kind", "device")
    if kind == "device" and "device" not in data:
        raise LabError(f"{manifest}: field 'device' is missing: it must be {_FIELDS['device'][2]}")
    if kind == "analysis" and not (folder / "dataset.py").is_file():
        raise LabError(f"{folder / 'dataset.py'}: missing: an analysis lab needs its dataset generator")
    if data["id"] != folder.name:
        raise LabError(f"{manifest}: field 'id' is {data['id']!r}, but it must be the folder's name {folder.name!r}")
    readme = folder / "README.md"
    try:
        instructions = readme.read_text(encoding="utf-8")
    except OSError as exc:
        raise LabError(f"{readme}: the lab's instructions cannot be read ({exc.strerror or exc})") from exc
    if not (folder / "checks.py").is_file():
        raise LabError(f"{folder / 'checks.py'}: missing: a lab needs its checks")
    return Lab(
        id=data["id"],
        title=data["title"].strip(),
        level=data["level"],
        duration_minutes=data["duration_minutes"],
        targets=tuple(data["targets"]),
        competences=tuple(data["competences"]),
        folder=folder,
        instructions=instructions,
        window_seconds=float(data["window_seconds"]),
        device=data.get("device", ANALYSIS_DEVICE),
        summary=data.get("summary", "").strip(),
        scenario=data.get("scenario", ""),
        kind=kind,
        needs=tuple(data.get("needs", ())),
    )


# --- the catalogue ----------------------------------------------------------------


def _folders(root: Path | None) -> list[Path]:
    root = LABS_ROOT if root is None else Path(root)
    return sorted(
        p for p in root.iterdir() if p.is_dir() and FOLDER_PATTERN.fullmatch(p.name) and (p / "lab.toml").is_file()
    )


def list_labs(root: Path | None = None) -> list[Lab]:
    """Every lab under ``root`` (the ``labs`` package by default), in number order."""
    return [load_lab(folder) for folder in _folders(root)]


def get_lab(lab_id: str, root: Path | None = None) -> Lab:
    """The lab called ``lab_id``: its full id ("01-mqtt-telemetry") or its number ("01" or "1").

    Only the matching folder is read, so one broken lab does not block the others.
    """
    wanted = str(lab_id).strip()
    # isdigit() alone accepts "²", which int() refuses.
    for folder in _folders(root):
        if wanted == folder.name or (wanted.isascii() and wanted.isdigit() and int(wanted) == int(folder.name[:2])):
            return load_lab(folder)
    raise UnknownLabError(f"no lab called {wanted!r}: run 'citylab labs list' to see them")
