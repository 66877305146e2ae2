"""Reading a roster CSV (columns ``name,email,site``) into checked rows.

Every problem is reported as one sentence naming the file's line, and the
whole file is checked before anything is created, so a roster is imported
entirely or not at all.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from citylab.errors import ClassroomError
from classroom.rules import check_email, check_site

COLUMNS = ("name", "email", "site")


@dataclass(frozen=True)
class RosterRow:
    """One trainee of a roster, with the line of the file it came from."""

    line: int
    name: str
    email: str
    site: str


def read_roster(path: Path) -> list[RosterRow]:
    """The checked rows of a roster CSV; ClassroomError naming the line on the first problem."""
    path = Path(path)
    try:
        # utf-8-sig: a spreadsheet's "CSV UTF-8" export starts with a BOM.
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise ClassroomError(f"roster {path} does not exist") from exc
    except UnicodeDecodeError as exc:
        raise ClassroomError(f"roster {path} is not UTF-8 text: export it as 'CSV UTF-8'") from exc
    except OSError as exc:
        raise ClassroomError(f"roster {path} cannot be read: {exc.strerror}") from exc
    reader = csv.reader(text.splitlines())
    try:
        header = next(reader)
    except StopIteration:
        raise ClassroomError(f"roster {path} is empty: its first line must be the header name,email,site") from None
    columns = [cell.strip().lower() for cell in header]
    missing = [c for c in COLUMNS if c not in columns]
    if missing:
        raise ClassroomError(
            f"{path}, line 1: the header lacks the column{'s' if len(missing) > 1 else ''} {', '.join(missing)};"
            f" the first line must be name,email,site")
    index = {c: columns.index(c) for c in COLUMNS}
    rows: list[RosterRow] = []
    emails: dict[str, int] = {}
    sites: dict[str, int] = {}
    for cells in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue  # blank lines, often at the end of an export
        where = f"{path}, line {line}"
        if len(cells) < len(columns):
            raise ClassroomError(f"{where}: has {len(cells)} values but the header has {len(columns)} columns")
        name, email, site = (cells[index[c]].strip() for c in COLUMNS)
        for column, value in (("name", name), ("email", email), ("site", site)):
            if not value:
                raise ClassroomError(f"{where}: the {column} is empty")
        try:
            check_email(email)
            check_site(site)
        except ClassroomError as exc:
            raise ClassroomError(f"{where}: {exc}") from None
        key = email.lower()
        if key in emails:
            raise ClassroomError(f"{where}: email {email!r} is already on line {emails[key]}")
        if site in sites:
            raise ClassroomError(f"{where}: site {site!r} is already given to line {sites[site]};"
                                 f" every trainee needs a site of their own")
        emails[key] = line
        sites[site] = line
        rows.append(RosterRow(line, name, email, site))
    if not rows:
        raise ClassroomError(f"roster {path} has a header but no trainees")
    return rows
