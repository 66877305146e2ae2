"""The errors of the kit side, each a CitylabError with a sentence for a person.

    CitylabError
    ├── ConfigError
    │   └── KitConfigError     a kit setting (site, Wi-Fi, broker...) is wrong
    └── SerialPortError        a serial port cannot be found, opened or read
        └── PortBusyError      another program holds the port
    ProvisionError (CitylabError)  mpremote failed talking to the board
"""

from __future__ import annotations

from citylab.errors import CitylabError, ConfigError


class KitConfigError(ConfigError):
    """A setting for the kit's config.json is wrong."""


class SerialPortError(CitylabError):
    """A serial port cannot be found, opened or read."""


class PortBusyError(SerialPortError):
    """Another program (a serial monitor, Thonny, mpremote) holds the port."""


class ProvisionError(CitylabError):
    """Writing the config or the firmware to the board failed."""
