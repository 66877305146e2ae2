"""Bad input (issue 5): programs that do not start, print garbage, flood the broker or publish
under another site get a grade with feedback saying so, and the grader stays unharmed and on time.

(Crashes, memory hogs and programs that never end: tests/test_lab01.py.) All gradings run at once in
threads, each with the grader's own embedded broker, where the grader knows every publisher.
"""

from __future__ import annotations

import resource
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from labs import GradeResult, get_lab, grade
from labs.engine.guard import FLOOD_CHECK, FOREIGN_CHECK, flood_limit

LAB = get_lab("01-mqtt-telemetry")
SIM_LAB = get_lab("03-smart-streetlights")

SYNTAX_ERROR = "import paho.mqtt.client as mqtt\ndef main(:\n    pass\n"
# Publishes 100,000 messages as fast as paho lets it, then idles.
FLOOD = (
    "import os, time\n"
    "import paho.mqtt.client as mqtt\n"
    "from paho.mqtt.enums import CallbackAPIVersion\n"
    "from urllib.parse import urlsplit\n"
    "url = urlsplit(os.environ['CITYLAB_BROKER'])\n"
    "site, device = os.environ['CITYLAB_SITE'], os.environ['CITYLAB_DEVICE']\n"
    "c = mqtt.Client(CallbackAPIVersion.VERSION2)\n"
    "c.connect(url.hostname, url.port)\n"
    "c.loop_start()\n"
    "for i in range(100_000):\n"
    "    c.publish(f'citylab/{site}/{device}/telemetry', b'[{\"n\":\"x\",\"v\":1}]', qos=0)\n"
    "print('sent 100000', flush=True)\n"
    "time.sleep(60)\n"
)
# The reference, plus 12 telemetry packs into bob's device.
INTO_BOB = (
    "import os, threading, time\n"
    "def trespass():\n"
    "    time.sleep(1.0)\n"
    "    c = mqtt.Client(CallbackAPIVersion.VERSION2)\n"
    "    c.connect(BROKER.hostname, BROKER.port)\n"
    "    c.loop_start()\n"
    "    for i in range(12):\n"
    "        c.publish('citylab/bob/env-01/telemetry', '[]', qos=1).wait_for_publish(5)\n"
    "threading.Thread(target=trespass, daemon=True).start()\n"
)
GARBAGE = (
    "import os, sys\n"
    "sys.stdout.buffer.write(os.urandom(200_000))\n"
    "sys.stdout.flush()\n"
    "raise SystemExit(3)\n"
)
# A controller that floods commands at the city's lamps.
SIM_FLOOD = (
    "import os\n"
    "import paho.mqtt.client as mqtt\n"
    "from paho.mqtt.enums import CallbackAPIVersion\n"
    "from urllib.parse import urlsplit\n"
    "url = urlsplit(os.environ['CITYLAB_BROKER'])\n"
    "c = mqtt.Client(CallbackAPIVersion.VERSION2)\n"
    "c.connect(url.hostname, url.port)\n"
    "c.loop_start()\n"
    "while True:\n"
    "    c.publish(f\"citylab/{os.environ['CITYLAB_SITE']}/lamp-1/cmd\", b'{\"dim\": 50}', qos=0)\n"
)


@pytest.fixture(scope="module")
def gradings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, GradeResult]:
    folder = tmp_path_factory.mktemp("bad")
    reference = LAB.solution.read_text()
    marker = "\n\nif __name__ == \"__main__\":"
    assert marker in reference
    programs = {"syntax": SYNTAX_ERROR, "flood": FLOOD, "garbage": GARBAGE,
                "into-bob": reference.replace(marker, "\n\n" + INTO_BOB + marker)}
    paths = {}
    for name, code in programs.items():
        paths[name] = folder / f"{name.replace('-', '_')}.py"
        paths[name].write_text(code)
    with ThreadPoolExecutor(len(paths)) as pool:
        futures = {name: pool.submit(grade, LAB.id, "alice", path) for name, path in paths.items()}
        return {name: future.result(timeout=120) for name, future in futures.items()}


def failed(result: GradeResult) -> dict[str, str]:
    return {c.name: c.feedback for c in result.checks if not c.passed}


def test_a_program_that_does_not_start_is_told_its_syntax_error(gradings: dict[str, GradeResult]) -> None:
    result = gradings["syntax"]
    assert result.score == 0 and result.solution.crashed
    assert all("SyntaxError" in f for f in failed(result).values()), result.render_text()
    assert result.duration_s < LAB.window_seconds


def test_a_flood_is_stopped_and_said_and_the_grading_ends_on_time(gradings: dict[str, GradeResult]) -> None:
    result = gradings["flood"]
    limit = flood_limit(LAB.window_seconds)
    flood = failed(result)[FLOOD_CHECK]
    assert f"more than {limit} messages" in flood and "grader stopped it" in flood, result.render_text()
    # Stopped early: the program's 60 s sleep never came, nor the end of its 100,000 messages.
    assert result.solution.ran_s < LAB.window_seconds and not result.solution.ended_early
    assert result.duration_s < LAB.window_seconds + 8
    assert result.score < result.max_score and not result.passed
    # Every failed lab check carries the reason.
    assert all("the grader stopped your program" in f for n, f in failed(result).items() if n != FLOOD_CHECK)
    # The grader itself stayed small: this whole test process, with every grading of the file in it.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < 1_000_000  # KiB: under 1 GiB


def test_a_sim_controller_flooding_commands_is_stopped_but_the_city_is_not_counted(tmp_path: Path) -> None:
    # Alone, not in the threads above: its embedded broker (amqtt, in this process) chews through the
    # flood's backlog while it stops, and would slow the other gradings sharing this process's GIL.
    program = tmp_path / "sim_flood.py"
    program.write_text(SIM_FLOOD)
    result = grade(SIM_LAB.id, "alice", program)
    assert FLOOD_CHECK in failed(result), result.render_text()
    assert result.solution.ran_s < SIM_LAB.window_seconds
    # The window, and the bounded stops of the recorder (5 s) and of the broker (6 s) at worst.
    assert result.duration_s < SIM_LAB.window_seconds + 12


def test_publishing_under_another_site_is_reported_with_the_count(gradings: dict[str, GradeResult]) -> None:
    result = gradings["into-bob"]
    assert result.score == result.max_score == 10  # the lab's own checks are all met...
    assert not result.passed  # ...but the grade is not clean
    assert set(failed(result)) == {FOREIGN_CHECK}
    assert ("published 12 messages under citylab/bob/..., which is not your site 'alice' (the first on "
            "citylab/bob/env-01/telemetry)") in failed(result)[FOREIGN_CHECK]
    assert "✗ 0/0  Publishes only under citylab/alice/" in result.render_text()


def test_printing_garbage_is_bounded_and_the_grade_still_comes(gradings: dict[str, GradeResult]) -> None:
    result = gradings["garbage"]
    assert result.score == 0 and result.solution.crashed and result.solution.returncode == 3
    assert len(result.solution.stdout_tail) <= 20 and all(len(line) <= 300 for line in result.solution.stdout_tail)
    assert "exit code 3" in failed(result)["test_telemetry_topic"]
    # The text and JSON renderings survive the bytes.
    assert "score: 0/10" in result.render_text()
    assert GradeResult.from_dict(result.to_dict()) == result


def test_the_reference_on_its_own_broker_raises_no_finding(tmp_path: Path) -> None:
    # The guard's own checks appear only when something went wrong.
    result = grade(LAB.id, "t-clean", LAB.solution)
    assert result.passed and {c.name for c in result.checks}.isdisjoint({FLOOD_CHECK, FOREIGN_CHECK})
