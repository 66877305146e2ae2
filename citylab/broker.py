"""The embedded MQTT broker of ``citylab up``: amqtt in a thread of its own.

amqtt is a maintained pure-Python MQTT 3.1.1 broker, so a trainee's laptop
needs nothing but Python. It runs on its own asyncio loop in a background
thread; the rest of citylab talks to it over TCP like any other broker, so the
same code works against Mosquitto or EMQX.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citylab.errors import BrokerError, PortInUseError
from citylab.mqtt import BrokerAddress

if TYPE_CHECKING:
    from classroom.accounts import Classroom


def check_port_free(host: str, port: int, what: str, option: str) -> None:
    """Raise PortInUseError naming the port and the option to choose another."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortInUseError(
                f"port {port} on {host} is already in use, so the {what} cannot start there: "
                f"stop the program using it or choose another port with {option}"
            ) from exc


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class EmbeddedBroker:
    """An amqtt broker on ``host:port``, started and stopped from any thread.

    Open to anyone by default (a trainee's laptop). With a ``classroom``, a
    client must log in with an account's MQTT password, may only touch the
    topics of its ACL (classroom.acl), and is disconnected within a second or
    two of its account being revoked. With a ``tls_dir``, it also listens
    with TLS on ``tls_port``.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 1883, *, classroom: "Classroom | None" = None,
                 tls_dir: Path | None = None, tls_port: int = 8883) -> None:
        self.address = BrokerAddress(host, port)
        self.classroom = classroom
        # A second listener, MQTT over TLS, with tls_dir/server.crt and server.key.
        self.tls_dir = tls_dir
        self.tls_address = BrokerAddress(host, tls_port, tls=True) if tls_dir else None
        self._watch: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker: Any = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    def start(self, timeout: float = 10.0) -> "EmbeddedBroker":
        check_port_free(self.address.host, self.address.port, "embedded MQTT broker", "--mqtt-port")
        if self.tls_address:
            check_port_free(self.tls_address.host, self.tls_address.port, "embedded broker's TLS listener",
                            "CITYLAB_MQTT_TLS_PORT")
        # amqtt logs every connection at INFO; a trainee's terminal wants quiet.
        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.WARNING)
        self._thread = threading.Thread(target=self._run, name="citylab-broker", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout):
            raise BrokerError(f"the embedded MQTT broker did not start within {timeout:.0f} s")
        if self._error:
            raise BrokerError(f"the embedded MQTT broker could not start: {self._error}") from self._error
        return self

    def _run(self) -> None:
        from amqtt.broker import Broker

        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        config: dict[str, Any] = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.address.host}:{self.address.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
            },
        }
        if self.tls_dir is not None and self.tls_address is not None:
            config["listeners"]["tls"] = {
                "type": "tcp", "bind": f"{self.tls_address.host}:{self.tls_address.port}", "ssl": True,
                "certfile": str(self.tls_dir / "server.crt"), "keyfile": str(self.tls_dir / "server.key"),
            }
        policy = None
        if self.classroom is not None:
            from classroom.acl import BrokerPolicy
            from classroom.embedded import plugins_config

            policy = BrokerPolicy(self.classroom)
            config["plugins"] = plugins_config(policy)

        async def start() -> None:
            self._broker = Broker(config, loop=loop)
            await self._broker.start()
            if policy is not None:
                from classroom.embedded import drop_revoked

                self._watch = loop.create_task(drop_revoked(self._broker, policy))

        try:
            loop.run_until_complete(start())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._started.set()
            loop.close()
            return
        self._started.set()
        loop.run_forever()
        loop.close()

    def stop(self, timeout: float = 3.0) -> None:
        """Shut the broker down; bounded so Ctrl-C stays quick."""
        loop, broker = self._loop, self._broker
        if loop is None or broker is None or not loop.is_running():
            return
        if self._watch is not None:
            loop.call_soon_threadsafe(self._watch.cancel)
        future = asyncio.run_coroutine_threadsafe(broker.shutdown(), loop)
        try:
            future.result(timeout)
        except Exception:
            pass
        loop.call_soon_threadsafe(loop.stop)
        if self._thread:
            self._thread.join(timeout)

    def __enter__(self) -> "EmbeddedBroker":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
