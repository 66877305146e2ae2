"""A real browser on a real dashboard: Playwright driving Debian's chromium.

Chromium comes from Debian (``apt-get install chromium``; ./run-tests installs
it through scripts/test-deps/browser.sh), never from ``playwright install``,
which downloads from the internet. A missing chromium is a failure that says
how to install it, never a skip.

Screenshots go to ``test-artifacts/screenshots/`` (git-ignored).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def find_chromium() -> str:
    found = next((p for p in CHROMIUM_PATHS if Path(p).exists()), None) or shutil.which("chromium")
    if not found:
        pytest.fail("chromium is not installed, and the browser tests drive a real one: install Debian's package "
                    "with 'apt-get install chromium' (or run ./run-tests as root, which installs it); "
                    "do not use 'playwright install', which downloads from the internet", pytrace=False)
    return found


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the browser tests need Playwright for Python: pip install playwright "
                    "(the browser itself is Debian's chromium)", pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page at a laptop's size that fails the test on any script error or console error."""
    context = browser.new_context(viewport={"width": 1366, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on("console", lambda message: problems.append(f"console {message.type}: {message.text}")
            if message.type == "error" else None)
    page.problems = problems
    yield page
    context.close()
    assert not problems, problems


def screenshot(page: Any, name: str, full_page: bool = False, element: str | None = None) -> Path:
    """Save the page (or one element of it) as test-artifacts/screenshots/NAME.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    if element:
        page.locator(element).screenshot(path=str(path))
    else:
        page.screenshot(path=str(path), full_page=full_page)
    return path
