"""Checks of lab 02: 10 points, one aspect of a serial bridge per check.

The ``run`` is a ``labs.engine.serial_lab.SerialRun``: the recording, plus
every valid pack and every noise burst the grader's kit wrote on the line.
A pack is known again by its temperature, unique to it. Each check looks at
one thing only: a program that crashes on a bad byte loses the survival
points, not also the packs it never had the chance to read, so the
"every pack" check counts only the packs sent while the program was alive.
"""

from __future__ import annotations

from collections import Counter

import pytest

from labs.engine import Pack

# A pack sent this close to the program's death may not have been read:
# not counted against it (the survival check says it died).
ALIVE_MARGIN_S = 0.3


def _no_telemetry(run) -> str:
    topic = run.topic("telemetry")
    if not run.port_opened:
        return (f"no message arrived on {topic}, and your program never opened the serial port: open it with "
                f"serial.Serial(os.environ['CITYLAB_SERIAL'], 115200, timeout=1)")
    others = [t for t in run.topics_seen() if t != topic and not t.endswith("/status")]
    if others:
        return (f"the kit sent {len(run.sent)} packs but none arrived on {topic}; some messages arrived on "
                f"{', '.join(others[:3])}: publish to {topic} exactly")
    return (f"the kit sent {len(run.sent)} packs in {run.ran_s:.1f} s but none arrived on {topic}: publish each "
            f"line that is a SenML pack with client.publish('{topic}', line)")


def _valid(run) -> list[Pack]:
    packs = [p for p in run.packs("telemetry") if p.valid]
    assert packs, _no_telemetry(run)
    return packs


def _temperatures(packs: list[Pack]) -> Counter[float]:
    # Two packs published in the same instant may share an arrival time and
    # so one group of records: count every temperature record, not groups.
    return Counter(round(float(r.value), 2) for p in packs for r in p.records
                   if r.name == "temperature" and isinstance(r.value, (int, float)))


@pytest.mark.points(2)
def test_telemetry_topic(run) -> None:
    """The kit's packs arrive on citylab/{site}/{device}/telemetry"""
    _valid(run)


@pytest.mark.points(3)
def test_every_pack_once(run) -> None:
    """Every valid pack the kit sent arrives, once"""
    arrived = _temperatures(_valid(run))
    counted = [s for s in run.sent if s.sent < run.ended - ALIVE_MARGIN_S]
    assert counted, f"your program ended {run.ran_s:.1f} s after it started, before the kit sent its first pack"
    lost = [s for s in counted if arrived[s.temperature] == 0]
    doubled = [s for s in counted if arrived[s.temperature] > 1]
    if lost:
        split = [s for s in lost if s.split]
        how = (f"{len(split)} of them reached your program in two pieces, a fraction of a second apart: keep "
               f"the bytes after the last newline in a buffer and prepend them to the next read, do not throw "
               f"them away" if split else
               "read the port in a loop and publish every line that is a SenML pack")
        pytest.fail(f"{len(lost)} of the {len(counted)} valid packs the kit sent never arrived (the first lost "
                    f"had temperature {lost[0].temperature} Cel): {how}")
    assert not doubled, (
        f"{len(doubled)} of the {len(counted)} valid packs arrived more than once (temperature "
        f"{doubled[0].temperature} Cel arrived {arrived[doubled[0].temperature]} times): publish each line once, "
        f"and remove it from your buffer once published")


@pytest.mark.points(3)
def test_no_garbage_published(run) -> None:
    """Noise from the line is skipped, not published"""
    # Publishing nothing publishes no garbage either: no points for that.
    _valid(run)
    refused = run.dead_letters()
    if not refused:
        return
    first = refused[0]
    shown = first["payload"][:60]
    pytest.fail(f"{len(refused)} messages you published were refused by the city, like {shown!r} on "
                f"{first['topic']} ({first['reason']}): the line carries boot logs starting with '#', packs cut "
                f"off by a reset and bursts of random bytes; publish a line only if json.loads() reads it as a "
                f"list (a SenML pack), and skip every other line")


@pytest.mark.points(2)
def test_survives_the_noise(run) -> None:
    """Still bridging after the noise: no crash, the last packs arrive"""
    if run.solution.ended_early:
        before = [n for n in run.noise if n.sent <= run.ended]
        last = before[-1] if before else None
        after = f", just after the kit sent {_describe(last)}" if last else ""
        pytest.fail(f"your program ended {run.ran_s:.1f} s after it started{after}, and the kit went on sending: "
                    f"a bridge must outlive any line; decode with errors='replace' and catch what a bad line "
                    f"raises (UnicodeDecodeError, ValueError), then read the next line")
    if not run.noise:
        pytest.fail("the kit never got to send its noise: your program did not open the serial port in time")
    quiet = max(n.sent for n in run.noise)
    after = [s for s in run.sent if s.sent > quiet]
    arrived = _temperatures([p for p in run.packs("telemetry") if p.valid])
    got = [s for s in after if arrived[s.temperature]]
    assert got, (f"none of the {len(after)} packs the kit sent after its last noise burst ({_describe(run.noise[-1])}) "
                 f"arrived: your program stopped bridging after the noise; keep reading the port whatever a line "
                 f"holds")


def _describe(noise) -> str:
    return {
        "log": "a '#' log line",
        "truncated": "a pack cut off by a reset",
        "garbage": f"a burst of {len(noise.data)} random bytes",
        "bad-utf8": "a log line with bytes that are not UTF-8",
    }.get(noise.kind, noise.kind) + f" ({noise.data[:24]!r})"
