"""The kit folders are complete, their diagrams are valid SVG, and the documents agree with the firmware's pins."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from firmware_bridge.paths import ROOT, use_firmware

use_firmware()
from citylab_fw.kits import PINS  # noqa: E402

KITS = {"esp32-env": "env", "esp32-street": "street", "rpi": "rpi"}
SECTIONS = ("## Bill of materials", "## Wiring, pin by pin", "## Power and safety", "## The first hour")


@pytest.mark.parametrize("folder", sorted(KITS))
def test_kit_folder_has_every_section_and_a_priced_bill_of_materials(folder: str) -> None:
    text = (ROOT / "hardware" / folder / "README.md").read_text()
    for section in SECTIONS:
        assert section in text, f"{folder}/README.md lacks {section!r}"
    bom = text.split("## Bill of materials")[1].split("##")[0]
    rows = [row for row in bom.splitlines() if row.startswith("|") and not row.startswith("| ---")][1:]
    parts = [row for row in rows if not row.startswith("| total")]
    assert len(parts) >= 5
    for row in parts:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[1].isdigit() and float(cells[2]) > 0, f"{folder}: quantity and price in {row!r}"
    assert "![wiring](wiring.svg)" in text


@pytest.mark.parametrize("folder", sorted(KITS))
def test_wiring_diagram_is_valid_svg_naming_every_firmware_pin(folder: str) -> None:
    path = ROOT / "hardware" / folder / "wiring.svg"
    root = ET.parse(path).getroot()  # raises on broken XML
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and root.get("viewBox")
    svg_text = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    readme = (ROOT / "hardware" / folder / "README.md").read_text()
    wiring = readme.split("## Wiring, pin by pin")[1].split("## Power")[0]
    for role, pin in PINS[KITS[folder]].items():
        if role in ("bme280_addr", "uart"):
            continue
        assert re.search(rf"GPIO{pin}\b", svg_text), f"{folder}/wiring.svg does not show GPIO{pin} ({role})"
        assert re.search(rf"GPIO{pin}\b", wiring), f"{folder}/README.md wiring table lacks GPIO{pin} ({role})"


def test_esp32_pins_avoid_strapping_flash_and_adc2_traps() -> None:
    strapping_or_flash = {0, 2, 5, 12, 15, 6, 7, 8, 9, 10, 11, 1, 3}
    input_only = {34, 35, 36, 39}
    for kit in ("env", "street"):
        pins = PINS[kit]
        used = {role: pin for role, pin in pins.items() if role not in ("bme280_addr", "uart")}
        assert not strapping_or_flash & set(used.values()), kit
        for role, pin in used.items():
            if role.endswith("_adc"):
                assert 32 <= pin <= 39, f"{role} on GPIO{pin}: analog must be on ADC1 while Wi-Fi is on"
            elif role in ("trigger", "led_pwm", "uart_tx", "sda", "scl"):
                assert pin not in input_only, f"{role} must be able to drive its pin"


def test_pi_uses_bcm_i2c_pins() -> None:
    assert (PINS["rpi"]["sda"], PINS["rpi"]["scl"]) == (2, 3)
