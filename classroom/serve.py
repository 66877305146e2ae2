"""Classroom mode inside ``citylab up``: the accounts file and the service's broker login."""

from __future__ import annotations

import dataclasses

from citylab.config import Settings
from citylab.mqtt import BrokerAddress
from classroom.accounts import Classroom
from classroom.rules import SERVICE_USERNAME, SHARED_SITE


def open_classroom(settings: Settings) -> Classroom | None:
    """The classroom of ``settings.classroom_db`` in classroom mode; None in the open single-user mode."""
    return classroom_of(settings) if settings.classroom else None


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
