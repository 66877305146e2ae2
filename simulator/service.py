"""The simulator on a broker: a Simulation in a thread, published over MQTT.

One MQTT connection carries the whole city. On start every device's ``status``
becomes ``online`` (retained) and the service subscribes to the site's ``cmd``
topics; on stop every ``status`` becomes ``offline``. MQTT allows one last will
per connection, so a crash (not a stop) leaves the statuses ``online``.

A ``cmd`` to the pseudo-device ``sim`` (``citylab/{site}/sim/cmd``, what
``citylab sim inject`` sends) is a scenario injection: ``{"type": "stadium", ...}``.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Sequence

import paho.mqtt.client as paho

from citylab import mqtt
from citylab.contract import Topic, subscription, topic
from citylab.errors import BrokerError, ConfigError, ContractError
from citylab.mqtt import BrokerAddress
from simulator.bulk_mqtt import BulkPublisher
from simulator.city import City, load_city
from simulator.engine import Simulation

log = logging.getLogger("citylab.simulator")

SUBSCRIBE_TIMEOUT_S = 5.0
STATUS_TIMEOUT_S = 0.8
JOIN_TIMEOUT_S = 0.5


class SimulatorService:
    """A city simulated on a broker for one site: ``start()``, then ``stop()``.

    ``published`` counts the messages handed to the broker so far.
    ``error`` holds what stopped the simulation thread, if it died.
    Each ``start()`` begins a fresh run of the city with the same seed.
    ``bulk=True`` sends telemetry and state over a second connection
    (``simulator.bulk_mqtt``, QoS 1, tens of thousands of messages a second,
    none dropped) for big cities; not over TLS.
    """

    def __init__(
        self,
        broker: BrokerAddress,
        city: str | Path | City = "default",
        site: str = "demo",
        seed: int = 1,
        speed: float = 1.0,
        *,
        bulk: bool = False,
    ) -> None:
        if bulk and broker.tls:
            raise ConfigError("bulk publishing does not speak TLS: use bulk=False with an mqtts:// broker")
        self.broker = broker
        self.bulk = bulk
        self._bulk: BulkPublisher | None = None
        self.city = city if isinstance(city, City) else load_city(city)
        self.site = site
        self.seed = seed
        self.speed = speed
        self.published = 0
        self.error: BaseException | None = None
        # Built here so a bad site, seed or speed fails before anything connects.
        self.simulation = Simulation(self.city, site, seed, speed, self._publish)
        self._client: paho.Client | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._refused = False

    def start(self) -> None:
        """Connect, announce every device online, listen for commands, start the clock.

        Raises BrokerError if the broker cannot be reached.
        """
        if self._client is not None:
            return
        # A fresh run per start: an epoch-less city's clock starts now, not at construction.
        if self.bulk:
            self.simulation = Simulation(self.city, self.site, self.seed, self.speed,
                                         publish_batch=self._publish_batch)
        else:
            self.simulation = Simulation(self.city, self.site, self.seed, self.speed, self._publish)
        self._subscribed.clear()
        self._refused = False
        client = mqtt.make_client("simulator")
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        mqtt.connect(client, self.broker, attempts=3, delay=0.2)
        try:
            mqtt.wait_connected(client, self.broker)
            if not self._subscribed.wait(SUBSCRIBE_TIMEOUT_S) or self._refused:
                raise BrokerError(
                    f"the MQTT broker at {self.broker.url} did not accept the subscription to "
                    f"{subscription(self.site, 'cmd')} within {SUBSCRIBE_TIMEOUT_S:.0f} s "
                    f"(does its access list let this user read the site's cmd topics?)"
                )
            if self.bulk:
                self._bulk = BulkPublisher(self.broker.host, self.broker.port, mqtt.client_id("simulator-bulk"),
                                           username=self.broker.username, password=self.broker.password)
        except BrokerError:
            mqtt.stop(client)
            raise
        self._client = client
        # Acknowledged before start() returns, so whoever subscribes next finds them retained.
        _wait_published(
            [client.publish(topic(self.site, d, "status"), b"online", qos=1, retain=True)
             for d in self.simulation.devices],
            STATUS_TIMEOUT_S,
        )
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="citylab-simulator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the clock, announce every device offline and disconnect; about a second at most."""
        client, self._client = self._client, None
        if client is None:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(JOIN_TIMEOUT_S)
            self._thread = None
        bulk, self._bulk = self._bulk, None
        if bulk is not None:
            bulk.close(timeout=STATUS_TIMEOUT_S)
        _wait_published(
            [client.publish(topic(self.site, d, "status"), b"offline", qos=1, retain=True)
             for d in self.simulation.devices],
            STATUS_TIMEOUT_S,
        )
        mqtt.stop(client)

    def kpis(self) -> dict[str, Any]:
        """The run's ground truth so far (``Simulation.kpis``); safe to call while it runs."""
        return self.simulation.kpis()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> "SimulatorService":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- threads ----------------------------------------------------------------

    def _run(self) -> None:
        try:
            self.simulation.run(stop=self._stop)
        except BaseException as exc:  # reported through .error; the thread must not vanish silently
            self.error = exc
            log.exception("the simulation stopped")

    def _publish(self, topic_text: str, payload: bytes, retain: bool) -> None:
        client = self._client
        if client is None:
            return
        # A retained state must not be lost; a missed telemetry reading is replaced by the next.
        client.publish(topic_text, payload, qos=1 if retain else 0, retain=retain)
        self.published += 1

    def _publish_batch(self, messages: Sequence[tuple[str, bytes, bool]]) -> None:
        bulk = self._bulk
        if bulk is None:
            return
        bulk.publish_batch(messages)
        self.published += len(messages)

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if not getattr(reason, "is_failure", False):
            # Here rather than in start(), so a reconnect subscribes again.
            client.subscribe(subscription(self.site, "cmd"), qos=1)

    def _on_subscribe(self, client: paho.Client, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        self._refused = any(getattr(reason, "is_failure", False) for reason in reasons)
        self._subscribed.set()

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        try:
            parsed = Topic.parse(message.topic)
        except ContractError as exc:
            log.warning("message on %s ignored: %s", message.topic, exc.reason)
            return
        # Only our site's cmd: some brokers (amqtt 0.12) also replay, on connect,
        # retained messages matching other clients' subscriptions.
        if parsed.site == self.site and parsed.channel == "cmd":
            self.simulation.handle_command(parsed.device, message.payload)


def _wait_published(infos: list[paho.MQTTMessageInfo], timeout: float) -> None:
    """Wait, at most ``timeout`` seconds in all, for the broker to acknowledge messages."""
    deadline = time.monotonic() + timeout
    for info in infos:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        try:
            info.wait_for_publish(remaining)
        except (RuntimeError, ValueError):  # the connection went away meanwhile
            return
