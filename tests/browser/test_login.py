"""Classroom mode in a real browser: the login page, alice sees her devices and not bob's, logging out.

A real ``Classroom`` (scrypt passwords), a real store and the dashboard served
by uvicorn; Debian's chromium through Playwright. Screenshots:
test-artifacts/screenshots/login-*.png.
"""

from __future__ import annotations

import time
import types
from collections.abc import Iterator
from typing import Any

import pytest

from browser.conftest import screenshot  # tests/ is on sys.path, as for test_dashboard
from citylab.stores import SQLiteStore
from classroom.accounts import Classroom
from dashboard import DashboardServer
from test_dashboard import telemetry

pytestmark = pytest.mark.timeout(120)

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashboardServer]:
    folder = tmp_path_factory.mktemp("login")
    room = Classroom(folder / "classroom.sqlite")
    room.create_cohort("spring")
    room.add_account(username="alice", name="Alice Ångström", email="alice@example.org", role="trainee",
                     site="alice", cohort="spring", password=PASSWORD)
    room.add_account(username="teach", name="Prof. Ünal", email="teach@example.org", role="instructor",
                     site=None, cohort=None, password=PASSWORD)
    room.add_account(username="bob", name="Bob", email="bob@example.org", role="trainee", site="bob",
                     cohort="spring", password=PASSWORD)
    store = SQLiteStore(folder / "run.db")
    now = time.time()
    for i in range(20):
        at = now - 600 + i * 30
        telemetry(store, "city", "lamp-centre", {"power": (80.0 + i, "W")}, at)
        telemetry(store, "alice", "aq-alice-kit", {"pm2_5": (12.0 + i % 3, "ug/m3")}, at)
        telemetry(store, "alice", "wx-alice-kit", {"temperature": (21.0 + i % 2, "Cel")}, at)
        telemetry(store, "bob", "aq-bob-kit", {"pm2_5": (40.0, "ug/m3")}, at)
    plan = types.SimpleNamespace(name="Thessaloniki", latitude=40.64, longitude=22.94, description="", devices=[
        types.SimpleNamespace(id="lamp-centre", type="streetlight", district="centre", x=0, y=0)])
    with DashboardServer(store, port=0, city=plan, site="city", gradebook_path=folder / "gradebook.sqlite",
                         classroom=room) as running:
        yield running
    room.close()


def log_in(page: Any, url: str, username: str, password: str) -> None:
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")


def test_alice_logs_in_and_sees_her_devices_not_bobs(page: Any, server: DashboardServer) -> None:
    # The browser logs the deliberate 401 and 403 answers as console errors: dropped where they are expected.
    page.goto(server.url + "#/city")
    page.wait_for_selector("#username")
    assert "/login" in page.url
    screenshot(page, "login-page")

    log_in(page, server.url, "alice", "not her password")
    message = page.locator("#login-message")
    assert "Wrong username or password" in message.inner_text()
    assert page.input_value("#username") == "alice"
    screenshot(page, "login-wrong-password")
    page.problems[:] = [p for p in page.problems if "401" not in p]  # the refused login is a 401 page

    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#city-site")
    assert page.locator("#user-name").inner_text() == "Alice Ångström · site alice"
    assert page.locator('[data-nav="accounts"]').is_hidden()
    page.wait_for_selector('#city-site option[value="alice"]', state="attached")
    sites = page.locator("#city-site option").all_inner_texts()
    assert sites == ["alice", "city"]  # never bob's
    page.wait_for_selector("#other-devices >> text=alice/aq-alice-kit")
    body = page.locator("#other-devices").inner_text()
    assert "aq-alice-kit" in body and "wx-alice-kit" in body and "aq-bob-kit" not in body
    screenshot(page, "login-alice-devices", full_page=True)

    page.problems.clear()
    page.goto(server.url + "#/device/bob/aq-bob-kit")
    page.wait_for_selector("main .error")
    assert "not yours" in page.locator("main .error").first.inner_text()
    page.problems[:] = [p for p in page.problems if "403" not in p]

    page.click(".user-logout")
    page.wait_for_selector("#login-message")
    assert "You are logged out" in page.locator("#login-message").inner_text()
    page.goto(server.url + "#/city")
    assert "/login" in page.url
    page.problems[:] = [p for p in page.problems if "401" not in p]


def test_an_instructor_resets_a_password_from_the_accounts_page(page: Any, server: DashboardServer) -> None:
    page.goto(server.url)
    log_in(page, server.url, "teach", PASSWORD)
    page.wait_for_selector("#city-site")
    page.click('[data-nav="accounts"]')
    page.wait_for_selector('tr[data-username="bob"]')
    assert page.locator("#user-name").inner_text() == "Prof. Ünal · instructor"
    page.once("dialog", lambda dialog: dialog.accept())
    page.click('[data-reset="bob"]')
    page.wait_for_selector("#reset-result code")
    password = page.locator("#reset-result code").inner_text()
    assert len(password) >= 8 and "bob" in page.locator("#reset-result").inner_text()
    screenshot(page, "login-accounts-reset")
    assert server.app.state.auth.classroom.authenticate("bob", password) is not None
