"""The errors citylab raises, each with a message written for a person.

Every error a user can cause is a ``CitylabError``; the command line prints its
message on one line and exits non-zero, never a traceback. Lower-level errors
(socket, sqlite, JSON) are translated at the boundary with ``raise ... from``.

    CitylabError
    ├── ContractError        a topic or payload breaks the message contract
    ├── ConfigError          a setting, URL or file given by the user is wrong
    ├── BrokerError          the MQTT broker cannot be reached or started
    │   └── PortInUseError   a port we must listen on is taken
    ├── StoreError           the database cannot be opened or written
    ├── LabError             a lab, a solution or a grading run went wrong
    │   └── UnknownLabError  no lab has that id
    └── ClassroomError       a cohort, roster or account of classroom mode is wrong
"""

from __future__ import annotations


class CitylabError(Exception):
    """Base of every error citylab reports to a person."""


class ContractError(CitylabError):
    """A topic or payload breaks the contract.

    ``kind`` sorts the reason into a few families ("topic", "json", "senml",
    "name", "unit", "value", "size", "status", "command") so graders and the
    dashboard can group dead letters without parsing sentences.
    """

    def __init__(self, reason: str, kind: str = "senml") -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


class ConfigError(CitylabError):
    """A setting, URL or file given by the user is wrong."""


class BrokerError(CitylabError):
    """The MQTT broker cannot be reached or started."""


class PortInUseError(BrokerError):
    """A port we must listen on is already taken by another program."""


class StoreError(CitylabError):
    """The database cannot be opened, read or written."""


class LabError(CitylabError):
    """A lab, a solution or a grading run went wrong."""


class UnknownLabError(LabError):
    """No lab has the id the user asked for."""


class ClassroomError(CitylabError):
    """A cohort, roster, account or password of classroom mode is wrong."""
