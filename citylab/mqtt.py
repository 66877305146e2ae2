"""MQTT connection helpers over paho-mqtt 2.x, shared by every part.

A broker is a URL, ``mqtt://host:port`` (``mqtts://`` for TLS), so tests,
a laptop and a lab server differ only in a string. paho's socket errors are
translated here into ``BrokerError`` with a sentence that says what to check.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from citylab.errors import BrokerError, ConfigError

DEFAULT_PORT = 1883
log = logging.getLogger("citylab.mqtt")


@dataclass(frozen=True)
class BrokerAddress:
    """Where a broker listens, read from ``mqtt://[user:password@]host[:port]``."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> "BrokerAddress":
        text = url if "://" in url else f"mqtt://{url}"
        parts = urlsplit(text)
        if parts.scheme not in ("mqtt", "mqtts", "tcp"):
            raise ConfigError(
                f"broker URL {url!r} must start with mqtt:// (or mqtts:// for TLS), "
                f"like mqtt://localhost:1883"
            )
        try:
            port = parts.port
        except ValueError as exc:
            raise ConfigError(f"broker URL {url!r} has a port that is not a number from 1 to 65535") from exc
        if not parts.hostname:
            raise ConfigError(f"broker URL {url!r} has no host name, like mqtt://localhost:1883")
        tls = parts.scheme == "mqtts"
        return cls(parts.hostname, port or (8883 if tls else DEFAULT_PORT), parts.username, parts.password, tls)

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


_counter = itertools.count()


def client_id(role: str) -> str:
    """A client id that says who is connected and is unique on the broker."""
    return f"citylab-{role}-{os.getpid()}-{next(_counter)}-{uuid.uuid4().hex[:6]}"


def make_client(role: str, *, clean_session: bool = True, ident: str | None = None) -> paho.Client:
    """A paho 2.x client (MQTT 3.1.1) with citylab's defaults."""
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=ident or client_id(role),
        clean_session=clean_session,
        protocol=paho.MQTTv311,
    )
    # Let paho queue generously: a slow broker must not make publish() block
    # the simulator or drop readings on the client side.
    client.max_queued_messages_set(0)
    client.max_inflight_messages_set(100)
    return client


def connect(
    client: paho.Client,
    broker: BrokerAddress,
    *,
    attempts: int = 5,
    delay: float = 0.5,
    keepalive: int = 30,
    on_retry: Callable[[int, str], None] | None = None,
) -> None:
    """Connect, retrying with backoff; raise BrokerError saying what to check.

    The network loop is started here (``loop_start``), so paho reconnects by
    itself if the broker goes away later.
    """
    if broker.username:
        client.username_pw_set(broker.username, broker.password)
    if broker.tls:
        client.tls_set()
    last = ""
    for attempt in range(1, attempts + 1):
        try:
            client.connect(broker.host, broker.port, keepalive=keepalive)
            break
        except (OSError, socket.timeout) as exc:
            last = exc.strerror or str(exc)
            if on_retry:
                on_retry(attempt, last)
            if attempt < attempts:
                wait = min(delay * 2 ** (attempt - 1), 5.0)
                log.warning("cannot reach the MQTT broker at %s (%s): trying again in %.1f s (%d of %d)",
                            broker.url, last, wait, attempt, attempts)
                time.sleep(wait)
    else:
        raise BrokerError(
            f"cannot reach the MQTT broker at {broker.url} after {attempts} tries ({last}): "
            f"is it running? Start one, or run 'citylab up' without --broker to use the embedded broker"
        )
    client.loop_start()


def wait_connected(client: paho.Client, broker: BrokerAddress, timeout: float = 10.0) -> None:
    """Block until the CONNACK arrived, or raise BrokerError."""
    deadline = time.monotonic() + timeout
    while not client.is_connected():
        if time.monotonic() > deadline:
            raise BrokerError(
                f"the MQTT broker at {broker.url} accepted the connection but did not answer "
                f"within {timeout:.0f} s (wrong credentials, or not an MQTT broker?)"
            )
        time.sleep(0.02)


def stop(client: paho.Client) -> None:
    """Disconnect cleanly and stop the network loop; never raises."""
    try:
        client.disconnect()
    except Exception:
        pass
    try:
        client.loop_stop()
    except Exception:
        pass
