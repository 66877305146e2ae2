"""An OpenAPI-driven fuzz run of the dashboard: whatever schemathesis sends, never a 500.

schemathesis reads /openapi.json and generates requests for every documented
operation (valid and invalid parameters, odd unicode, huge numbers, bodies
of the wrong shape). It runs against the app in open mode and in classroom
mode logged in as a trainee (with the session's CSRF token, so the requests
get past the gate and reach the routes). A bounded number of examples per
operation keeps the run to well under a minute.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

from dashboard import create_app
from dashboard.gate import SESSION_COOKIE
from test_dashboard_auth import login, make_app, make_classroom, make_store, released

EXAMPLES = 25


def fuzz(app: Any, cookies: dict[str, str], headers: dict[str, str]) -> list[str]:
    """Every documented operation, EXAMPLES cases each; the 5xx answers found, described."""
    app.state.live.stopping.set()  # live streams answer their first event, then end
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, cookies=cookies)
    problems: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20, [op.label for op in operations]
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def one(case: Any) -> None:
            response = case.call(headers=headers, cookies=cookies)
            if response.status_code >= 500:
                problems.append(f"{case.method} {case.formatted_path} {case.query or ''} -> "
                                f"{response.status_code}: {response.text[:200]}")

        try:
            one()
        except Unsatisfiable:
            pass  # no valid case could be made for it: nothing was sent
    return problems


def test_open_mode_never_answers_500(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    app = create_app(store, city=None, gradebook_path=tmp_path / "gradebook.sqlite", grader=released())
    assert fuzz(app, {}, {}) == []


def test_classroom_mode_as_a_trainee_never_answers_500(tmp_path: Path) -> None:
    room = make_classroom(tmp_path)
    try:
        app = make_app(tmp_path, make_store(tmp_path), room, released())
        alice = login(app, "alice")
        cookies = {SESSION_COOKIE: alice.cookies[SESSION_COOKIE]}
        assert fuzz(app, cookies, {"X-CSRF-Token": alice.csrf}) == []
        assert alice.get("/api/session").status_code == 200  # still logged in: nothing above logged her out
    finally:
        room.close()


def test_anonymous_fuzzing_finds_only_401(tmp_path: Path) -> None:
    room = make_classroom(tmp_path)
    try:
        app = make_app(tmp_path, make_store(tmp_path), room, released())
        alice = login(app, "alice")
        # The schema is read while logged in; the requests go out as nobody.
        schema = schemathesis.openapi.from_asgi("/openapi.json", app,
                                                cookies={SESSION_COOKIE: alice.cookies[SESSION_COOKIE]})
        seen: set[int] = set()
        for result in schema.get_all_operations():
            operation = result.ok()

            @given(case=operation.as_strategy())
            @settings(max_examples=3, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            def one(case: Any) -> None:
                seen.add(case.call().status_code)

            one()
        assert seen == {401}
    finally:
        room.close()


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__, "-q"])
