"""Checks of lab 01: 10 points, one aspect of the contract per check.

Each check looks at one thing only, so a solution with one mistake loses the
points of that mistake and no others: the units check reads the units even
of packs refused for their base name, and the well-formed check forgives
packs refused only for their units. The assertion message is the feedback
the trainee reads; it says what to fix and shows the evidence.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter

import pytest

from citylab import contract
from citylab.errors import ContractError
from citylab.units import QUANTITY_UNITS, SENML_UNITS, suggest_unit
from labs.engine import Pack, Run

EXPECTED_UNITS = {"temperature": "Cel", "humidity": "%RH"}
PERIOD_S = (1.0, 5.0)  # "about every 2 s"


def _no_telemetry(run: Run) -> str:
    topic = run.topic("telemetry")
    others = [t for t in run.topics_seen() if t != topic and not t.endswith("/status")]
    if others:
        return (f"no message arrived on {topic} in {run.ran_s:.1f} s, but some arrived on "
                f"{', '.join(others[:3])}: publish to {topic} exactly")
    return (f"no message arrived on {topic} in {run.ran_s:.1f} s: publish each pack with "
            f"client.publish('{topic}', payload)")


def _packs(run: Run) -> list[Pack]:
    packs = run.packs("telemetry")
    assert packs, _no_telemetry(run)
    return packs


@pytest.mark.points(2)
def test_telemetry_topic(run: Run) -> None:
    """Telemetry arrives on citylab/{site}/{device}/telemetry"""
    _packs(run)


@pytest.mark.points(2)
def test_units(run: Run) -> None:
    """Temperature in 'Cel' and humidity in '%RH' (SenML units)"""
    packs = _packs(run)
    wrong: Counter[tuple[str, str | None]] = Counter()
    right: set[str] = set()
    for pack in packs:
        for name, unit in {(r.name, r.unit) for r in pack.records if r.name in EXPECTED_UNITS}:
            if unit == EXPECTED_UNITS[name]:
                right.add(name)
            else:
                wrong[(name, unit)] += 1
    if wrong:
        (name, unit), count = wrong.most_common(1)[0]
        used = f"unit {unit!r}" if unit else "no unit"
        meaning = f" (which SenML reads as {SENML_UNITS[unit]})" if unit in SENML_UNITS else ""
        pytest.fail(f"{count} of {len(packs)} packs used {used} for {name}{meaning}: "
                    f"write \"u\": \"{EXPECTED_UNITS[name]}\"")
    refused = [p for p in packs if p.kind == "unit"]
    assert not refused, f"{len(refused)} of {len(packs)} packs were refused for a unit: {refused[0].reason}"
    for name, unit in EXPECTED_UNITS.items():
        assert name in right, (f"no {name} arrived: add a record like "
                               f"{{\"n\": \"{name}\", \"u\": \"{unit}\", \"v\": ...}} to each pack")


def _units_repaired(pack: Pack) -> bytes | None:
    """The pack's payload with every unit made right, or None if it cannot be read back."""
    if pack.payload is None or len(pack.payload.encode()) >= 2048:  # the store keeps the first 2 KiB
        return None
    try:
        data = json.loads(pack.payload)
    except ValueError:
        return None
    for item in data if isinstance(data, list) else []:
        if not isinstance(item, dict):
            continue
        name = str(item.get("n", "")).rsplit(":", 1)[-1]
        for key in ("u", "bu"):
            if key in item:
                given = item[key]
                fix = suggest_unit(given) if isinstance(given, str) else None
                item[key] = QUANTITY_UNITS.get(name, (fix if fix in SENML_UNITS else "count",))[0]
    return json.dumps(data).encode()


@pytest.mark.points(2)
def test_senml_well_formed(run: Run) -> None:
    """Packs are well-formed SenML with this device's base name"""
    packs = _packs(run)
    problems = []
    for pack in packs:
        if pack.valid:
            continue
        if pack.kind != "unit":
            problems.append(pack.reason)
            continue
        # Refused for a unit, which the units check counts: is the rest right?
        repaired = _units_repaired(pack)
        if repaired is not None:
            try:
                contract.validate_message(pack.topic, repaired)
            except ContractError as exc:
                problems.append(exc.reason)
    assert not problems, (f"{len(problems)} of {len(packs)} packs were refused by the contract: {problems[0]}"
                          + ("" if len(set(problems)) == 1 else f" (and {len(set(problems)) - 1} other reasons)"))


@pytest.mark.points(1)
def test_rate(run: Run) -> None:
    """A pack about every 2 s"""
    packs = _packs(run)
    assert len(packs) >= 2, (f"only 1 pack arrived in {run.ran_s:.0f} s: publish one every 2 s, "
                             f"in a loop with time.sleep(2)")
    times = [p.received for p in packs]
    period = statistics.median(b - a for a, b in zip(times, times[1:]))
    assert PERIOD_S[0] <= period <= PERIOD_S[1], (
        f"{len(packs)} packs arrived in {run.ran_s:.0f} s, one every {period:.2f} s: publish one every 2 s "
        f"(between {PERIOD_S[0]:.0f} and {PERIOD_S[1]:.0f} s is accepted)")


@pytest.mark.points(1)
def test_online_retained(run: Run) -> None:
    """Status 'online', retained, once connected"""
    topic = run.topic("status")
    seen = [s["status"] for s in run.statuses() if s["received"] >= run.started]
    refused = run.dead_letters(topic=topic)
    hint = f"after connecting, client.publish('{topic}', 'online', qos=1, retain=True)"
    if "online" not in seen:
        evidence = f" (the status refused: {refused[0]['reason']})" if refused else ""
        pytest.fail(f"no 'online' status arrived on {topic}{evidence}: {hint}")
    # A live subscriber never sees the retain flag; a fresh one, half-way
    # through the run, receives only what the broker retained.
    retained = run.retained_mid.get(topic)
    assert retained is not None and retained.strip() == "online", (
        f"'online' was published but not retained: a subscriber that arrived half-way through the run "
        f"{'got ' + repr(retained) if retained is not None else 'got no status at all'}, as a dashboard "
        f"opened late would: {hint}")


@pytest.mark.points(2)
def test_last_will(run: Run) -> None:
    """Last will 'offline', retained, when the device is cut off"""
    topic = run.topic("status")
    hint = (f"set a last will with client.will_set('{topic}', 'offline', qos=1, retain=True) "
            f"before connect()")
    # The will comes from the broker after the connection dropped; an
    # 'offline' the program sent itself while still alive does not count.
    after = [s["status"] for s in run.statuses() if s["received"] >= run.ended - 0.05]
    retained = run.retained_end.get(topic)
    if "offline" not in after:
        still = f" (the broker still shows {retained.strip()!r} to newcomers)" if retained else ""
        pytest.fail(f"no 'offline' status arrived after the device was cut off{still}: {hint}")
    assert retained is not None and retained.strip() == "offline", (
        f"the last will 'offline' arrived, but it was not retained (a newcomer gets "
        f"{retained!r}): pass retain=True to will_set()")
