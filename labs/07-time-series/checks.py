"""Checks of lab 07: 10 points, what is in the database and what the program answered.

The first two checks read the trainee's database back (``run.influx``, the
grading's own InfluxDB database): every reading a point with the right tags
and field types, at the reading's own time. The downsampling check reads the
measurement the program wrote INTO. The answer checks compare the JSON answer
with the truth the dataset generator computed with numpy from the same rows
(labs/07-time-series/dataset.py), bucketed from the epoch in UTC as InfluxDB
does. When the points are stored at the wrong time, the checks that depend
on them say so, so one cause is named once and pointed at from the rest.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from citylab.errors import StoreError
from labs.engine import AnalysisRun

TOLERANCE = 0.01  # a mean rounded to 2 decimals is fine
FIELDS = {"weather": {"temperature": "float", "humidity": "float"}, "traffic": {"vehicles": "integer"}}
NS = 1_000_000_000


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _stamp(ns: int) -> str:
    """A stored time in full, nanoseconds included: 1970-01-01T00:00:01.759708879Z."""
    whole = datetime.fromtimestamp(ns // NS, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{whole}.{ns % NS:09d}Z" if ns % NS else f"{whole}Z"


def _query(run: AnalysisRun, text: str, epoch: str = "s") -> list[dict[str, Any]]:
    assert run.influx is not None, "this lab needs its InfluxDB database, and the grader gave none"
    try:
        return run.influx.query(text, epoch)
    except StoreError as exc:
        raise AssertionError(f"the grader could not read your database back ({exc})") from exc


def _measurements(run: AnalysisRun) -> list[str]:
    return [row[0] for s in _query(run, "SHOW MEASUREMENTS") for row in s.get("values", [])]


def _points(run: AnalysisRun, measurement: str) -> dict[str, list[int]]:
    """The stored times (ns) of each device's points in ``measurement``; "" for points with no device tag."""
    by_device: dict[str, list[int]] = {}
    for series in _query(run, f'SELECT * FROM "{measurement}" GROUP BY "device"', epoch="ns"):
        device = (series.get("tags") or {}).get("device", "")
        by_device.setdefault(device, []).extend(int(v[0]) for v in series["values"])
    return {d: sorted(t) for d, t in by_device.items()}


def _misplaced(run: AnalysisRun) -> str:
    """Why the stored points are at the wrong time, as one sentence; "" when they are where they belong."""
    for device, info in run.truth["devices"].items():
        stored = _points(run, info["measurement"]).get(device)
        if not stored:
            continue
        first, expected = stored[0], info["times"][0]
        if abs(first - expected * NS) < NS:
            continue
        ratio = first / (expected * NS)
        if 0.5e-9 < ratio < 2e-9:
            why = "InfluxDB read your times in seconds as nanoseconds: write with /write?precision=s"
        elif 0.5e-6 < ratio < 2e-6:
            why = "InfluxDB read your times in seconds as microseconds: write with /write?precision=s"
        elif 0.5e-3 < ratio < 2e-3:
            why = "InfluxDB read your times in seconds as milliseconds: write with /write?precision=s"
        elif abs(first / NS - datetime.now(timezone.utc).timestamp()) < 86400:
            why = ("that is when your program wrote it, not when it was measured: end each line with the "
                   "reading's own time")
        else:
            why = "write the reading's own time, in seconds, with /write?precision=s"
        return (f"{device}'s first point is stored at {_stamp(first)}, but its reading was taken at "
                f"{_stamp(expected * NS)} ({expected} s): {why}")
    return ""


def _because(run: AnalysisRun) -> str:
    """A pointer to the timestamp problem, added to the feedback of the checks it spoils."""
    # The whole sentence is the timestamp check's own feedback; here a pointer is enough.
    return " (your points are not at their readings' times: see the check on timestamps)" if _misplaced(run) else ""


def _instant(value: Any) -> float | None:
    """A time the program wrote, as Unix seconds: RFC 3339 text or a number of seconds."""
    seconds: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and value.strip().isdigit():
        seconds = float(value)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        seconds = (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).timestamp()
    # Years 1970 to 2100: anything else is not a time of this dataset (and could not be printed as one).
    return seconds if seconds is not None and 0 <= seconds < 4_102_444_800 else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _section(run: AnalysisRun, key: str, example: str) -> dict[str, Any]:
    answer = run.require_answer()
    section = answer.get(key)
    assert isinstance(section, dict), (
        f"the answer has no \"{key}\" object (its keys: {', '.join(map(str, answer)) or 'none'}): write {example}")
    return section


@pytest.mark.points(2)
def test_every_reading_is_a_point_with_its_tags(run: AnalysisRun) -> None:
    """Every reading is a point of weather or traffic, tagged with its device and district"""
    names = _measurements(run)
    for measurement, fields in FIELDS.items():
        expected = {d: i for d, i in run.truth["devices"].items() if i["measurement"] == measurement}
        assert measurement in names, (
            f"there is no measurement '{measurement}' in your database (it has: {', '.join(names) or 'nothing'}): "
            f"write each {measurement} reading as a point like  {measurement},device=...,district=... "
            f"{'temperature=12.3,humidity=71.0' if measurement == 'weather' else 'vehicles=42i'} <time>")
        tags = {row[0] for s in _query(run, f'SHOW TAG KEYS FROM "{measurement}"') for row in s.get("values", [])}
        assert {"device", "district"} <= tags, (
            f"the points of {measurement} have the tags {sorted(tags) or 'none'}: device and district must be "
            f"tags (after the measurement's name, separated by commas), not fields")
        types = {row[0]: row[1] for s in _query(run, f'SHOW FIELD KEYS FROM "{measurement}"')
                 for row in s.get("values", [])}
        for field, kind in fields.items():
            assert field in types, (f"the points of {measurement} have no field '{field}' (their fields: "
                                    f"{', '.join(sorted(types)) or 'none'})")
            assert types[field] == kind, (
                f"the field '{field}' of {measurement} is stored as {types[field]}, but it must be {kind}: "
                + ("write a count with an 'i' after it, vehicles=42i" if kind == "integer"
                   else "write it as a number with a decimal point"))
        series = _query(run, f'SELECT count("{next(iter(fields))}") FROM "{measurement}" GROUP BY "device", "district"')
        stored = {(s["tags"]["device"], s["tags"]["district"]): s["values"][0][1] for s in series}
        for device, info in expected.items():
            count = sum(n for (d, _), n in stored.items() if d == device)
            districts = sorted(di for (d, di) in stored if d == device)
            want = len(info["times"])
            assert count == want, (
                f"{device} has {count} points in {measurement}, but the input has {want} readings of it"
                + (": points with the same tags and the same time overwrite each other, so give each point its "
                   "reading's own time" if 0 < count < want else ""))
            assert districts == [info["district"]], (
                f"{device}'s points are tagged district={', '.join(districts)}, but the station is in "
                f"{info['district']}")


@pytest.mark.points(2)
def test_each_point_has_its_readings_own_time(run: AnalysisRun) -> None:
    """Each point is stored at its reading's own time, to the second"""
    misplaced = _misplaced(run)
    assert not misplaced, misplaced
    for device, info in run.truth["devices"].items():
        stored = _points(run, info["measurement"]).get(device, [])
        assert stored, f"there are no points of {device} in {info['measurement']} to look at"
        expected = [t * NS for t in info["times"]]
        wrong = sorted(set(expected) - set(stored))
        assert not wrong, (f"{len(wrong)} of {device}'s {len(expected)} readings have no point at their own time, "
                           f"such as {_stamp(wrong[0])}")


def _truth_hour(run: AnalysisRun, device: str, hour: float) -> float | None:
    from_text = {_instant(k): v for k, v in run.truth["hourly_temperature"][device].items()}
    return from_text.get(hour)


@pytest.mark.points(2)
def test_hourly_mean_temperature(run: AnalysisRun) -> None:
    """The hourly mean temperature of each weather station (GROUP BY time(1h))"""
    given_all = _section(run, "hourly_temperature",
                         '{"hourly_temperature": {"env-01": {"2025-10-06T00:00:00Z": 12.34, ...}, ...}}')
    wrong, total = [], 0
    for device, hours in run.truth["hourly_temperature"].items():
        given = given_all.get(device)
        if isinstance(given, list):  # InfluxDB's own "values": [[time, mean], ...]
            given = {str(p[0]): p[1] for p in given if isinstance(p, (list, tuple)) and len(p) == 2}
        given = {_instant(k): _number(v) for k, v in given.items()} if isinstance(given, dict) else {}
        for text, mean in hours.items():
            total += 1
            value = given.get(_instant(text))
            if value is None or abs(value - mean) > TOLERANCE:
                wrong.append((device, _instant(text), value, mean))
    if wrong:
        # Show a wrong value rather than a missing one when there is one: it says more.
        device, hour, value, mean = next((w for w in wrong if w[2] is not None), wrong[0])
        said = f"you gave {value:.2f} Cel" if value is not None else "there is no mean for that hour"
        hint = ""
        for shift in (-3600, 3600, -7200, 7200):
            other = _truth_hour(run, device, hour + shift)
            if value is not None and other is not None and abs(value - other) <= TOLERANCE:
                hint = (f" (that is the mean of the hour starting {_when(hour + shift)}: give the hours in UTC, "
                        f"as InfluxDB does)")
                break
        pytest.fail(f"{len(wrong)} of {total} hourly means are wrong or missing: {device} at {_when(hour)}: {said}"
                    f"{hint}, but the mean of its readings from that hour is {mean:.2f} Cel{_because(run)}")


@pytest.mark.points(2)
def test_downsampled_into_weather_15m(run: AnalysisRun) -> None:
    """15-minute means of temperature and humidity written INTO weather_15m, per station"""
    names = _measurements(run)
    assert "weather_15m" in names, (
        f"there is no measurement weather_15m in your database (it has: {', '.join(names) or 'nothing'}): "
        f"downsample with SELECT mean(\"temperature\") AS \"temperature\", ... INTO \"weather_15m\" FROM \"weather\" "
        f"WHERE <the data's time range> GROUP BY time(15m), *{_because(run)}")
    fields = {row[0] for s in _query(run, 'SHOW FIELD KEYS FROM "weather_15m"') for row in s.get("values", [])}
    assert {"temperature", "humidity"} <= fields, (
        f"weather_15m has the fields {', '.join(sorted(fields)) or 'none'}, but it needs temperature and humidity: "
        f"name each mean with AS, mean(\"temperature\") AS \"temperature\"")
    stored: dict[str, dict[float, tuple[Any, Any]]] = {}
    for s in _query(run, 'SELECT "temperature", "humidity" FROM "weather_15m" GROUP BY "device"'):
        device = (s.get("tags") or {}).get("device", "")
        stored.setdefault(device, {}).update({float(t): (a, b) for t, a, b in s["values"]})
    stations = sorted(d for d in stored if d)
    assert stations, (
        f"weather_15m has {sum(map(len, stored.values()))} points and no device tag: the 15-minute means mix "
        f"every station together. Keep the tags with GROUP BY time(15m), * (or GROUP BY time(15m), \"device\")"
        f"{_because(run)}")
    wrong, total = [], 0
    for device, quarters in run.truth["weather_15m"].items():
        for text, means in quarters.items():
            total += 1
            got = stored.get(device, {}).get(_instant(text))
            if got is None or any(_number(g) is None or abs(g - means[k]) > TOLERANCE
                                  for g, k in zip(got, ("temperature", "humidity"))):
                wrong.append((device, _instant(text), got, means))
    if wrong:
        device, quarter, got, means = wrong[0]
        said = (f"it holds temperature {got[0]} and humidity {got[1]}" if got is not None
                else "there is no point at that time")
        pytest.fail(f"{len(wrong)} of {total} 15-minute means in weather_15m are wrong or missing: {device} at "
                    f"{_when(quarter)}: {said}, but the means of its readings in those 15 minutes are "
                    f"{means['temperature']:.2f} Cel and {means['humidity']:.2f} %RH{_because(run)}")


@pytest.mark.points(2)
def test_busiest_hour_of_each_counter(run: AnalysisRun) -> None:
    """The busiest hour of each traffic counter: the most vehicles in all"""
    given_all = _section(run, "busiest_hour",
                         '{"busiest_hour": {"tc-01": {"time": "2025-10-06T17:00:00Z", "vehicles": 1234}, ...}}')
    for device, truth in run.truth["busiest_hour"].items():
        given = given_all.get(device)
        assert isinstance(given, dict), (f"\"busiest_hour\" has no entry for {device}: give "
                                         f"{{\"time\": ..., \"vehicles\": ...}} for each counter{_because(run)}")
        when, vehicles, expected = _instant(given.get("time")), _number(given.get("vehicles")), _instant(truth["time"])
        trap = run.truth["trap_hour"][device]
        if when != expected:
            said = f"you gave {_when(when)}" if when is not None else f"\"time\" is {given.get('time')!r}"
            hint = ""
            if when == _instant(trap["time"]):
                hint = (f". The hour you gave has the highest mean per reading ({trap['mean']} vehicles per "
                        f"5 minutes) only because some of its readings are missing: it had {trap['vehicles']} "
                        f"vehicles in all. Rank the hours by sum(), not mean()")
            pytest.fail(f"{device}: {said}, but the busiest hour is {_when(expected)} with {truth['vehicles']} "
                        f"vehicles{hint}{_because(run)}")
        assert vehicles == truth["vehicles"], (
            f"{device}: the hour {_when(expected)} is right, but it had {truth['vehicles']} vehicles, "
            f"not {given.get('vehicles')!r}")
