"""Classroom mode on the dashboard: logins, sessions, and a rule for every route.

A real ``classroom.Classroom`` (SQLite, scrypt) with an instructor and three
trainees, a real store with devices in alice's, bob's and the shared city's
sites, and a real gradebook. Every route of the app is tried as nobody, as
its owner (alice), as another trainee (bob) and as an instructor; the table
``CASES`` must name every route the app has, so a new endpoint without a
decision here fails ``test_every_route_has_a_case``.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from citylab.errors import CitylabError
from citylab.stores import SQLiteStore
from classroom.accounts import Classroom
from dashboard import DashboardServer, create_app
from dashboard.access import flat_routes
from dashboard.app import _check_rules
from dashboard.gate import CSRF_COOKIE, SESSION_COOKIE
from dashboard.sessions import SessionStore
from labs import Gradebook
from test_dashboard import T0, events, record, telemetry
from test_dashboard_api import FakeGrader, city, result

PASSWORD = "correct horse battery"
SOURCE = "print('hello')\n"


def make_classroom(folder: Path) -> Classroom:
    room = Classroom(folder / "classroom.sqlite")
    room.create_cohort("spring")
    room.add_account(username="teach", name="Prof. Ünal", email="teach@example.org", role="instructor",
                     site=None, cohort=None, password=PASSWORD)
    for username, name in (("alice", "Alice Ångström"), ("bob", "Bob 鮑勃"), ("dave", "Dave"), ("carol", "Carol")):
        room.add_account(username=username, name=name, email=f"{username}@example.org", role="trainee",
                         site=username, cohort="spring", password=PASSWORD)
    return room


def make_store(folder: Path) -> SQLiteStore:
    store = SQLiteStore(folder / "run.db")
    for site, device in (("alice", "aq-01"), ("bob", "aq-02"), ("city", "lamp-1")):
        for i in range(5):
            telemetry(store, site, device, {"pm2_5": (float(i), "ug/m3")}, T0 + i * 30)
        record(store, f"citylab/{site}/{device}/status", b"online", T0)
        record(store, f"citylab/{site}/{device}/telemetry", b'{"pm2_5": 1', T0 + 200)  # a dead letter each
    return store


def make_app(folder: Path, store: SQLiteStore, classroom: Classroom, grader: FakeGrader) -> Any:
    gradebook = Gradebook(folder / "gradebook.sqlite")
    gradebook.record(result("alice", 7), by="alice")  # grade 1
    gradebook.record(result("bob", 10), by="bob")     # grade 2
    app = create_app(store, city=city(("lamp-1", "streetlight", "centre", 0.0, 0.0)), site="city",
                     gradebook_path=folder / "gradebook.sqlite", grader=grader, classroom=classroom)
    app.state.runs.start("01-mqtt-telemetry", "alice", SOURCE.encode(), "device.py", None, by="alice")  # run 1
    app.state.runs.start("01-mqtt-telemetry", "bob", SOURCE.encode(), "device.py", None, by="bob")      # run 2
    return app


def released() -> FakeGrader:
    grader = FakeGrader()
    grader.release.set()  # gradings here finish at once
    return grader


@pytest.fixture
def classroom(tmp_path: Path) -> Iterator[Classroom]:
    room = make_classroom(tmp_path)
    yield room
    room.close()


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    return make_store(tmp_path)


@pytest.fixture
def grader() -> FakeGrader:
    return released()


@pytest.fixture
def app(store: SQLiteStore, classroom: Classroom, grader: FakeGrader, tmp_path: Path) -> Any:
    return make_app(tmp_path, store, classroom, grader)


def login(app: Any, username: str, password: str = PASSWORD, **client_options: Any) -> TestClient:
    """A browser logged in as ``username`` (its CSRF token in ``client.csrf``)."""
    client = TestClient(app, follow_redirects=False, **client_options)
    form = client.get("/login")
    assert form.status_code == 200, form.text
    answer = client.post("/login", data={"username": username, "password": password,
                                         "csrf_token": client.cookies[CSRF_COOKIE]})
    assert answer.status_code == 303, answer.text
    client.csrf = client.get("/api/session").json()["csrf"]  # type: ignore[attr-defined]
    return client


def everyone(app: Any) -> dict[str, TestClient]:
    return {"anonymous": TestClient(app, follow_redirects=False), "owner": login(app, "alice"),
            "other": login(app, "bob"), "instructor": login(app, "teach")}


@pytest.fixture
def people(app: Any) -> dict[str, TestClient]:
    return everyone(app)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, dict[str, TestClient]]]:
    """One app and its four people for the whole route table (scrypt makes each login cost ~0.1-0.3 s)."""
    folder = tmp_path_factory.mktemp("world")
    room = make_classroom(folder)
    app = make_app(folder, make_store(folder), room, released())
    yield app, everyone(app)
    room.close()


# --- every route, as everyone ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """How to call a route on alice's things, and the status for (anonymous, owner, other trainee, instructor)."""

    url: str
    expect: tuple[int, int, int, int]
    json: dict[str, Any] | None = None
    csrf: bool = True
    stop_live: bool = False  # end the SSE stream right after its first event
    params: dict[str, Any] = field(default_factory=dict)


PAGE = (303, 200, 200, 200)
ANY_USER = (401, 200, 200, 200)
ALICES = (401, 200, 403, 200)
PUBLIC = (200, 200, 200, 200)

CASES: dict[tuple[str, str], Call] = {
    ("GET", "/"): Call("/", PAGE),
    ("GET", "/login"): Call("/login", PUBLIC),
    # Without the form's token every login is refused (the token dance is tested below).
    ("POST", "/login"): Call("/login", (403, 403, 403, 403), csrf=False),
    # Logging out needs the session's token; without it nobody is logged out here (see test_logout_*).
    ("POST", "/logout"): Call("/logout", (401, 403, 403, 403), csrf=False),
    ("HEAD", "/openapi.json"): Call("/openapi.json", ANY_USER),
    ("GET", "/openapi.json"): Call("/openapi.json", ANY_USER),
    ("GET", "/api/session"): Call("/api/session", ANY_USER),
    ("GET", "/api/health"): Call("/api/health", ANY_USER),
    ("GET", "/api/city"): Call("/api/city", ANY_USER),
    ("GET", "/api/devices"): Call("/api/devices?site=alice", ALICES),
    ("GET", "/api/devices/{site}/{device}"): Call("/api/devices/alice/aq-01", ALICES),
    ("GET", "/api/devices/{site}/{device}/readings"): Call("/api/devices/alice/aq-01/readings", ALICES),
    ("GET", "/api/devices/{site}/{device}/series"): Call("/api/devices/alice/aq-01/series?name=pm2_5", ALICES),
    ("GET", "/api/devices/{site}/{device}/statuses"): Call("/api/devices/alice/aq-01/statuses", ALICES),
    ("GET", "/api/dead-letters"): Call("/api/dead-letters?site=alice", ALICES),
    ("GET", "/api/live"): Call("/api/live?site=alice", ALICES, stop_live=True),
    ("GET", "/api/replay/{site}"): Call("/api/replay/alice", ALICES),
    ("GET", "/api/replay/{site}/at"): Call(f"/api/replay/alice/at?time={T0 + 100}", ALICES),
    ("GET", "/api/labs"): Call("/api/labs", ANY_USER),
    ("GET", "/api/labs/{lab_id}"): Call("/api/labs/01", ANY_USER),
    ("POST", "/api/labs/{lab_id}/runs"): Call("/api/labs/01/runs", (401, 202, 403, 202),
                                              json={"site": "alice", "source": SOURCE}),
    ("GET", "/api/runs"): Call("/api/runs?site=alice", ALICES),
    ("GET", "/api/runs/{run_id}"): Call("/api/runs/1", ALICES),
    ("GET", "/api/gradebook/grades"): Call("/api/gradebook/grades?site=alice", ALICES),
    ("GET", "/api/gradebook/grades/{grade_id}"): Call("/api/gradebook/grades/1", ALICES),
    ("GET", "/api/gradebook/matrix"): Call("/api/gradebook/matrix", ANY_USER),
    ("GET", "/api/gradebook/export.csv"): Call("/api/gradebook/export.csv?site=alice", ALICES),
    ("GET", "/api/accounts"): Call("/api/accounts", (401, 403, 403, 200)),
    ("POST", "/api/accounts/{username}/password-reset"): Call("/api/accounts/dave/password-reset",
                                                              (401, 403, 403, 200), json={}),
    ("*", "/static"): Call("/static/app.css", PUBLIC),
}


def route_keys(app: Any) -> set[tuple[str, str]]:
    return {(method, path) for path, methods, _ in flat_routes(app) for method in methods}


def test_every_route_has_a_case(app: Any) -> None:
    missing = route_keys(app) - set(CASES)
    assert not missing, f"routes with no access case in this file: {sorted(missing)}"
    assert not set(CASES) - route_keys(app), "cases for routes the app no longer has"


@pytest.mark.parametrize("key", sorted(CASES), ids=lambda key: f"{key[0]} {key[1]}")
def test_every_route_as_nobody_owner_other_trainee_and_instructor(world: tuple[Any, dict[str, TestClient]],
                                                                  key: tuple[str, str]) -> None:
    app, people = world
    call = CASES[key]
    method = "GET" if key[0] == "*" else key[0]
    for who, expected in zip(("anonymous", "owner", "other", "instructor"), call.expect):
        client = people[who]
        headers = {"X-CSRF-Token": client.csrf} if call.csrf and hasattr(client, "csrf") else {}
        app.state.live.stopping.set() if call.stop_live else app.state.live.stopping.clear()
        answer = client.request(method, call.url, json=call.json, headers=headers)
        assert answer.status_code == expected, f"{method} {call.url} as {who}: {answer.status_code} {answer.text[:200]}"
        if method == "HEAD":
            continue
        if expected == 401:
            assert "log in" in answer.json()["detail"]
        if expected == 403 and key != ("POST", "/login"):
            assert "not allowed" in answer.json()["detail"] or "CSRF" in answer.json()["detail"]
        if expected == 303 and key == ("GET", "/"):
            assert answer.headers["location"] == "/login?next=%2F"


def test_a_route_without_a_rule_stops_the_app_from_being_built(app: Any) -> None:
    extra = APIRouter()
    extra.add_api_route("/api/secret", lambda: {"no": "rule"})
    app.include_router(extra)
    with pytest.raises(CitylabError, match="/api/secret has no access rule"):
        _check_rules(app)


def test_nobody_can_write_a_grade_through_the_api(app: Any) -> None:
    writes = [(m, p) for m, p in route_keys(app) if "grade" in p and m not in ("GET", "HEAD")]
    assert writes == []


# --- what each trainee sees ------------------------------------------------------------------------------


def test_a_trainee_sees_their_own_site_and_the_shared_city_only(people: dict[str, TestClient]) -> None:
    alice, teach = people["owner"], people["instructor"]
    assert {d["site"] for d in alice.get("/api/devices").json()} == {"alice", "city"}
    assert {d["site"] for d in teach.get("/api/devices").json()} == {"alice", "bob", "city"}
    assert alice.get("/api/devices/city/lamp-1/readings").status_code == 200  # the shared city: readable
    assert {d["site"] for d in alice.get("/api/dead-letters").json()} == {"alice", "city"}
    assert alice.get("/api/dead-letters?site=city").status_code == 200
    assert [r["site"] for r in alice.get("/api/runs").json()] == ["alice"]
    assert {g["site"] for g in alice.get("/api/gradebook/grades").json()} == {"alice"}
    assert alice.get("/api/gradebook/matrix").json()["sites"] == ["alice"]
    assert teach.get("/api/gradebook/matrix").json()["sites"] == ["alice", "bob"]
    assert "bob" not in alice.get("/api/gradebook/export.csv").text
    # The shared city is readable, not theirs: no grades or runs of it.
    assert alice.get("/api/runs?site=city").status_code == 403
    assert alice.get("/api/gradebook/grades?site=city").status_code == 403
    # Every `site` in the query is checked, not just the one the route reads.
    assert alice.get("/api/devices?site=alice&site=bob").status_code == 403
    me = alice.get("/api/session").json()
    assert me == {"mode": "classroom", "username": "alice", "name": "Alice Ångström", "role": "trainee",
                  "site": "alice", "shared_site": "city", "csrf": me["csrf"]} and len(me["csrf"]) > 30


def test_a_grading_records_who_asked_and_a_trainee_cannot_grade_as_another_site(
        app: Any, people: dict[str, TestClient], grader: FakeGrader, tmp_path: Path) -> None:
    alice = people["owner"]
    refused = alice.post("/api/labs/01/runs", json={"site": "bob", "source": SOURCE},
                         headers={"X-CSRF-Token": alice.csrf})
    assert refused.status_code == 403 and "'bob' is not yours" in refused.json()["detail"]
    # The reference solution earns full marks: a trainee may not have it graded as their own.
    cheat = alice.post("/api/labs/01/runs", json={"site": "alice", "reference": True},
                       headers={"X-CSRF-Token": alice.csrf})
    assert cheat.status_code == 403 and "only an instructor" in cheat.json()["detail"]
    run = alice.post("/api/labs/01/runs", json={"site": "alice", "source": SOURCE},
                     headers={"X-CSRF-Token": alice.csrf}).json()
    assert run["requested_by"] == "alice"
    deadline = time.monotonic() + 10
    while (state := alice.get(f"/api/runs/{run['id']}").json())["state"] not in ("done", "failed"):
        assert time.monotonic() < deadline, state
        time.sleep(0.05)
    assert state["state"] == "done", state
    db = sqlite3.connect(tmp_path / "gradebook.sqlite")
    by, code = db.execute("SELECT requested_by, code FROM grades WHERE id = ?", (state["grade_id"],)).fetchone()
    db.close()
    assert by == "alice" and bytes(code) == SOURCE.encode()


def test_the_live_stream_carries_only_the_trainees_sites(store: SQLiteStore, classroom: Classroom,
                                                         tmp_path: Path) -> None:
    with DashboardServer(store, port=0, classroom=classroom, sessions_path=tmp_path / "s.sqlite") as server:
        session_id, _ = server.app.state.auth.sessions.create("alice")
        with httpx.Client(timeout=5, cookies={SESSION_COOKIE: session_id}) as http:
            assert http.get(server.url + "api/live", params={"site": "bob"}).status_code == 403
            with http.stream("GET", server.url + "api/live") as response:
                stream = events(response)
                assert next(stream)[0] == "ready"
                for site in ("bob", "alice", "city", "bob"):
                    telemetry(store, site, "aq-09", {"pm2_5": (5.0, "ug/m3")}, T0 + 5000)
                    record(store, f"citylab/{site}/aq-09/telemetry", b"{", T0 + 5001)
                heard: set[tuple[str, str]] = set()
                deadline = time.monotonic() + 5
                for name, data in stream:
                    heard |= {(name, item["site"]) for item in json.loads(data)}
                    if {("reading", "alice"), ("reading", "city"), ("dead_letter", "alice"),
                            ("dead_letter", "city")} <= heard or time.monotonic() > deadline:
                        break
    assert heard == {("reading", "alice"), ("reading", "city"), ("dead_letter", "alice"), ("dead_letter", "city")}


def test_an_open_live_stream_ends_when_the_account_is_revoked(store: SQLiteStore, classroom: Classroom,
                                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboard.routes import live

    monkeypatch.setattr(live, "RECHECK_SECONDS", 0.2)
    with DashboardServer(store, port=0, classroom=classroom, sessions_path=tmp_path / "s.sqlite") as server:
        session_id, _ = server.app.state.auth.sessions.create("carol")
        with httpx.Client(timeout=5, cookies={SESSION_COOKIE: session_id}) as http:
            with http.stream("GET", server.url + "api/live") as response:
                stream = events(response)
                assert next(stream)[0] == "ready"
                classroom.revoke("carol")
                started = time.monotonic()
                rest = list(stream)  # ends by itself
                assert time.monotonic() - started < 3 and rest == []
            assert http.get(server.url + "api/live").status_code == 401


# --- logging in and out -----------------------------------------------------------------------------------


def test_login_sets_a_random_httponly_samesite_session_cookie(app: Any) -> None:
    alice = login(app, "alice")
    client = TestClient(app, follow_redirects=False)
    client.get("/login")
    answer = client.post("/login", data={"username": "Alice ", "password": PASSWORD,
                                         "csrf_token": client.cookies[CSRF_COOKIE], "next": "/#/labs"})
    assert answer.status_code == 303 and answer.headers["location"] == "/#/labs"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie  # plain http here
    assert client.cookies[SESSION_COOKIE] != alice.cookies[SESSION_COOKIE]
    assert len(client.cookies[SESSION_COOKIE]) >= 43


@pytest.mark.parametrize("options, base, secure", [({"secure_cookies": True}, "https", True),
                                                   ({}, "https", True), ({}, "http", False)])
def test_the_secure_flag_follows_https_and_can_be_forced(store: SQLiteStore, classroom: Classroom, options: dict,
                                                         base: str, secure: bool) -> None:
    app = create_app(store, city=None, classroom=classroom, **options)
    client = TestClient(app, base_url=f"{base}://testserver", follow_redirects=False)
    client.get("/login")
    answer = client.post("/login", data={"username": "alice", "password": PASSWORD,
                                         "csrf_token": client.cookies[CSRF_COOKIE]})
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "="))
    assert ("Secure" in cookie) == secure, cookie
    # Forced: even a plain-http request (behind a TLS proxy that does not say so) gets Secure cookies.
    forced = TestClient(create_app(store, city=None, classroom=classroom, secure_cookies=True))
    assert "Secure" in forced.get("/login").headers["set-cookie"]


def test_a_wrong_password_and_a_foreign_form_are_refused(app: Any) -> None:
    client = TestClient(app, follow_redirects=False)
    client.get("/login")
    wrong = client.post("/login", data={"username": "alice", "password": "nope nope",
                                        "csrf_token": client.cookies[CSRF_COOKIE]})
    assert wrong.status_code == 401 and "Wrong username or password" in wrong.text
    assert SESSION_COOKIE not in client.cookies
    # A form posted from another site has no token matching the cookie.
    foreign = TestClient(app, follow_redirects=False).post(
        "/login", data={"username": "alice", "password": PASSWORD, "csrf_token": "x" * 43})
    assert foreign.status_code == 403 and "Try again" in foreign.text


def test_next_never_leaves_the_site(app: Any) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        client = TestClient(app, follow_redirects=False)
        client.get("/login")
        answer = client.post("/login", data={"username": "alice", "password": PASSWORD, "next": target,
                                             "csrf_token": client.cookies[CSRF_COOKIE]})
        assert answer.headers["location"] == "/", target


def test_too_many_failed_logins_are_429_with_retry_after(app: Any) -> None:
    client = TestClient(app, follow_redirects=False)
    client.get("/login")
    token = client.cookies[CSRF_COOKIE]
    for _ in range(5):
        assert client.post("/login", data={"username": "alice", "password": "guess1234",
                                           "csrf_token": token}).status_code == 401
    limited = client.post("/login", data={"username": "alice", "password": PASSWORD, "csrf_token": token})
    assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 60
    assert "Too many failed attempts" in limited.text
    # Another username from the same address still may (until the address's own limit).
    assert client.post("/login", data={"username": "bob", "password": PASSWORD,
                                       "csrf_token": token}).status_code == 303


def test_failed_logins_from_one_address_are_limited_whatever_the_username(app: Any) -> None:
    client = TestClient(app, follow_redirects=False)
    client.get("/login")
    token = client.cookies[CSRF_COOKIE]
    codes = [client.post("/login", data={"username": f"nobody{i}", "password": "guess1234",
                                         "csrf_token": token}).status_code for i in range(21)]
    assert codes == [401] * 20 + [429]


def test_grading_runs_are_limited_per_account(people: dict[str, TestClient]) -> None:
    alice = people["owner"]
    codes = [alice.post("/api/labs/01/runs", json={"site": "alice", "source": SOURCE},
                        headers={"X-CSRF-Token": alice.csrf}).status_code for _ in range(6)]
    assert codes == [202] * 5 + [429]
    again = alice.post("/api/labs/01/runs", json={"site": "alice", "source": SOURCE},
                       headers={"X-CSRF-Token": alice.csrf})
    assert int(again.headers["Retry-After"]) >= 1 and "wait" in again.json()["detail"]
    bob = people["other"]
    assert bob.post("/api/labs/01/runs", json={"site": "bob", "source": SOURCE},
                    headers={"X-CSRF-Token": bob.csrf}).status_code == 202


def test_logout_ends_the_session_for_good(app: Any) -> None:
    alice = login(app, "alice")
    stolen = alice.cookies[SESSION_COOKIE]
    out = alice.post("/logout", data={"csrf_token": alice.csrf})
    assert out.status_code == 303 and out.headers["location"] == "/login?logged_out=true"
    assert alice.get("/api/session").status_code == 401
    replay = TestClient(app, cookies={SESSION_COOKIE: stolen})
    assert replay.get("/api/devices").status_code == 401
    assert "You are logged out" in TestClient(app).get("/login?logged_out=true").text


def test_a_revoked_account_is_cut_off_at_once(app: Any, classroom: Classroom) -> None:
    carol = login(app, "carol")
    assert carol.get("/api/devices").status_code == 200
    classroom.revoke("carol")
    assert carol.get("/api/devices").status_code == 401
    client = TestClient(app, follow_redirects=False)
    client.get("/login")
    assert client.post("/login", data={"username": "carol", "password": PASSWORD,
                                       "csrf_token": client.cookies[CSRF_COOKIE]}).status_code == 401


def test_an_instructor_resets_a_password_and_the_trainee_is_logged_out(app: Any,
                                                                       people: dict[str, TestClient]) -> None:
    dave = login(app, "dave")
    teach = people["instructor"]
    accounts = {a["username"]: a for a in teach.get("/api/accounts").json()}
    assert accounts["bob"]["name"] == "Bob 鮑勃" and accounts["teach"]["role"] == "instructor"
    reset = teach.post("/api/accounts/dave/password-reset", headers={"X-CSRF-Token": teach.csrf}).json()
    assert reset["username"] == "dave" and reset["sessions_ended"] >= 1 and len(reset["password"]) >= 8
    assert dave.get("/api/devices").status_code == 401
    login(app, "dave", reset["password"])  # the new password works
    missing = teach.post("/api/accounts/nobody/password-reset", headers={"X-CSRF-Token": teach.csrf})
    assert missing.status_code == 404 and "nobody" in missing.json()["detail"]


def test_sessions_expire(app: Any) -> None:
    alice = login(app, "alice")
    app.state.auth.sessions.idle_seconds = 0.0
    time.sleep(0.01)
    assert alice.get("/api/session").status_code == 401


def test_sessions_are_shared_between_dashboard_processes(store: SQLiteStore, classroom: Classroom,
                                                         tmp_path: Path) -> None:
    first = create_app(store, city=None, classroom=classroom, sessions_path=tmp_path / "shared.sqlite")
    second = create_app(store, city=None, classroom=classroom, sessions_path=tmp_path / "shared.sqlite")
    alice = login(first, "alice")
    other = TestClient(second, cookies={SESSION_COOKIE: alice.cookies[SESSION_COOKIE]})
    assert other.get("/api/session").json()["username"] == "alice"
    alice.post("/logout", headers={"X-CSRF-Token": alice.csrf})
    assert other.get("/api/session").status_code == 401


def test_the_session_file_holds_no_usable_session_id(app: Any, tmp_path: Path) -> None:
    alice = login(app, "alice")
    raw = (tmp_path / "dashboard-sessions.sqlite").read_bytes()
    assert alice.cookies[SESSION_COOKIE].encode() not in raw


# --- CSRF ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"X-CSRF-Token": "wrong"}, {"X-CSRF-Token": ""},
                                     {"X-CSRF-Token": "é" * 43}])
def test_a_state_changing_request_without_the_sessions_csrf_token_is_403(
        people: dict[str, TestClient], headers: dict[str, str]) -> None:
    alice, teach = people["owner"], people["instructor"]
    run = alice.post("/api/labs/01/runs", json={"site": "alice", "source": SOURCE},
                     headers={k: v.encode("utf-8") for k, v in headers.items()})
    assert run.status_code == 403 and "CSRF" in run.json()["detail"]
    assert teach.post("/api/accounts/dave/password-reset", headers=headers and {"X-CSRF-Token": "wrong"}
                      ).status_code == 403
    # Another person's token is no good either.
    assert alice.post("/api/labs/01/runs", json={"site": "alice", "source": SOURCE},
                      headers={"X-CSRF-Token": teach.csrf}).status_code == 403
    assert alice.post("/logout", data={"csrf_token": teach.csrf}).status_code == 403
    assert alice.get("/api/session").status_code == 200


# --- bad input ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cookie", [
    "citylab_session=", "citylab_session=" + "A" * 5000, "citylab_session=\"unterminated", "=;=;;==",
    "citylab_session=%ff%fe; citylab_session=again", "citylab_session=../../etc/passwd",
    "citylab_session=\u00e9t\u00e9", "garbage without equals", "a=b; " * 500,
])
def test_malformed_cookies_are_nobody_never_500(app: Any, cookie: str) -> None:
    client = TestClient(app, follow_redirects=False)
    raw = {"Cookie": cookie.encode("utf-8")}  # sent as bytes: non-ASCII included
    assert client.get("/api/devices", headers=raw).status_code == 401
    assert client.get("/", headers=raw).status_code == 303
    assert client.get("/login", headers=raw).status_code == 200


def test_oversized_bodies_are_413(people: dict[str, TestClient]) -> None:
    alice = people["owner"]
    big = alice.post("/api/labs/01/runs", content=b'{"site": "alice", "source": "' + b"#" * 2_000_000 + b'"}',
                     headers={"X-CSRF-Token": alice.csrf, "Content-Type": "application/json"})
    assert big.status_code == 413 and "larger than" in big.json()["detail"]
    form = TestClient(alice.app).post("/login", data={"username": "alice", "password": "x" * 20_000})
    assert form.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(40):
            yield b"#" * 65536

    streamed = alice.post("/api/labs/01/runs", content=chunks(),
                          headers={"X-CSRF-Token": alice.csrf, "Content-Type": "application/json"})
    assert streamed.status_code == 413


def test_unicode_names_are_ordinary_input(app: Any, people: dict[str, TestClient]) -> None:
    client = TestClient(app, follow_redirects=False)
    client.get("/login")
    for name in ("ålice", "用户", "alice\u0000", "a" * 500, ""):
        answer = client.post("/login", data={"username": name, "password": "pässwörd 密码",
                                             "csrf_token": client.cookies[CSRF_COOKIE]})
        assert answer.status_code in (401, 429), (name, answer.status_code)
    alice = people["owner"]
    assert alice.get("/api/devices/街道/灯").status_code == 403
    assert alice.get("/api/devices?site=街道").status_code == 403
    assert people["instructor"].get("/api/devices/街道/灯").status_code == 404
    assert alice.get("/api/labs/²").status_code == 404  # found by the fuzz run: "²".isdigit() is True
    bad_form = TestClient(app, follow_redirects=False).post(
        "/login", content=b"username=\xff\xfe&password=%ff",
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert bad_form.status_code == 403


def test_the_login_page_is_self_contained(app: Any) -> None:
    page = TestClient(app).get("/login")
    assert page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
    assert 'name="csrf_token"' in page.text and "http://" not in page.text and "https://" not in page.text
    assert page.headers["cache-control"] == "no-store"


def test_open_mode_is_unchanged(store: SQLiteStore) -> None:
    client = TestClient(create_app(store, city=None), follow_redirects=False)
    assert client.get("/api/session").json()["mode"] == "open"
    assert {d["site"] for d in client.get("/api/devices").json()} == {"alice", "bob", "city"}
    assert client.get("/").status_code == 200
    assert client.get("/login").status_code == 303  # nothing to log in to
    assert client.get("/api/accounts").status_code == 404


def test_session_store_forgets_expired_sessions(tmp_path: Path) -> None:
    sessions = SessionStore(tmp_path / "s.sqlite", idle_seconds=3600, max_seconds=0.0)
    session_id, _ = sessions.create("alice")
    time.sleep(0.01)
    assert sessions.get(session_id) is None
    sessions.purge()
    assert sessions.delete_user("alice") == 0


def test_citylab_up_classroom_puts_the_dashboard_behind_a_login(tmp_path: Path) -> None:
    import subprocess
    import sys

    from citylab.broker import free_port
    from conftest import wait_for_port

    make_classroom(tmp_path).close()
    mqtt_port, http_port = free_port(), free_port()
    up = subprocess.Popen([sys.executable, "-m", "citylab.cli", "up", "--classroom", "--no-sim", "--data",
                           str(tmp_path), "--mqtt-port", str(mqtt_port), "--http-port", str(http_port)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        try:
            wait_for_port("127.0.0.1", http_port, timeout=60)
        except TimeoutError:
            up.kill()
            pytest.fail(f"citylab up --classroom did not start: {up.communicate()[0]}")
        with httpx.Client(base_url=f"http://127.0.0.1:{http_port}", timeout=10) as http:
            assert http.get("/").status_code == 303
            assert http.get("/api/devices").status_code == 401
            http.get("/login")
            answer = http.post("/login", data={"username": "alice", "password": PASSWORD,
                                               "csrf_token": http.cookies[CSRF_COOKIE]})
            assert answer.status_code == 303, answer.text
            assert http.get("/api/session").json()["site"] == "alice"
        assert (tmp_path / "dashboard-sessions.sqlite").is_file()
    finally:
        up.terminate()
        up.communicate(timeout=30)
