"""A virtual kit: the real firmware logic behind a real pseudo-terminal.

``citylab kit emulate`` runs ``citylab_fw`` (the very files flashed on the
ESP32) on this computer with the fake board of ``hal_fake``. In serial mode
it opens a pty pair and prints the path of its far end: the bridge (or any
serial program) opens that path exactly as it would open /dev/ttyUSB0. In
Wi-Fi mode it talks MQTT to a broker itself, like a board on Wi-Fi.
"""

from __future__ import annotations

import errno
import os
import select
import threading
import tty
from pathlib import Path
from typing import Any

from firmware_bridge.errors import KitConfigError, SerialPortError
from firmware_bridge.paths import use_firmware


class PtyLine:
    """The device's side of a pty pair: lines out, lines in, never blocking for long."""

    def __init__(self, link: Path | None = None) -> None:
        self.master, self.slave = os.openpty()
        # Raw mode now, before anyone opens the far end: with the default echo
        # the device would read its own output back as commands.
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        self.link = link
        if link is not None:
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(self.path)
        self._rx = bytearray()
        self.dropped = 0
        self.closed = False

    def write(self, line: str) -> None:
        data = (line + "\n").encode()
        while data and not self.closed:
            try:
                sent = os.write(self.master, data)
                data = data[sent:]
            except BlockingIOError:
                # Nobody reads the far end and the pty buffer is full: wait a
                # little, then drop the line, as a USB CDC with no host does.
                if not select.select([], [self.master], [], 0.2)[1]:
                    self.dropped += 1
                    return
            except OSError:
                return

    def read(self) -> str | None:
        if b"\n" not in self._rx and not self.closed:
            try:
                self._rx += os.read(self.master, 4096)
            except (BlockingIOError, OSError):
                pass
        if b"\n" not in self._rx:
            return None
        line, _, rest = bytes(self._rx).partition(b"\n")
        self._rx = bytearray(rest)
        return line.decode("utf-8", "replace")

    def write_raw(self, data: bytes) -> None:
        """Bytes as they are (tests use it for noise); may block briefly."""
        view = memoryview(data)
        while view and not self.closed:
            try:
                view = view[os.write(self.master, view):]
            except BlockingIOError:
                select.select([], [self.master], [], 0.5)

    def close(self) -> None:
        """Unplug: the far end sees the device vanish (EIO on read)."""
        if self.closed:
            return
        self.closed = True
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError as exc:
                if exc.errno != errno.EBADF:
                    raise


class VirtualKit:
    """The firmware of one kit running in a thread, over a pty or over MQTT."""

    def __init__(self, kit: str = "env", site: str = "demo", device: str | None = None, *,
                 interval: float = 2.0, mode: str = "serial", broker: str = "", seed: int = 1,
                 link: Path | None = None) -> None:
        use_firmware()
        from citylab_fw import app, settings
        from citylab_fw.hal_fake import FakeHal
        from citylab_fw.umqtt_compat import MQTTClient

        data: dict[str, Any] = {"site": site, "device": device or f"{kit}-01", "kit": kit, "mode": mode,
                                "interval": interval, "broker": broker}
        if mode == "wifi":
            data["wifi"] = {"ssid": "virtual", "password": ""}
        try:
            self.config = settings.Settings(data)
        except ValueError as exc:
            raise KitConfigError(str(exc)) from exc
        self.line = PtyLine(link) if mode == "serial" else None
        self.hal = FakeHal(seed=seed, write=self.line.write if self.line else _print_log,
                           read=self.line.read if self.line else None, mqtt_factory=MQTTClient)
        self.link = app.make_link(self.config, self.hal)
        self.device = self.link.device
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="citylab-virtual-kit", daemon=True)
        self.error: Exception | None = None

    @property
    def path(self) -> str:
        """The serial port to give the bridge (the symlink if one was asked for)."""
        if self.line is None:
            raise SerialPortError("a Wi-Fi mode kit has no serial port")
        return str(self.line.link or self.line.path)

    def start(self) -> "VirtualKit":
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self.link.run(lambda: not self._stop.is_set())
        except Exception as exc:  # kept for the caller: a thread's error is otherwise lost
            self.error = exc

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
        if self.line:
            self.line.close()

    def unplug(self) -> None:
        """The cable is pulled: stop the firmware and close the pty under the reader."""
        self.stop()


def _print_log(line: str) -> None:
    print(line, flush=True)
