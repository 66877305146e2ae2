"""Guarding the grader against what a trainee's program publishes: floods and other sites' topics.

A ``SiteGuard`` is one more MQTT subscriber beside the recorder, for the
length of a grading. It keeps counters only, never messages, so whatever a
program sends costs the grader a few integers:

- a flood: the messages the program published on its site (everything that
  arrived on ``citylab/{site}/#`` minus what the grader's own publishers, the
  simulator say, handed to the broker) beyond ``flood_limit``. The guard then
  calls ``on_flood`` (the grader kills the program), so the recorder behind
  it stores at most the limit plus what was in flight, and the grading ends
  on time;
- other sites: with ``foreign=True`` it subscribes to ``citylab/#`` and counts
  what arrives under any other site. That is only evidence against the
  program when the grader knows every other publisher on the broker, that
  is on the grader's own broker; ``grade()`` turns it on there only.
  Retained messages delivered at subscription time are old and ignored.

``findings()`` words what it saw as ``CheckResult`` rows worth 0 points, for
the result: they change no lab's score, but the grade is not "full marks"
and the feedback says what happened.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Callable

import paho.mqtt.client as paho

from citylab import contract, mqtt
from citylab.errors import BrokerError
from labs.engine.result import CheckResult

# A device publishes every second or two and a controller sends a command per
# reading at most; a program above this rate for its window is flooding.
FLOOD_PER_S = 100.0
FLOOD_MIN = 1000

FLOOD_CHECK = "grader_no_flood"
FOREIGN_CHECK = "grader_own_site"


def flood_limit(window_s: float) -> int:
    """How many messages a program may publish in a window of ``window_s`` seconds."""
    return max(FLOOD_MIN, int(FLOOD_PER_S * window_s))


class SiteGuard:
    """Counts what arrives on the site (and, with ``foreign``, on every other site) during a grading."""

    def __init__(self, broker: mqtt.BrokerAddress, site: str, *, flood_limit: int,
                 on_flood: Callable[[], None], foreign: bool = False,
                 grader_published: Callable[[], int] = lambda: 0) -> None:
        self.broker, self.site = broker, site
        self.limit = flood_limit
        self.foreign = foreign
        self._on_flood = on_flood
        self._grader_published = grader_published
        self.own = 0  # every message that arrived on the site
        self.flooded_after: float | None = None  # seconds from start to the limit
        self.foreign_counts: Counter[str] = Counter()  # other site -> messages
        self.foreign_example: dict[str, str] = {}  # other site -> its first topic
        self._prefix = contract.subscription(site)[:-1]  # "citylab/alice/"
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._subscribed = threading.Event()
        self._client = mqtt.make_client("grader-guard")
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *args: self._subscribed.set()
        self._client.on_connect = self._on_connect

    def _on_connect(self, client: paho.Client, userdata: object, flags: object, reason: object,
                    properties: object) -> None:
        client.subscribe("citylab/#" if self.foreign else contract.subscription(self.site), qos=0)

    def start(self) -> "SiteGuard":
        mqtt.connect(self._client, self.broker, attempts=3)
        if not self._subscribed.wait(5.0):
            mqtt.stop(self._client)
            raise BrokerError(f"the grader's guard could not subscribe at {self.broker.url} within 5 s")
        self._started = time.monotonic()
        return self

    def stop(self) -> None:
        mqtt.stop(self._client)

    def _on_message(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        if message.retain:
            return  # held by the broker from before this grading
        topic = message.topic
        if topic.startswith(self._prefix):
            with self._lock:
                self.own += 1
                over = self.flooded_after is None and self.published() > self.limit
                if over:
                    self.flooded_after = time.monotonic() - self._started
            if over:
                self._on_flood()
            return
        parts = topic.split("/")
        other = parts[1] if len(parts) > 2 and parts[0] == "citylab" else topic
        with self._lock:
            self.foreign_counts[other] += 1
            self.foreign_example.setdefault(other, topic)

    def published(self) -> int:
        """Messages on the site that the program, not the grader, published (a lower bound)."""
        return max(0, self.own - self._grader_published())

    @property
    def flooded(self) -> bool:
        return self.flooded_after is not None

    def remarks(self) -> tuple[str, ...]:
        """Sentences for the solution's note, added to every failed check's feedback."""
        if not self.flooded:
            return ()
        return (f"the grader stopped your program after {self.flooded_after:.1f} s: it had published more than "
                f"{self.limit} messages",)

    def findings(self) -> list[CheckResult]:
        """0-point checks for what went wrong, or none if all was well."""
        found = []
        if self.flooded:
            found.append(CheckResult(
                FLOOD_CHECK, "Publishes at a sane rate (no flood)", 0, 0, False,
                f"your program published more than {self.limit} messages in {self.flooded_after:.1f} s "
                f"(at most {self.limit} in the whole window is allowed, about {FLOOD_PER_S:.0f} a second), so the "
                f"grader stopped it: publish once per reading or per decision, not in a tight loop"))
        if self.foreign_counts:
            total = sum(self.foreign_counts.values())
            (first_site, _), *more = self.foreign_counts.most_common()
            where = f"under citylab/{first_site}/..."
            if more:
                where += " and " + ", ".join(f"citylab/{s}/..." for s, _ in more[:2]) + ("..." if len(more) > 2 else "")
            found.append(CheckResult(
                FOREIGN_CHECK, f"Publishes only under citylab/{self.site}/", 0, 0, False,
                f"published {total} messages {where}, which is not your site '{self.site}' (the first on "
                f"{self.foreign_example[first_site]}): publish only to citylab/{self.site}/{{device}}/{{channel}}, "
                f"with the site from CITYLAB_SITE"))
        return found


def start_guard(broker: mqtt.BrokerAddress, site: str, window_s: float, on_flood: Callable[[], None], *,
                foreign: bool, grader_published: Callable[[], int] = lambda: 0) -> SiteGuard:
    """A started SiteGuard with the flood limit of a ``window_s`` window."""
    return SiteGuard(broker, site, flood_limit=flood_limit(window_s), on_flood=on_flood, foreign=foreign,
                     grader_published=grader_published).start()
