"""Who may read and write which topics, for Mosquitto and for the embedded broker alike.

The rules, in one place:

- a trainee reads and writes ``citylab/{their site}/#`` and reads
  ``citylab/city/#`` (``SHARED_SITE``, the shared city); nothing else;
- an instructor and the server's service account read and write everything.

``rules_for`` gives them as MQTT filters; ``classroom.mosquitto`` writes them
as Mosquitto's ACL file, and ``BrokerPolicy``
applies the same rules inside the embedded broker, from a snapshot of the
classroom it refreshes every second, so a revoked trainee is refused within a
second without restarting anything.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from citylab.contract import ROOT
from classroom import passwords
from classroom.accounts import BrokerUser, Classroom
from classroom.rules import SHARED_SITE

EVERYTHING = "#"


@dataclass(frozen=True)
class Rules:
    """The MQTT filters a user may read (subscribe and receive) and write (publish)."""

    read: tuple[str, ...]
    write: tuple[str, ...]


def rules_for(user: BrokerUser) -> Rules:
    if user.role in ("service", "instructor"):
        return Rules(read=(EVERYTHING,), write=(EVERYTHING,))
    own = f"{ROOT}/{user.site}/#"
    return Rules(read=(own, f"{ROOT}/{SHARED_SITE}/#"), write=(own,))


def filter_covers(allowed: str, requested: str) -> bool:
    """True if every topic ``requested`` (a topic or a filter) can match is matched by ``allowed``.

    A wildcard asked for is only covered by a wildcard at least as wide:
    ``citylab/+/x/telemetry`` is not inside ``citylab/alice/#``.
    """
    want, have = requested.split("/"), allowed.split("/")
    for i, level in enumerate(have):
        if level == "#":
            return True  # also the parent: "sport/#" matches "sport" (MQTT 3.1.1, 4.7.1.2)
        if i >= len(want) or want[i] == "#":
            return False
        if level != "+" and level != want[i]:
            return False
    return len(want) == len(have)


def allows(filters: tuple[str, ...], requested: str) -> bool:
    return any(filter_covers(f, requested) for f in filters)


# --- the embedded broker ------------------------------------------------------------


class BrokerPolicy:
    """The classroom's broker rules for the embedded broker, from a snapshot of the database.

    The checks on the broker's event loop (``may_read``, ``may_write``,
    ``active``) never touch SQLite: they read the snapshot, which ``refresh``
    (called every second off the loop by ``classroom.embedded.drop_revoked``)
    and ``login`` replace. Decisions are cached per snapshot: a classroom has a
    few hundred topics, and every delivery asks again.
    """

    MAX_CACHED = 50_000  # a client inventing topics must not grow the cache without end

    def __init__(self, classroom: Classroom, every: float = 1.0) -> None:
        self.classroom = classroom
        self.every = every
        self._lock = threading.Lock()
        self._users: dict[str, BrokerUser] = {}
        self._rules: dict[str, Rules] = {}
        self._decisions: dict[tuple[str, bool, str], bool] = {}
        self._loaded: float | None = None

    def _load(self) -> None:
        users = {u.username: u for u in self.classroom.broker_users()}
        rules = {name: rules_for(u) for name, u in users.items()}
        with self._lock:
            # Replaced whole, never mutated: a reader sees the old or the new.
            self._users, self._rules, self._decisions = users, rules, {}
            self._loaded = time.monotonic()

    def refresh(self) -> None:
        """Read the classroom again if the snapshot is older than ``every`` seconds."""
        if self._loaded is None or time.monotonic() - self._loaded >= self.every:
            self._load()

    def login(self, username: str | None, password: str | None) -> bool:
        """True if this MQTT username and password belong to an active user (reads the database afresh)."""
        if not username or password is None:
            return False
        self._load()
        user = self._users.get(username)
        return user is not None and passwords.check_mqtt(password, user.mqtt_hash)

    def active(self, username: str | None) -> bool:
        if self._loaded is None:
            self._load()
        return bool(username) and username in self._users

    def may_read(self, username: str | None, topic_or_filter: str) -> bool:
        return self._decide(username, False, topic_or_filter)

    def may_write(self, username: str | None, topic: str) -> bool:
        return self._decide(username, True, topic)

    def _decide(self, username: str | None, write: bool, topic: str) -> bool:
        if not username:
            return False
        if self._loaded is None:
            self._load()
        key = (username, write, topic)
        decisions = self._decisions
        decision = decisions.get(key)
        if decision is None:
            rules = self._rules.get(username)
            decision = rules is not None and allows(rules.write if write else rules.read, topic)
            if len(decisions) >= self.MAX_CACHED:
                decisions.clear()
            decisions[key] = decision
        return decision
