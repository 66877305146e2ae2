"""Cohorts and accounts of classroom mode, in one SQLite file.

An account is a person: an instructor, or a trainee with a site of their own
(``citylab/{site}/#`` is theirs to read and write; ``citylab/city/#``, the
shared city, theirs to read). Each account has two secrets:

- a login password for the dashboard (scrypt), chosen or reset by a person;
- a separate MQTT password for the broker (Mosquitto's ``$7$`` PBKDF2 hash),
  always generated. It ends up in plain text in lab programs and device
  configuration, so leaking it must not open the dashboard, and changing a
  login password must not force a trainee to reflash a board.

A connection per call makes a ``Classroom`` safe to share between threads; WAL
lets the dashboard, the broker and the ``citylab`` commands use one file at
once. Writes run in one ``BEGIN IMMEDIATE`` transaction, so a roster is
imported whole or not at all.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from citylab.errors import ClassroomError, StoreError
from classroom import passwords
from classroom.roster import read_roster
from classroom.rules import (ROLES, SERVICE_USERNAME, SHARED_SITE, check_cohort, check_email, check_password,
                             check_role, check_site, check_username, username_from_email)

# ROLES and SHARED_SITE live in rules.py and are part of this module's API too.
__all__ = ["ROLES", "SHARED_SITE", "Account", "BrokerUser", "Classroom", "Cohort", "Enrolment"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS cohorts (
    name TEXT PRIMARY KEY,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS accounts (
    username TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    role TEXT NOT NULL,
    site TEXT UNIQUE,
    cohort TEXT REFERENCES cohorts(name),
    active INTEGER NOT NULL DEFAULT 1,
    password_hash TEXT NOT NULL,
    mqtt_hash TEXT,
    created REAL NOT NULL
);
-- The server's own broker account: its plain password is kept because the
-- simulator, recorder and dashboard must present it to connect.
CREATE TABLE IF NOT EXISTS service (
    username TEXT PRIMARY KEY,
    password TEXT NOT NULL,
    mqtt_hash TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Account:
    """A person of the classroom (never carries a password)."""

    username: str
    name: str
    email: str
    role: str
    site: str | None
    cohort: str | None
    active: bool


@dataclass(frozen=True)
class Enrolment:
    """A new account with its initial passwords, shown once and never stored in plain."""

    account: Account
    password: str
    mqtt_password: str


@dataclass(frozen=True)
class Cohort:
    name: str
    created: float
    trainees: int
    active: int


@dataclass(frozen=True)
class BrokerUser:
    """What a broker needs to know of a user: the hash and the reach of their ACL."""

    username: str
    mqtt_hash: str
    role: str  # "instructor", "trainee" or "service"
    site: str | None


class Classroom:
    """Cohorts and accounts in SQLite (default ``<data_dir>/classroom.sqlite``)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                # Hashes and the service password: for the server's eyes only, from
                # the first byte (SQLite gives its -wal and -shm files the same mode).
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            with self._connection() as db:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"the classroom database {self.path} cannot be opened: {exc}") from exc

    # --- connections ---------------------------------------------------------

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA foreign_keys=ON")
            yield db
        finally:
            db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction: everything inside is written, or nothing."""
        with self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _read(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        try:
            with self._connection() as db:
                return db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"the classroom database {self.path} cannot be read: {exc}") from exc

    # --- cohorts -------------------------------------------------------------

    def create_cohort(self, name: str) -> None:
        check_cohort(name)
        with self._write() as db:
            self._create_cohort(db, name)

    def _create_cohort(self, db: sqlite3.Connection, name: str) -> None:
        if db.execute("SELECT 1 FROM cohorts WHERE name = ?", (name,)).fetchone():
            raise ClassroomError(f"cohort {name!r} already exists")
        db.execute("INSERT INTO cohorts (name, created) VALUES (?, ?)", (name, time.time()))

    def cohorts(self) -> list[Cohort]:
        rows = self._read(
            "SELECT c.name, c.created, COUNT(a.username) AS trainees, COALESCE(SUM(a.active), 0) AS active"
            " FROM cohorts c LEFT JOIN accounts a ON a.cohort = c.name AND a.role = 'trainee'"
            " GROUP BY c.name ORDER BY c.created, c.name")
        return [Cohort(r["name"], r["created"], r["trainees"], r["active"]) for r in rows]

    # --- accounts ------------------------------------------------------------

    def add_account(self, *, username: str, name: str, email: str, role: str, site: str | None,
                    cohort: str | None, password: str, mqtt_password: str | None = None) -> Account:
        """A new account; without ``mqtt_password`` it has no broker access until one is reset."""
        check_username(username)
        check_role(role)
        check_email(email)
        check_password(password)
        if not name.strip():
            raise ClassroomError("an account needs a display name")
        if role == "trainee":
            if site is None:
                raise ClassroomError(f"trainee {username!r} needs a site of their own, like {username.replace('.', '-')!r}")
            check_site(site)
        elif site is not None:
            raise ClassroomError("an instructor has no site of their own: they may read and write every site")
        account = Account(username, name.strip(), email, role, site, cohort, True)
        with self._write() as db:
            self._insert(db, account, password, mqtt_password)
        return account

    def _insert(self, db: sqlite3.Connection, account: Account, password: str, mqtt_password: str | None) -> None:
        if account.cohort is not None and not db.execute(
                "SELECT 1 FROM cohorts WHERE name = ?", (account.cohort,)).fetchone():
            raise ClassroomError(f"cohort {account.cohort!r} does not exist: create it with"
                                 f" 'citylab cohort create {account.cohort}'")
        clash = self._clash(db, account)
        if clash:
            raise ClassroomError(clash)
        db.execute(
            "INSERT INTO accounts (username, name, email, role, site, cohort, active, password_hash, mqtt_hash,"
            " created) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?)",
            (account.username, account.name, account.email, account.role, account.site, account.cohort,
             passwords.hash_login(password), passwords.hash_mqtt(mqtt_password) if mqtt_password else None,
             time.time()))

    @staticmethod
    def _clash(db: sqlite3.Connection, account: Account) -> str | None:
        """A sentence if the username, email or site already belongs to someone."""
        row = db.execute("SELECT username FROM accounts WHERE username = ?", (account.username,)).fetchone()
        if row:
            return f"username {account.username!r} is already taken"
        row = db.execute("SELECT username FROM accounts WHERE email = ?", (account.email,)).fetchone()
        if row:
            return f"email {account.email!r} already has an account, {row['username']!r}"
        if account.site is not None:
            row = db.execute("SELECT username FROM accounts WHERE site = ?", (account.site,)).fetchone()
            if row:
                return f"site {account.site!r} already belongs to {row['username']!r}"
        return None

    def enrol_roster(self, cohort: str, csv_path: Path, *, create_cohort: bool = True) -> list[Enrolment]:
        """Trainee accounts for every line of a roster CSV, all or nothing, with both initial passwords."""
        check_cohort(cohort)
        rows = read_roster(Path(csv_path))
        enrolments: list[Enrolment] = []
        with self._write() as db:
            if not db.execute("SELECT 1 FROM cohorts WHERE name = ?", (cohort,)).fetchone():
                if not create_cohort:
                    raise ClassroomError(f"cohort {cohort!r} does not exist: create it with"
                                         f" 'citylab cohort create {cohort}'")
                self._create_cohort(db, cohort)
            taken = {r["username"] for r in db.execute("SELECT username FROM accounts")} | {SERVICE_USERNAME}
            accounts = []
            for row in rows:
                username = _free_username(username_from_email(row.email), taken)
                taken.add(username)
                account = Account(username, row.name, row.email, "trainee", row.site, cohort, True)
                clash = self._clash(db, account)
                if clash:
                    raise ClassroomError(f"{csv_path}, line {row.line}: {clash}")
                accounts.append(account)
            # Hashing is the slow part (scrypt): only once every line is known to fit.
            for account in accounts:
                password, mqtt_password = passwords.new_login_password(), passwords.new_mqtt_password()
                self._insert(db, account, password, mqtt_password)
                enrolments.append(Enrolment(account, password, mqtt_password))
        return enrolments

    def import_roster(self, cohort: str, csv_path: Path) -> list[tuple[Account, str]]:
        """Trainee accounts for a roster CSV (all or nothing), each with its initial login password."""
        return [(e.account, e.password) for e in self.enrol_roster(cohort, csv_path)]

    def account(self, username: str) -> Account | None:
        rows = self._read("SELECT * FROM accounts WHERE username = ?", (username,))
        return _account(rows[0]) if rows else None

    def accounts(self, cohort: str | None = None) -> list[Account]:
        if cohort is None:
            rows = self._read("SELECT * FROM accounts ORDER BY role, username")
        else:
            rows = self._read("SELECT * FROM accounts WHERE cohort = ? ORDER BY role, username", (cohort,))
        return [_account(r) for r in rows]

    def authenticate(self, username: str, password: str) -> Account | None:
        """The account if the login password is right and the account active; None otherwise."""
        rows = self._read("SELECT * FROM accounts WHERE username = ?", (username,))
        if not rows:
            # Spend the same time as a real check: timing must not tell who exists.
            passwords.check_login(password, _dummy_hash())
            return None
        ok = passwords.check_login(password, rows[0]["password_hash"])
        return _account(rows[0]) if ok and rows[0]["active"] else None

    def set_password(self, username: str, password: str) -> None:
        check_password(password)
        self._update(username, "password_hash", passwords.hash_login(password))

    def reset_password(self, username: str) -> str:
        """A new random login password, returned once."""
        password = passwords.new_login_password()
        self._update(username, "password_hash", passwords.hash_login(password))
        return password

    def reset_mqtt_password(self, username: str) -> str:
        """A new random MQTT password, returned once (regenerate the Mosquitto files after)."""
        password = passwords.new_mqtt_password()
        self._update(username, "mqtt_hash", passwords.hash_mqtt(password))
        return password

    def revoke(self, username: str) -> None:
        """Cut an account off: no login, no broker (the site stays reserved to them)."""
        self._update(username, "active", 0)

    def _update(self, username: str, column: str, value: object) -> None:
        with self._write() as db:
            cursor = db.execute(f"UPDATE accounts SET {column} = ? WHERE username = ?", (value, username))
            if cursor.rowcount == 0:
                raise ClassroomError(f"there is no account {username!r}")

    # --- the broker's view -----------------------------------------------------

    def service_password(self) -> str:
        """The broker password of the server's own services, made on first use."""
        with self._write() as db:
            row = db.execute("SELECT password FROM service WHERE username = ?", (SERVICE_USERNAME,)).fetchone()
            if row:
                return row["password"]
            password = passwords.new_mqtt_password()
            db.execute("INSERT INTO service (username, password, mqtt_hash) VALUES (?, ?, ?)",
                       (SERVICE_USERNAME, password, passwords.hash_mqtt(password)))
            return password

    def set_service_password(self, password: str) -> None:
        """Make ``password`` the services' broker password (from the server's configuration)."""
        check_password(password)
        with self._write() as db:
            row = db.execute("SELECT password FROM service WHERE username = ?", (SERVICE_USERNAME,)).fetchone()
            if row and row["password"] == password:
                return  # unchanged: keep the hash, and the broker files stay the same
            db.execute("INSERT OR REPLACE INTO service (username, password, mqtt_hash) VALUES (?, ?, ?)",
                       (SERVICE_USERNAME, password, passwords.hash_mqtt(password)))

    def broker_users(self) -> list[BrokerUser]:
        """Everyone who may connect to the broker now: the service and active accounts with an MQTT password."""
        self.service_password()
        users = [BrokerUser(r["username"], r["mqtt_hash"], "service", None)
                 for r in self._read("SELECT * FROM service")]
        rows = self._read("SELECT * FROM accounts WHERE active = 1 AND mqtt_hash IS NOT NULL ORDER BY username")
        users += [BrokerUser(r["username"], r["mqtt_hash"], r["role"], r["site"]) for r in rows]
        return users

    def check_broker_login(self, username: str | None, password: str | None) -> BrokerUser | None:
        """The broker user if this MQTT username and password are right and active, else None."""
        if not username or password is None:
            return None
        for user in self.broker_users():
            if user.username == username:
                return user if passwords.check_mqtt(password, user.mqtt_hash) else None
        return None

    def close(self) -> None:
        """Nothing to release: every call opens and closes its own connection."""


@functools.cache
def _dummy_hash() -> str:
    """A hash to check unknown usernames against, so they take as long as known ones.
    Made on first use, not at import: scrypt costs every citylab command ~75 ms."""
    return passwords.hash_login("not a password anybody has")


def _free_username(wanted: str, taken: set[str]) -> str:
    if wanted not in taken:
        return wanted
    n = 2
    while f"{wanted}{n}" in taken:
        n += 1
    return f"{wanted}{n}"


def _account(row: sqlite3.Row) -> Account:
    return Account(row["username"], row["name"], row["email"], row["role"], row["site"], row["cohort"],
                   bool(row["active"]))
