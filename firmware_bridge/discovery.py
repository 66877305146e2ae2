"""Finding kits on USB by the vendor and product id of their USB-serial chip.

``--port auto`` lists the serial ports (pyserial's ``list_ports``) and keeps
those whose chip is one the ESP32 boards use. Like pyserial, a port is a URL,
so tests pass fake port descriptions instead of real USB devices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from serial.tools import list_ports
from serial.tools.list_ports_common import ListPortInfo

from firmware_bridge.errors import SerialPortError


@dataclass(frozen=True)
class UsbChip:
    """A USB-serial chip found on ESP32 boards."""

    vid: int
    pid: int
    name: str


KNOWN_CHIPS = (
    UsbChip(0x10C4, 0xEA60, "Silicon Labs CP210x (ESP32 DevKitC)"),
    UsbChip(0x1A86, 0x7523, "WCH CH340"),
    UsbChip(0x1A86, 0x55D4, "WCH CH9102"),
    UsbChip(0x0403, 0x6001, "FTDI FT232R"),
    UsbChip(0x0403, 0x6015, "FTDI FT231X"),
    UsbChip(0x303A, 0x1001, "Espressif USB JTAG/serial (ESP32-S3/C3)"),
    UsbChip(0x303A, 0x0002, "Espressif USB CDC (ESP32-S2)"),
)


def chip_of(port: ListPortInfo) -> UsbChip | None:
    for chip in KNOWN_CHIPS:
        if port.vid == chip.vid and port.pid == chip.pid:
            return chip
    return None


def find_kits(ports: Iterable[ListPortInfo] | None = None) -> list[tuple[str, UsbChip]]:
    """(device path, chip) of every port that looks like a kit, sorted by path."""
    ports = list_ports.comports() if ports is None else ports
    found = [(p.device, chip) for p in ports if (chip := chip_of(p)) is not None]
    return sorted(found, key=lambda pair: pair[0])


def resolve_ports(requested: list[str], ports: Iterable[ListPortInfo] | None = None) -> list[str]:
    """The port URLs to open: ``auto`` becomes every kit found; others stay as given."""
    urls: list[str] = []
    for item in requested:
        if item != "auto":
            urls.append(item)
            continue
        kits = find_kits(ports)
        if not kits:
            names = ", ".join(chip.name for chip in KNOWN_CHIPS[:3])
            raise SerialPortError(f"no kit found on USB (looked for {names}...): plug the board in with a "
                                  f"data cable (some cables only charge), or give --port /dev/ttyUSB0")
        urls.extend(path for path, _ in kits)
    return list(dict.fromkeys(urls))
