"""The dashboard in a real browser: pages load, values move live, a lab is graded from the page,
the gradebook exports the right CSV, and it all fits a tablet.
"""

from __future__ import annotations

import csv
import io
import math
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from citylab.stores import SQLiteStore
from dashboard import DashboardServer
from labs import Gradebook
from browser.conftest import screenshot  # tests/ is on sys.path, as for test_dashboard
from test_dashboard import record, telemetry
from test_dashboard_api import result

pytestmark = pytest.mark.timeout(120)

DEVICES = [("wx-centre", "weather", "centre", 0, 150), ("aq-egnatia", "air_quality", "centre", 250, 400),
           ("aq-aristotelous", "air_quality", "centre", -80, 200), ("lamp-01", "streetlight", "centre", -20, 120),
           ("aq-port", "air_quality", "port", -900, -350), ("lamp-port", "streetlight", "port", -700, -420),
           ("aq-sea", "air_quality", "seafront", 600, -250), ("lamp-sea", "streetlight", "seafront", 350, -200),
           ("wx-upper", "weather", "upper-town", -300, 950), ("aq-upper", "air_quality", "upper-town", -150, 1100)]


class City:
    """A store with an hour of history and a writer that keeps it moving, as the recorder would."""

    def __init__(self, folder: Path) -> None:
        self.store = SQLiteStore(folder / "run.db")
        self.gradebook = folder / "gradebook.sqlite"
        self.stop = threading.Event()
        now = time.time()
        for i in range(120):
            self.tick(now - 3600 + i * 30, i)
        for device, *_ in DEVICES[:-2]:
            record(self.store, f"citylab/demo/{device}/status", b"online", now - 3600)
        record(self.store, "citylab/demo/lamp-sea/status", b"offline", now - 60)
        record(self.store, "citylab/demo/aq-port/telemetry",
               b'[{"bn":"urn:citylab:demo:aq-port:","n":"temperature","u":"C","v":21.5}]', now - 30)
        book = Gradebook(self.gradebook)
        for site, score in [("g1-ann", 5), ("g1-ann", 10), ("g1-bob", 0), ("g2-cy", 7)]:
            book.record(result(site, score))
        self.step = 120

    def tick(self, t: float, i: int) -> None:
        for n, (device, kind, *_) in enumerate(DEVICES):
            wave = math.sin(i / 12 + n)
            if kind == "air_quality":
                telemetry(self.store, "demo", device, {"pm2_5": (round(14 + 12 * wave + n * 3, 2), "ug/m3"),
                                                       "no2": (round(30 + 10 * wave, 2), "ug/m3")}, t)
            elif kind == "weather":
                telemetry(self.store, "demo", device, {"temperature": (round(19 + 3 * wave, 2), "Cel"),
                                                       "humidity": (round(55 + 8 * wave, 1), "%RH")}, t)
            else:
                telemetry(self.store, "demo", device, {"power": (round(80 + 40 * wave, 1), "W")}, t)

    def run(self) -> None:
        while not self.stop.wait(0.3):
            self.step += 1
            self.tick(time.time(), self.step)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, City]]:
    city = City(tmp_path_factory.mktemp("browser"))
    plan = types.SimpleNamespace(name="Thessaloniki", latitude=40.64, longitude=22.94, description="", devices=[
        types.SimpleNamespace(id=i, type=t, district=d, x=x, y=y) for i, t, d, x, y in DEVICES])
    writer = threading.Thread(target=city.run, daemon=True)
    writer.start()
    with DashboardServer(city.store, port=0, city=plan, site="demo", gradebook_path=city.gradebook) as server:
        yield server.url, city
    city.stop.set()


def test_city_map_draws_every_device_and_moves_live(page: Any, site: tuple[str, City]) -> None:
    url, _ = site
    page.goto(url + "#/city")
    page.wait_for_selector(".connection[data-state='live']")
    assert page.locator(".city-map .markers circle").count() == len(DEVICES)
    assert page.locator(".city-map .district").count() == 4
    # Status colours: the offline lamp is red-ringed, devices with no status are "reporting".
    assert "offline" in page.locator("circle[data-id='lamp-sea']").get_attribute("class")
    assert page.locator(".legend-list li").count() == 4
    cell = page.locator("#main table.data tbody tr", has_text="aq-egnatia").locator("td.latest")
    before = cell.inner_text()
    page.wait_for_function("([el, text]) => el.textContent !== text", arg=[cell.element_handle(), before], timeout=5000)
    page.select_option("#colour-by", "pm2_5")
    assert page.locator(".legend-list li", has_text="µg/m³").count() >= 4
    screenshot(page, "city")
    page.locator("circle[data-id='aq-egnatia']").click()
    page.wait_for_selector(".chart .chart-line")
    assert page.url.endswith("#/device/demo/aq-egnatia")
    assert "Air quality · centre" in page.locator(".page-head p").inner_text()


def test_device_page_charts_each_quantity_and_updates_live(page: Any, site: tuple[str, City]) -> None:
    url, _ = site
    page.goto(url + "#/device/demo/aq-port")
    page.wait_for_selector(".chart-card[data-quantity='pm2_5'] .chart-line")
    assert page.locator(".chart-card").count() == 2  # pm2_5 and no2
    assert "PM2.5 over the last 1 hour" in page.locator(".chart-card[data-quantity='pm2_5'] svg").get_attribute("aria-label")
    assert "Online" in page.locator("h1").inner_text()
    assert "use 'Cel'" in page.locator(".dead-list").inner_text()
    line = ".chart-card[data-quantity='pm2_5'] .chart-line"
    before = page.locator(line).get_attribute("d")
    # The chart is redrawn whole, so look the line up again each time.
    page.wait_for_function("([sel, d]) => document.querySelector(sel)?.getAttribute('d') !== d", arg=[line, before],
                           timeout=5000)
    assert page.locator(".chart-card").count() == 2  # updates redraw the charts, they do not add or drop any
    page.get_by_role("radio", name="15 min").click()
    page.wait_for_function("() => document.querySelector('.chart-card svg').getAttribute('aria-label').includes('15 min')")
    screenshot(page, "device")


def test_unknown_device_says_so(page: Any, site: tuple[str, City]) -> None:
    page.goto(site[0] + "#/device/demo/ghost")
    assert "No device 'ghost'" in page.locator(".notice").inner_text()
    # The browser logs the API's 404 as a console error: here it is the point of the test.
    assert all("404" in problem for problem in page.problems)
    page.problems.clear()


def test_a_lab_graded_from_the_page_shows_its_score_and_checks(page: Any, site: tuple[str, City]) -> None:
    url, _ = site
    page.goto(url + "#/labs")
    page.get_by_role("link", name="Publish sensor telemetry").click()
    page.wait_for_selector(".instructions h2")
    screenshot(page, "lab")
    page.fill("#grade-site", "trainee-1")
    page.check("#sol-reference")
    page.click("#grade-start")
    page.wait_for_selector(".run-state[data-state='running'], .run-state[data-state='done']")
    page.wait_for_selector(".run-state[data-state='done']", timeout=60_000)
    score = page.locator("#score .score-value").inner_text()
    got, most = (int(x) for x in score.split("/"))
    assert got == most > 0
    assert page.locator(".checks .check.pass").count() == page.locator(".checks .check").count() >= 3
    page.wait_for_selector("#lab-history .score-pill")
    page.wait_for_timeout(700)  # let the checks' entrance animation finish
    page.locator("#run").scroll_into_view_if_needed()
    screenshot(page, "lab-graded")


def test_uploaded_wrong_program_gets_feedback(page: Any, site: tuple[str, City], tmp_path: Path) -> None:
    url, _ = site
    program = tmp_path / "device.py"
    program.write_text("raise SystemExit('I do nothing')\n")
    page.goto(url + "#/labs/01-mqtt-telemetry")
    page.fill("#grade-site", "trainee-2")
    page.set_input_files("#grade-file", str(program))
    page.click("#grade-start")
    page.wait_for_selector(".run-state[data-state='done']", timeout=60_000)
    assert page.locator(".checks .check.fail").count() >= 1
    assert page.locator(".checks .check.fail .feedback").first.inner_text().strip() != ""
    page.wait_for_timeout(700)
    screenshot(page, "lab-feedback", element=".lab-grid .side")


def test_gradebook_matrix_filters_and_csv_export(page: Any, site: tuple[str, City]) -> None:
    url, _ = site
    page.goto(url + "#/gradebook")
    page.wait_for_selector("#gb-matrix")
    assert {"g1-ann", "g1-bob", "g2-cy"} <= set(page.locator("#gb-matrix tbody th").all_inner_texts())
    page.fill("#gb-prefix", "g1-")
    page.wait_for_function("() => document.querySelectorAll('#gb-matrix tbody tr').length === 2")
    screenshot(page, "gradebook")
    page.get_by_role("button", name="g1-ann, 01-mqtt-telemetry: 10 / 10, 2 tries").click()
    page.wait_for_function("() => document.querySelectorAll('#gb-runs tbody tr').length === 2")
    with page.expect_download() as download:
        page.click("#gb-export")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert [(r["site"], r["score"]) for r in rows] == [("g1-ann", "5"), ("g1-ann", "10")]
    page.locator("#gb-runs a", has_text="Detail").first.click()
    page.wait_for_selector(".checks")
    assert "use 'Cel' for temperature" not in page.locator(".checks").inner_text()  # the newest run passed


def test_dead_letter_inspector_shows_reasons_and_new_ones_live(page: Any, site: tuple[str, City]) -> None:
    url, city = site
    page.goto(url + "#/dead-letters")
    page.wait_for_selector(".connection[data-state='live']")
    page.wait_for_selector(".dead-table tbody tr")
    assert "use 'Cel'" in page.locator(".dead-table tbody").inner_text()
    record(city.store, "citylab/demo/lamp-01/telemetry", b'{"power": 12', time.time())
    page.wait_for_selector(".dead-table tbody tr.changed", timeout=5000)
    assert "citylab/demo/lamp-01/telemetry" in page.locator(".dead-table tbody tr").first.inner_text()
    page.locator(".dead-table tbody tr").first.locator("summary").click()
    assert '{"power": 12' in page.locator(".dead-table tbody tr").first.locator("pre").inner_text()
    screenshot(page, "dead-letters")


def test_api_reference_lists_every_route(page: Any, site: tuple[str, City]) -> None:
    page.goto(site[0] + "#/api")
    page.wait_for_selector(".api-op")
    text = page.locator("#main").inner_text()
    for route in ("/api/live", "/api/labs/{lab_id}/runs", "/api/gradebook/export.csv", "/api/replay/{site}/at"):
        assert route in text
    assert page.locator(".method-post").count() == 1


def test_range_buttons_move_with_the_arrow_keys(page: Any, site: tuple[str, City]) -> None:
    page.goto(site[0] + "#/device/demo/wx-centre")
    page.wait_for_selector(".chart-line")
    page.focus("[role=radio][aria-checked=true]")
    page.keyboard.press("ArrowRight")
    assert page.get_attribute("[data-range='21600']", "aria-checked") == "true"
    assert page.evaluate("document.activeElement.dataset.range") == "21600"


@pytest.mark.parametrize("route", ["#/city", "#/device/demo/wx-centre", "#/labs/01-mqtt-telemetry", "#/gradebook",
                                   "#/dead-letters", "#/api"])
def test_pages_fit_a_tablet_without_sideways_scrolling(browser: Any, site: tuple[str, City], route: str) -> None:
    context = browser.new_context(viewport={"width": 768, "height": 1024})
    page = context.new_page()
    page.goto(site[0] + route)
    page.wait_for_selector("#main:not([aria-busy]) h1")
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(page, "tablet-" + route.strip("#/").split("/")[0])
    context.close()


def test_keyboard_reaches_the_navigation_and_a_device(page: Any, site: tuple[str, City]) -> None:
    page.goto(site[0] + "#/city")
    page.wait_for_selector("#device-filter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.fill("#device-filter", "wx-upper")
    page.focus("#device-filter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "wx-upper"
    page.keyboard.press("Enter")
    page.wait_for_selector(".chart-line")


def test_replay_shows_the_map_at_a_past_moment_and_returns_to_live(page: Any, site: tuple[str, City]) -> None:
    page.goto(site[0] + "#/city")
    page.wait_for_selector(".connection[data-state='live']")
    page.select_option("#colour-by", "pm2_5")
    page.click("#replay-open")
    page.wait_for_selector(".replay-badge:not([hidden])")
    # At the very first moment recorded, the list shows the first values written (tick 0).
    page.eval_on_selector("#replay-time", "(el) => { el.value = el.min; el.dispatchEvent(new Event('input')); }")
    first = round(14 + 12 * math.sin(1) + 3, 2)  # aq-egnatia's pm2_5 at tick 0, as City.tick writes it
    cell = page.locator("#main table.data tbody tr", has_text="aq-egnatia").locator("td.latest")
    page.wait_for_function("([el, text]) => el.textContent.includes(text)", arg=[cell.element_handle(), f"{first:.1f}"])
    assert page.locator(".replay-badge").inner_text().startswith("Replay:")
    # While replaying, live readings do not move the map: its colours stay put for a second of live traffic.
    fills = page.eval_on_selector_all(".markers circle", "(cs) => cs.map((c) => c.getAttribute('fill')).join()")
    page.wait_for_timeout(1000)
    assert page.eval_on_selector_all(".markers circle", "(cs) => cs.map((c) => c.getAttribute('fill')).join()") == fills
    screenshot(page, "city-replay", element=".map-panel")
    page.click("#replay-play")
    assert page.get_attribute("#replay-play", "aria-pressed") == "true"
    page.click("#replay-live")
    page.wait_for_selector(".replay-badge", state="hidden")
    assert page.is_visible("#replay-open")


def test_a_device_opened_from_a_replay_charts_up_to_that_moment(page: Any, site: tuple[str, City]) -> None:
    page.goto(site[0] + "#/city")
    page.wait_for_selector(".connection[data-state='live']")
    page.click("#replay-open")
    page.wait_for_selector(".replay-badge:not([hidden])")
    page.eval_on_selector("#replay-time", "(el) => { el.value = Number(el.min) + 1800; el.dispatchEvent(new Event('input')); }")
    page.wait_for_timeout(500)
    page.locator("circle[data-id='aq-sea']").click()
    page.wait_for_selector(".chart-card[data-quantity='pm2_5'] .chart-line")
    assert "?at=" in page.url and "Replay:" in page.locator(".page-head").inner_text()
    # The chart ends at the replayed moment (half an hour ago), not now: it does not move with live values.
    line = ".chart-card[data-quantity='pm2_5'] .chart-line"
    before = page.locator(line).get_attribute("d")
    page.wait_for_timeout(1200)
    assert page.locator(line).get_attribute("d") == before
    page.get_by_role("link", name="Back to live").click()
    page.wait_for_function("() => !location.hash.includes('at=')")
    page.wait_for_selector(line)
