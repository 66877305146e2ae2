"""The rules a classroom name must follow: roles, usernames, emails, sites, cohorts.

Sites follow the message contract (``citylab.contract``): a trainee's site is
the ``{site}`` of ``citylab/{site}/{device}/{channel}``, so a site the
contract refuses could never carry a message. ``SHARED_SITE`` is the city
every trainee reads and nobody but the server's services writes.
"""

from __future__ import annotations

import re
import unicodedata

from citylab.contract import Topic
from citylab.errors import ClassroomError, ContractError

ROLES = ("instructor", "trainee")
SHARED_SITE = "city"
# The account the server's own services (simulator, recorder, dashboard)
# connect to the broker with; no person logs in with it.
SERVICE_USERNAME = "citylab-service"

USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
# Deliberately loose: one @, no spaces, a dot in the domain. Whether the
# mailbox exists is not ours to know; a typo like "alice.example.org" is.
EMAIL_PATTERN = re.compile(r"[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\".]+")
COHORT_PATTERN = re.compile(r"\w[\w .-]{0,63}")
MIN_PASSWORD = 8


def check_username(username: str) -> None:
    if not isinstance(username, str) or not USERNAME_PATTERN.fullmatch(username):
        raise ClassroomError(
            f"username {username!r} is not valid: use 1 to 64 lower-case letters, digits, '.', '_' or '-',"
            f" starting with a letter or digit")
    if username == SERVICE_USERNAME:
        raise ClassroomError(f"username {username!r} is reserved for the server's own services")


def check_email(email: str) -> None:
    if not isinstance(email, str) or not EMAIL_PATTERN.fullmatch(email):
        raise ClassroomError(f"email {email!r} is not an email address like alice@example.org")


def check_site(site: str) -> None:
    """A trainee's own site: a contract site id, and not the shared city."""
    try:
        Topic(site, "device", "status")  # the contract's own site rule, and its sentence
    except ContractError as exc:
        raise ClassroomError(str(exc)) from exc
    if site == SHARED_SITE:
        raise ClassroomError(
            f"site {site!r} is the shared city every trainee reads; give the trainee a site of their own")


def check_cohort(name: str) -> None:
    if not isinstance(name, str) or not COHORT_PATTERN.fullmatch(name) or name != name.strip():
        raise ClassroomError(
            f"cohort name {name!r} is not valid: use 1 to 64 letters, digits, spaces, '.', '_' or '-',"
            f" starting with a letter or digit")


def check_role(role: str) -> None:
    if role not in ROLES:
        raise ClassroomError(f"role {role!r} is not one of {', '.join(ROLES)}")


def check_password(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise ClassroomError(f"a password needs at least {MIN_PASSWORD} characters")


def username_from_email(email: str) -> str:
    """A username suggested by an email's local part: ``Zoë.Ngó@x.org`` gives ``zoe.ngo``."""
    local = email.split("@", 1)[0].lower()
    # Accents go (é -> e), anything else outside the username alphabet too.
    ascii_text = unicodedata.normalize("NFKD", local).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^a-z0-9._-]", "", ascii_text).lstrip("._-")[:56]
    return cleaned or "trainee"
