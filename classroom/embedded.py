"""Classroom rules inside the embedded amqtt broker: two plugins and a revocation watch.

amqtt 0.12 asks every auth plugin at CONNECT (all must say yes) and every
topic plugin at SUBSCRIBE (a refusal is a SUBACK 0x80), PUBLISH (a refused
message is dropped) and RECEIVE (before each delivery). The plugins below
answer from a ``BrokerPolicy``; amqtt builds each plugin from its ``Config``
dataclass, through which the broker hands over the live policy object.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session

from classroom.acl import BrokerPolicy

log = logging.getLogger("citylab.classroom")


class ClassroomAuthPlugin(BaseAuthPlugin):
    """CONNECT succeeds only with an active account's MQTT username and password."""

    @dataclass
    class Config:
        policy: Any = None

    async def authenticate(self, *, session: Session) -> bool:
        policy: BrokerPolicy = self.config.policy
        password = session.password.decode() if isinstance(session.password, bytes) else session.password
        # The check reads SQLite and hashes: off the broker's event loop.
        ok = await asyncio.to_thread(policy.login, session.username, password)
        if not ok:
            log.info("refused MQTT login %r from client %r", session.username, session.client_id)
        return ok


class ClassroomTopicPlugin(BaseTopicPlugin):
    """Subscribe, publish and receive only within the user's ACL (classroom.acl.rules_for)."""

    @dataclass
    class Config:
        policy: Any = None

    async def topic_filtering(self, *, session: Session | None = None, topic: str | None = None,
                              action: Action | None = None) -> bool:
        policy: BrokerPolicy = self.config.policy
        if topic is None:
            return False
        username = session.username if session else None
        if action == Action.PUBLISH:
            return policy.may_write(username, topic)
        return policy.may_read(username, topic)  # SUBSCRIBE and RECEIVE


def plugins_config(policy: BrokerPolicy) -> dict[str, dict[str, Any]]:
    """The ``plugins`` section of an amqtt broker configuration for classroom mode."""
    return {
        f"{__name__}.ClassroomAuthPlugin": {"policy": policy},
        f"{__name__}.ClassroomTopicPlugin": {"policy": policy},
    }


async def drop_revoked(broker: Any, policy: BrokerPolicy, every: float = 1.0) -> None:
    """Disconnect, every ``every`` seconds, the sessions of users who are no longer active."""
    while True:
        await asyncio.sleep(every)
        try:
            await asyncio.to_thread(policy.refresh)  # reads SQLite: off the loop
            for client_id, (session, handler) in list(broker.sessions.items()):
                if session.transitions.is_connected() and not policy.active(session.username):
                    await _drop(client_id, session, handler)
        except asyncio.CancelledError:
            raise
        except Exception:  # the watch must outlive a locked database or a session going away
            log.exception("checking for revoked accounts failed; trying again")


async def _drop(client_id: str, session: Session, handler: Any) -> None:
    # amqtt also keeps a session it refused at CONNECT, marked connected:
    # closing it here and marking it disconnected lets amqtt forget it.
    log.info("closing the session of %r (client %r): not an active account", session.username, client_id)
    session.will_flag = False  # a revoked account leaves no last word
    await handler.stop()
    try:
        session.transitions.disconnect()
    except Exception:
        pass  # amqtt's own disconnect handling got there first
