"""A private Mosquitto for a cohort's gradings, when Mosquitto is installed.

A cohort of sim gradings pushes a few thousand messages a second through
its one shared broker. The embedded broker (amqtt, Python) keeps up with one
grading, not with four on a busy 2-core machine: its delays showed as
round trips of over a second (bench/grade_cohort.py), and correct
controllers lost timing points. Mosquitto, in C, keeps them in milliseconds.
So ``citylab grade --cohort`` starts one on a free localhost port if the
``mosquitto`` binary is found, and falls back to the embedded broker if not.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from citylab.broker import free_port
from citylab.mqtt import BrokerAddress

SEARCH = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto")


def find_mosquitto() -> str | None:
    found = shutil.which("mosquitto")
    return found or next((p for p in SEARCH if Path(p).is_file()), None)


class PrivateMosquitto:
    """Mosquitto on 127.0.0.1:free port, anonymous, no persistence; a context manager."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self.address = BrokerAddress("127.0.0.1", self.port)
        self._folder = tempfile.TemporaryDirectory(prefix="citylab-cohort-broker-")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 5.0) -> "PrivateMosquitto":
        config = Path(self._folder.name) / "mosquitto.conf"
        config.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                          "max_queued_messages 100000\nlog_type error\n")
        self.process = subprocess.Popen([self.binary, "-c", str(config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise OSError(f"Mosquitto ({self.binary}) did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._folder.cleanup()
