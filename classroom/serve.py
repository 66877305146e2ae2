"""Classroom mode inside ``citylab up``: the accounts file and the service's broker login."""

from __future__ import annotations

import dataclasses

from citylab.config import Settings
from citylab.errors import ConfigError
from citylab.mqtt import BrokerAddress
from classroom.accounts import Classroom
from classroom.rules import SERVICE_USERNAME, SHARED_SITE


def open_classroom(settings: Settings) -> Classroom | None:
    """The classroom of ``settings.classroom_db`` in classroom mode; None in the open single-user mode.

    Classroom mode grades trainees' uploads on this server, so it refuses to start where their
    code would run with the server's own rights (no bubblewrap, not root: labs/engine/sandbox.py).
    """
    if not settings.classroom:
        return None
    from labs.engine.sandbox import best_isolation  # the grading engine is heavy to import; only here

    if best_isolation() == "rlimits":
        raise ConfigError(
            "classroom mode grades trainees' programs on this server, but this machine cannot keep them "
            "away from the gradebook and the accounts: install bubblewrap (sudo apt install bubblewrap), "
            "or run citylab as root so each program runs as a user of its own")
    return classroom_of(settings)


def classroom_of(settings: Settings) -> Classroom:
    """The classroom file of ``settings``, with the service password of the configuration if one is set."""
    classroom = Classroom(settings.classroom_db)
    if settings.service_password:
        classroom.set_service_password(settings.service_password)
    return classroom


def classroom_settings(settings: Settings) -> Settings:
    """In classroom mode the virtual city is the shared one, ``citylab/city/#``, unless a site was chosen."""
    if settings.classroom and settings.site == Settings.site:
        return dataclasses.replace(settings, site=SHARED_SITE)
    return settings


def service_address(classroom: Classroom, broker: BrokerAddress) -> BrokerAddress:
    """``broker`` with the service account's login, unless the URL already carries one."""
    if broker.username:
        return broker
    return dataclasses.replace(broker, username=SERVICE_USERNAME, password=classroom.service_password())
