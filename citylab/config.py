"""One settings object, filled from the command line and the environment here.

Precedence: a command-line option, then a ``CITYLAB_*`` environment variable,
then the default of a laptop run. Nothing else in citylab reads the
environment for its configuration.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from citylab.errors import ConfigError
from citylab.mqtt import BrokerAddress
from citylab.stores.url import StoreURL


def default_data_dir(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "citylab"


@dataclass(frozen=True)
class Settings:
    """Everything a citylab process needs to know about where things are."""

    broker: str | None = None  # None: start the embedded broker
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    data_dir: Path = Path(".")
    city: str = "default"
    site: str = "demo"
    seed: int = 1
    speed: float = 1.0
    store: str | None = None  # a store URL (citylab.stores.url); None: SQLite in data_dir
    influx_token: str | None = None  # for a v2 store URL without ?token=
    classroom: bool = False  # accounts, broker ACLs and dashboard logins (an instructor's server)
    mqtt_tls_dir: Path | None = None  # server.crt and server.key: the embedded broker also serves TLS
    mqtt_tls_port: int = 8883
    # Classroom mode: the services' broker password (else one is made and kept in classroom_db).
    service_password: str | None = field(default=None, repr=False)

    @property
    def database(self) -> Path:
        return self.data_dir / "citylab.sqlite"

    @property
    def gradebook(self) -> Path:
        return self.data_dir / "gradebook.sqlite"

    def store_url(self) -> StoreURL:
        """Where the recorder writes: the ``store`` URL, or the SQLite file in ``data_dir``."""
        if self.store:
            return StoreURL.parse(self.store, token=self.influx_token)
        return StoreURL("sqlite", path=self.database)

    @property
    def classroom_db(self) -> Path:
        """Cohorts, accounts and password hashes of classroom mode."""
        return self.data_dir / "classroom.sqlite"

    @property
    def spool_dir(self) -> Path:
        """The recorder's disk spool (messages received but not yet stored)."""
        return self.data_dir / "spool"

    def broker_address(self) -> BrokerAddress:
        """The external broker's address, or where the embedded one will listen."""
        if self.broker:
            return BrokerAddress.parse(self.broker)
        return BrokerAddress(self.mqtt_host, self.mqtt_port)


def flag(text: str) -> bool:
    """An on/off environment variable: 1/true/yes/on or 0/false/no/off."""
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(text)


# Environment variable -> setting, with the type to read it as.
ENVIRONMENT = {
    "CITYLAB_BROKER": ("broker", str),
    "CITYLAB_MQTT_PORT": ("mqtt_port", int),
    "CITYLAB_HTTP_HOST": ("http_host", str),
    "CITYLAB_HTTP_PORT": ("http_port", int),
    "CITYLAB_DATA": ("data_dir", Path),
    "CITYLAB_CITY": ("city", str),
    "CITYLAB_SITE": ("site", str),
    "CITYLAB_SEED": ("seed", int),
    "CITYLAB_SPEED": ("speed", float),
    "CITYLAB_STORE": ("store", str),
    "CITYLAB_INFLUX_TOKEN": ("influx_token", str),
    "CITYLAB_CLASSROOM": ("classroom", flag),
    "CITYLAB_SERVICE_PASSWORD": ("service_password", str),
    "CITYLAB_MQTT_TLS": ("mqtt_tls_dir", Path),
    "CITYLAB_MQTT_TLS_PORT": ("mqtt_tls_port", int),
}


def load_settings(options: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Settings:
    """Settings from command-line ``options`` (None = not given) and the environment."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {"data_dir": default_data_dir(env)}
    for variable, (name, kind) in ENVIRONMENT.items():
        if env.get(variable):
            try:
                values[name] = kind(env[variable])
            except ValueError as exc:
                raise ConfigError(f"{variable}={env[variable]!r} is not a valid {kind.__name__}") from exc
    known = {f.name for f in fields(Settings)}
    values.update({k: v for k, v in options.items() if k in known and v is not None})
    settings = Settings(**values)
    for name in ("mqtt_port", "http_port", "mqtt_tls_port"):
        port = getattr(settings, name)
        if not 1 <= port <= 65535:
            raise ConfigError(f"{name.replace('_', ' ')} {port} is not a port number from 1 to 65535")
    if settings.speed < 0:
        raise ConfigError(f"speed {settings.speed} must be 0 (as fast as possible) or more")
    if settings.service_password is not None and (len(settings.service_password) < 16
                                                  or settings.service_password.startswith("change-me")):
        raise ConfigError("CITYLAB_SERVICE_PASSWORD must be a real secret of 16 characters or more,"
                          " like the output of 'openssl rand -hex 20'")
    if settings.mqtt_tls_dir is not None:
        missing = [n for n in ("server.crt", "server.key") if not (settings.mqtt_tls_dir / n).is_file()]
        if missing:
            raise ConfigError(f"the TLS folder {settings.mqtt_tls_dir} lacks {' and '.join(missing)}: make them as"
                              f" docs/instructor-server.md, 'TLS', shows")
    if settings.broker:
        settings.broker_address()  # refuse a malformed URL now, not at connect time
    if settings.store:
        settings.store_url()
    return settings
