"""The dashboard as a new user meets it: `citylab up`, then the city moves in the browser.

Runs the real command (embedded broker, recorder, simulator of the default
city, dashboard) on free ports with a temporary data folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from citylab.broker import free_port
from browser.conftest import screenshot  # tests/ is on sys.path, as for test_dashboard

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def citylab_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("up")
    http, mqtt = free_port(), free_port()
    env = {**os.environ, "CITYLAB_DATA": str(data), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "citylab.cli", "up", "--http-port", str(http), "--mqtt-port", str(mqtt),
         "--speed", "10"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        if "Press Ctrl-C" in line:
            break
    else:
        pytest.fail("citylab up did not start:\n" + "".join(seen), pytrace=False)
    yield f"http://127.0.0.1:{http}/"
    process.terminate()
    process.wait(10)


def test_after_citylab_up_the_map_and_charts_move(page: Any, citylab_up: str) -> None:
    page.goto(citylab_up + "#/city")
    page.wait_for_selector(".connection[data-state='live']")
    markers = page.locator(".city-map .markers circle")
    assert markers.count() >= 5
    # The simulator announces its devices online: their markers turn green.
    page.wait_for_function("() => document.querySelectorAll(\".markers circle[fill='#1a9850']\").length >= 3",
                           timeout=20_000)
    counter = page.locator("#count-readings")
    before = int(counter.inner_text().replace(",", "") or 0)
    page.wait_for_function("(n) => Number(document.querySelector('#count-readings').textContent.replace(/\\D/g, '')) > n",
                           arg=before, timeout=20_000)
    screenshot(page, "citylab-up-city")
    first = page.locator("#main table.data tbody tr a").first
    name = first.inner_text()
    first.click()
    page.wait_for_selector(".chart .chart-line", timeout=20_000)
    assert name in page.locator("h1").inner_text()
    screenshot(page, "citylab-up-device")
