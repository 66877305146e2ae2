"""A bulk MQTT 3.1.1 publisher: QoS 1 at tens of thousands of messages a second from one thread.

paho builds, locks and tracks every message in Python and drains its queue
slowly once its in-flight window is full, which caps a QoS 1 publisher at a
few thousand messages a second. This publisher does only what a simulator
needs: CONNECT, then PUBLISH packets at QoS 1 written to the socket in large
chunks, a reader thread counting the broker's PUBACKs, and a window that
blocks the writer while ``window`` messages are unacknowledged (so nothing is
ever dropped on our side: QoS 1 means the broker has every acknowledged one).

    publisher = BulkPublisher("127.0.0.1", 1883, "citylab-sim")
    publisher.publish_batch([(topic, payload, retain), ...])
    publisher.close()          # waits for every PUBACK, then DISCONNECT

Raises ``citylab.errors.BrokerError`` when the broker cannot be reached or
refuses the connection. No TLS, no authentication beyond user/password.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from typing import Iterable

from citylab.errors import BrokerError

CHUNK_BYTES = 256 * 1024


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(text: bytes) -> bytes:
    return struct.pack("!H", len(text)) + text


class BulkPublisher:
    """One MQTT connection publishing at QoS 1 with at most ``window`` messages unacknowledged."""

    def __init__(self, host: str, port: int, client_id: str, *, username: str | None = None,
                 password: str | None = None, window: int = 5000, timeout: float = 10.0) -> None:
        if not 1 <= window < 65_535:
            raise ValueError("window must be 1 to 65534 (MQTT packet ids are 16 bits)")
        self.window = window
        self.sent = 0
        self.acked = 0
        self._next_id = 0
        self._lock = threading.Condition()
        self._error: str | None = None
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise BrokerError(f"cannot reach the MQTT broker at {host}:{port} ({exc.strerror or exc})") from exc
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        flags = 0x02 | (0x80 if username else 0) | (0x40 if password else 0)
        body = _string(b"MQTT") + bytes([4, flags]) + struct.pack("!H", 0) + _string(client_id.encode())
        if username:
            body += _string(username.encode())
        if password:
            body += _string(password.encode())
        self.sock.sendall(b"\x10" + _varint(len(body)) + body)
        connack = self._read_exact(4)
        if connack[0] != 0x20 or connack[3] != 0:
            self.sock.close()
            raise BrokerError(f"the MQTT broker at {host}:{port} refused the connection (code {connack[3]})")
        self.sock.settimeout(None)
        self._reader = threading.Thread(target=self._read_acks, name="citylab-bulk-mqtt", daemon=True)
        self._reader.start()

    def publish_batch(self, messages: Iterable[tuple[str, bytes, bool]]) -> None:
        """Publish every (topic, payload, retain) at QoS 1, in order; blocks while the window is full."""
        out = bytearray()
        for topic_text, payload, retain in messages:
            if self.sent - self.acked >= self.window:
                self._flush(out)
                self._wait_below(self.window)
            self._next_id = self._next_id % 65_535 + 1
            head = _string(topic_text.encode())
            length = len(head) + 2 + len(payload)
            out += bytes([0x33 if retain else 0x32]) + _varint(length) + head + struct.pack("!H", self._next_id)
            out += payload
            self.sent += 1
            if len(out) >= CHUNK_BYTES:
                self._flush(out)
        self._flush(out)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until the broker acknowledged everything sent; False on timeout."""
        return self._wait_below(1, timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Wait for the acknowledgements, say DISCONNECT and close."""
        try:
            self.flush(timeout)
            self.sock.sendall(b"\xe0\x00")
        except OSError:
            pass
        finally:
            self.sock.close()

    def _flush(self, out: bytearray) -> None:
        if out:
            try:
                self.sock.sendall(out)
            except OSError as exc:
                raise BrokerError(f"the MQTT broker closed the connection ({exc.strerror or exc})") from exc
            out.clear()

    def _wait_below(self, limit: int, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._lock:
            while self.sent - self.acked >= limit:
                if self._error:
                    raise BrokerError(self._error)
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(min(left, 0.5))
        return True

    def _read_exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise BrokerError("the MQTT broker closed the connection")
            data += chunk
        return data

    def _read_acks(self) -> None:
        buffer = b""
        try:
            while True:
                chunk = self.sock.recv(65_536)
                if not chunk:
                    break
                buffer += chunk
                # All the broker sends a QoS 1 publisher (keep-alive off) is PUBACK: 0x40 0x02 and the id.
                whole = len(buffer) - len(buffer) % 4
                acks = buffer[0:whole:4].count(b"\x40")
                buffer = buffer[whole:]
                if acks:
                    with self._lock:
                        self.acked += acks
                        self._lock.notify_all()
        except OSError as exc:
            self._error = f"the connection to the MQTT broker broke ({exc.strerror or exc})"
        with self._lock:
            self._error = self._error or "the MQTT broker closed the connection"
            self._lock.notify_all()
