"""Dashboard login sessions, server-side in SQLite.

The browser holds only a random session id (256 bits) in an HttpOnly cookie;
the row it names lives here, so logging out, revoking an account or an
instructor resetting a password takes effect at once, and several dashboard
processes pointed at the same file share the sessions. The table stores the
SHA-256 of the id, not the id: a copy of this file does not let anyone in.

A session ends ``idle_seconds`` after its last use, and ``max_seconds`` after
login whatever happens. Each session carries its own CSRF token, which the
page sends back in the ``X-CSRF-Token`` header of every state-changing request.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from citylab.errors import StoreError

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created REAL NOT NULL,
    last_seen REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (username);
"""

# A session id as this module makes it: token_urlsafe(32) is 43 characters.
# Anything much longer is not ours and is not looked up.
MAX_ID_LENGTH = 128
# last_seen is written at most this often, not on every request.
TOUCH_SECONDS = 60.0


@dataclass(frozen=True)
class Session:
    """A logged-in browser: whose it is and the CSRF token its page must send."""

    username: str
    csrf: str
    created: float
    last_seen: float


class SessionStore:
    """Sessions in the SQLite file ``path`` (created if new)."""

    def __init__(self, path: str | Path, *, idle_seconds: float = 4 * 3600,
                 max_seconds: float = 12 * 3600) -> None:
        self.path = Path(path)
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = self._connect()
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(SCHEMA)
            finally:
                db.close()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the dashboard's session file {self.path}: {exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30, isolation_level=None)

    def _run(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        try:
            db = self._connect()
            try:
                return db.execute(sql, params).fetchall()
            finally:
                db.close()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot use the dashboard's session file {self.path}: {exc}") from exc

    def create(self, username: str) -> tuple[str, Session]:
        """A new session for ``username``: its id (for the cookie, shown once) and the session."""
        session_id = secrets.token_urlsafe(32)
        now = time.time()
        session = Session(username, secrets.token_urlsafe(32), now, now)
        self._run("INSERT INTO sessions (id_hash, username, csrf, created, last_seen) VALUES (?,?,?,?,?)",
                  (_hash(session_id), username, session.csrf, now, now))
        return session_id, session

    def get(self, session_id: str) -> Session | None:
        """The live session with this id; None if unknown, expired or not an id at all."""
        if not session_id or len(session_id) > MAX_ID_LENGTH:
            return None
        key = _hash(session_id)
        rows = self._run("SELECT username, csrf, created, last_seen FROM sessions WHERE id_hash = ?", (key,))
        if not rows:
            return None
        username, csrf = rows[0][0], rows[0][1]
        created, last_seen = float(rows[0][2]), float(rows[0][3])  # type: ignore[arg-type]
        now = time.time()
        if now - last_seen > self.idle_seconds or now - created > self.max_seconds:
            self._run("DELETE FROM sessions WHERE id_hash = ?", (key,))
            return None
        if now - last_seen > TOUCH_SECONDS:
            self._run("UPDATE sessions SET last_seen = ? WHERE id_hash = ?", (now, key))
            last_seen = now
        return Session(str(username), str(csrf), created, last_seen)

    def delete(self, session_id: str) -> None:
        """Log one browser out."""
        if session_id and len(session_id) <= MAX_ID_LENGTH:
            self._run("DELETE FROM sessions WHERE id_hash = ?", (_hash(session_id),))

    def delete_user(self, username: str) -> int:
        """Log every browser of ``username`` out (revoked, or their password was reset); how many."""
        found = self._run("SELECT COUNT(*) FROM sessions WHERE username = ?", (username,))
        self._run("DELETE FROM sessions WHERE username = ?", (username,))
        return int(found[0][0]) if found else 0  # type: ignore[call-overload]

    def purge(self) -> None:
        """Forget expired sessions (they are refused anyway; this keeps the file small)."""
        now = time.time()
        self._run("DELETE FROM sessions WHERE last_seen < ? OR created < ?",
                  (now - self.idle_seconds, now - self.max_seconds))


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()
