"""Where the kit firmware lives, and importing its pure logic on a computer.

The firmware is MicroPython source under ``hardware/esp32/firmware``; the
emulator, the Pi agent and the tests import the very same files, so what is
tested is what is flashed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from firmware_bridge.errors import KitConfigError

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE_DIR = ROOT / "hardware" / "esp32" / "firmware"
AGENT_DIR = ROOT / "hardware" / "rpi"
# Files the board does not need: the computer-side fakes and paho adapter.
HOST_ONLY = ("hal_fake.py", "umqtt_compat.py")


def use_firmware() -> Path:
    """Make ``import citylab_fw`` work on this computer; return the firmware folder."""
    if not (FIRMWARE_DIR / "citylab_fw" / "__init__.py").exists():
        raise KitConfigError(f"the kit firmware is missing from {FIRMWARE_DIR}: "
                              f"run citylab from its source folder (git clone)")
    if str(FIRMWARE_DIR) not in sys.path:
        sys.path.insert(0, str(FIRMWARE_DIR))
    return FIRMWARE_DIR


def firmware_files() -> list[tuple[Path, str]]:
    """(file on this computer, path on the board) for everything ``kit flash`` copies."""
    base = use_firmware()
    # main.py sits in board/ so that putting the firmware folder on sys.path
    # (tests, emulator) never makes "import main" find the board's entry point.
    files = [(base / "board" / "main.py", "main.py")]
    for path in sorted((base / "citylab_fw").glob("*.py")):
        if path.name not in HOST_ONLY:
            files.append((path, f"citylab_fw/{path.name}"))
    return files
