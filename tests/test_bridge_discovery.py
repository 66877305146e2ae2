"""--port auto: kits are found by the vendor and product id of their USB-serial chip."""

from __future__ import annotations

import pytest
from serial.tools.list_ports_common import ListPortInfo

from firmware_bridge.discovery import find_kits, resolve_ports
from firmware_bridge.errors import SerialPortError


def port(device: str, vid: int | None, pid: int | None) -> ListPortInfo:
    info = ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid = vid, pid
    return info


PORTS = [port("/dev/ttyUSB1", 0x1A86, 0x7523), port("/dev/ttyS0", None, None), port("/dev/ttyUSB0", 0x10C4, 0xEA60),
         port("/dev/ttyACM0", 0x2341, 0x0043)]  # an Arduino Uno is not a kit


def test_auto_finds_cp210x_and_ch340_boards_only() -> None:
    found = find_kits(PORTS)
    assert [path for path, _ in found] == ["/dev/ttyUSB0", "/dev/ttyUSB1"]
    assert "CP210x" in found[0][1].name and "CH340" in found[1][1].name
    assert resolve_ports(["auto", "/dev/ttyUSB0", "loop://"], PORTS) == ["/dev/ttyUSB0", "/dev/ttyUSB1", "loop://"]


def test_auto_with_nothing_plugged_in_says_what_to_do() -> None:
    with pytest.raises(SerialPortError, match="data cable"):
        resolve_ports(["auto"], [port("/dev/ttyS0", None, None)])


def test_the_real_port_list_is_readable() -> None:
    # On this machine there may be no kit; the scan itself must work and return a list.
    assert isinstance(find_kits(), list)
