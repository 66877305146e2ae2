"""One serial port: open it, read lines, hand them over, survive anything.

A ``PortReader`` is a thread. It opens its port (a pyserial URL: a device
path, a pty, ``loop://``), reads whatever arrives in large chunks, frames it
into lines and passes each line to ``on_line``. When the port is missing,
busy or goes away, it reports one line, counts what was lost and tries again
every ``retry`` seconds until it is stopped: unplugging and plugging a kit
back needs no restart.
"""

from __future__ import annotations

import errno
import threading
from dataclasses import dataclass
from typing import Callable

import serial

from firmware_bridge.framing import LineFramer


@dataclass
class PortStats:
    """What one port delivered and what it lost."""

    bytes: int = 0
    lines: int = 0
    opens: int = 0
    losses: int = 0
    partial_lost: int = 0


def explain_open_error(url: str, exc: Exception) -> tuple[str, str]:
    """(kind, sentence) for a port that would not open."""
    code = getattr(exc, "errno", None)
    text = str(exc)
    if code == errno.ENOENT or "No such file" in text:
        return "missing", f"no such port {url}: is the kit plugged in? ('citylab bridge serial --port auto' finds it)"
    if code in (errno.EACCES, errno.EPERM) or "Permission denied" in text:
        return "denied", (f"no permission to open {url}: add yourself to the 'dialout' group "
                          f"(sudo usermod -aG dialout $USER, then log in again)")
    if code in (errno.EBUSY, errno.EAGAIN) or "exclusively lock" in text or "busy" in text.lower():
        return "busy", (f"port {url} is busy: another program has it open (a serial monitor, Thonny, "
                        f"mpremote or a second bridge): close it")
    return "open", f"cannot open {url}: {text}"


class PortReader(threading.Thread):
    """Reads lines from one port until ``stop()``; reopens it when it goes away."""

    def __init__(self, url: str, on_line: Callable[[str, bytes], None], report: Callable[[str, str, str], None],
                 *, baudrate: int = 115200, max_line: int = 20 * 1024, retry: float = 1.0,
                 on_lost: Callable[[str], None] | None = None) -> None:
        super().__init__(name=f"citylab-bridge {url}", daemon=True)
        self.url = url
        self.on_line = on_line
        self.report = report
        self.on_lost = on_lost or (lambda url: None)
        self.baudrate = baudrate
        self.retry = retry
        self.framer = LineFramer(max_line)
        self.stats = PortStats()
        self.connected = threading.Event()
        self._halt = threading.Event()
        self._port: serial.SerialBase | None = None
        self._write_lock = threading.Lock()

    def stop(self, timeout: float = 2.0) -> None:
        self._halt.set()
        self.join(timeout)

    def write_line(self, line: bytes) -> bool:
        """Send one line to the device; False if the port is not open now."""
        port = self._port
        if port is None:
            return False
        try:
            with self._write_lock:
                port.write(line + b"\n")
            return True
        except (serial.SerialException, OSError) as exc:
            self.report(self.url, "write", f"could not send to the device: {exc}")
            return False

    def run(self) -> None:
        while not self._halt.is_set():
            port = self._open()
            if port is None:
                self._halt.wait(self.retry)
                continue
            self._read(port)

    def _open(self) -> serial.SerialBase | None:
        try:
            # exclusive: a second program on the same port garbles both, so refuse it.
            port = serial.serial_for_url(self.url, baudrate=self.baudrate, timeout=0.1,
                                         write_timeout=1.0, exclusive=True)
        except (serial.SerialException, OSError, ValueError) as exc:
            kind, text = explain_open_error(self.url, exc)
            self.report(self.url, kind, text + f"; trying again every {self.retry:g} s")
            return None
        self.stats.opens += 1
        self._port = port
        self.connected.set()
        if self.stats.opens > 1:
            self.report(self.url, "back", "the device is back; reading again")
        return port

    def _read(self, port: serial.SerialBase) -> None:
        framer, on_line, stats = self.framer, self.on_line, self.stats
        try:
            while not self._halt.is_set():
                data = port.read(port.in_waiting or 1)
                if not data:
                    continue
                stats.bytes += len(data)
                for line in framer.feed(data):
                    stats.lines += 1
                    try:
                        on_line(self.url, line)
                    except Exception as exc:  # a bug of ours must not stop the port: report, go on
                        self.report(self.url, "internal", f"a line could not be handled ({type(exc).__name__}: "
                                                          f"{exc}); carrying on with the next one")
        except (serial.SerialException, OSError, TypeError) as exc:
            # TypeError: pyserial's in_waiting on a closed fd; the device went away too.
            lost = framer.reset()
            stats.losses += 1
            stats.partial_lost += 1 if lost else 0
            half = f"; the unfinished line ({lost} bytes) is dropped" if lost else ""
            self.report(self.url, "lost", f"the device went away ({exc}){half}; waiting for it to come back")
            self.on_lost(self.url)
        finally:
            self._port = None
            self.connected.clear()
            try:
                port.close()
            except Exception:
                pass
