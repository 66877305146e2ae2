"""The firmware's pure logic really runs on MicroPython (the WebAssembly port, under Node).

hardware/tools/mpy-wasm/firmware_check.py drives senml, settings, sensors,
device, serial_link, mqtt_link, outbox and backoff on MicroPython 1.27; this
test checks what it printed with citylab.contract and against CPython's
results. Every firmware module must also compile on MicroPython.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from citylab import contract
from firmware_bridge.paths import FIRMWARE_DIR

TOOLS = Path(__file__).resolve().parent.parent / "hardware" / "tools" / "mpy-wasm"


def run_micropython(script: Path) -> str:
    node = shutil.which("node")
    if not node or not (TOOLS / "node_modules" / "@micropython").exists():
        pytest.fail("MicroPython for WebAssembly is not installed: install Node.js, then run "
                    f"'npm ci' in {TOOLS} (./run-tests does it, see scripts/test-deps/kits.sh)", pytrace=False)
    result = subprocess.run([node, str(TOOLS / "run.mjs"), str(FIRMWARE_DIR), str(script)], capture_output=True,
                            text=True, timeout=60, cwd=TOOLS)
    assert result.returncode == 0, f"MicroPython failed:\n{result.stderr}\n{result.stdout[-2000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def output() -> dict[str, list]:
    found: dict[str, list] = {}
    for line in run_micropython(TOOLS / "firmware_check.py").splitlines():
        kind, _, rest = line.partition(" ")
        found.setdefault(kind, []).append(rest if kind == "IMPL" else json.loads(rest))
    return found


def test_it_is_micropython(output: dict[str, list]) -> None:
    assert output["IMPL"] == ["micropython"]


def test_serial_lines_from_micropython_pass_the_contract(output: dict[str, list]) -> None:
    lines = output["LINE"]
    packs = [line for line in lines if line.startswith("[")]
    states = [line[6:] for line in lines if line.startswith("state ")]
    assert len(packs) == 2 and len(states) == 5
    env = {r.name: r.value for r in contract.validate_message("citylab/mpy/env-01/telemetry", packs[0].encode(),
                                                              received=1000.0).readings}
    assert env["temperature"] == pytest.approx(25.08, abs=0.01)  # the BME280 datasheet example
    assert env["pressure"] == pytest.approx(1006.53, abs=0.05)
    assert (env["pm2_5"], env["pm10"], env["noise"]) == (12.3, 20.1, 60.0)
    street = {r.name: r.value for r in contract.validate_message("citylab/mpy/lamp-01/telemetry", packs[1].encode(),
                                                                 received=1000.0).readings}
    assert street["occupied"] is True and street["distance"] == pytest.approx(0.5, abs=0.01)
    last = contract.validate_message("citylab/mpy/lamp-01/state", states[-1].encode())
    assert {r.name: r.value for r in last.readings} == {"dim": 40.0, "on": True, "interval": 10.0}
    refused = [line for line in lines if line.startswith("# command refused")]
    assert len(refused) == 2 and "from 0 to 100" in refused[0]
    assert output["DUTY"] == [int(0.4 * 0.4 * 65535)]


def test_wifi_mode_on_micropython_keeps_readings_and_says_online(output: dict[str, list]) -> None:
    assert output["OUTBOX"] == [[2, 1]]  # bounded at 2, the oldest of 3 dropped and counted
    assert output["WILL"] == [["citylab/mpy/lamp-01/status", "offline", True, 1]]
    published = output["PUB"]
    assert published[0] == ["citylab/mpy/lamp-01/status", "online", True]
    channels = [topic.rsplit("/", 1)[1] for topic, _, _ in published]
    assert channels == ["status", "state", "state", "telemetry", "telemetry"]
    for topic, payload, retain in published[1:]:
        contract.validate_message(topic, payload.encode())
        assert retain == topic.endswith("/state")
    assert output["INTERVAL"] == [2]


def test_config_backoff_outbox_and_sds011_on_micropython(output: dict[str, list]) -> None:
    bad_id, bad_port, bad_json = output["CONFIG"]
    assert "site 'Bad' is not a valid id" in bad_id
    assert "port" in bad_port and "not valid JSON" in bad_json
    delays = output["BACKOFF"][0]
    assert 80 <= delays[0] <= 120 and all(640 <= d <= 960 for d in delays[3:])
    assert output["BOX"] == [[[2, 3], 2]]
    assert output["SDS"] == [[12.3, 20.1]]


def test_every_firmware_module_compiles_on_micropython(tmp_path: Path) -> None:
    script = tmp_path / "compile_all.py"
    script.write_text(
        "import os\n"
        "for name in sorted(os.listdir('/fw/citylab_fw')):\n"
        "    if name.endswith('.py') and name not in ('hal_fake.py', 'umqtt_compat.py'):\n"
        "        with open('/fw/citylab_fw/' + name) as f:\n"
        "            compile(f.read(), name, 'exec')\n"
        "        print('OK ' + name)\n"
    )
    compiled = {line[3:] for line in run_micropython(script).splitlines() if line.startswith("OK ")}
    board_files = {p.name for p in (FIRMWARE_DIR / "citylab_fw").glob("*.py")} - {"hal_fake.py", "umqtt_compat.py"}
    assert compiled == board_files and "hal.py" in compiled
