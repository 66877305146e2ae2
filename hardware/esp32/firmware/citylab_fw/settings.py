"""The device's settings, read from ``config.json`` on the board.

``citylab kit provision`` writes that file; the same ``parse`` checks it on
the computer before it is written, so a board never boots on a bad config.
Errors are ValueError with a sentence saying which setting to fix.
"""

import json

KITS = ("env", "street", "rpi")
MODES = ("wifi", "serial")
ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-"


def check_id(what, value):
    """Contract ids: 1 to 32 of [a-z0-9-], starting with a letter or digit.

    Written without ``re`` because MicroPython's regex has no {m,n}.
    """
    ok = isinstance(value, str) and 0 < len(value) <= 32 and value[0] != "-"
    if ok:
        for ch in value:
            if ch not in ID_CHARS:
                ok = False
                break
    if not ok:
        raise ValueError(what + " " + repr(value) + " is not a valid id: use 1 to 32 lower-case "
                         "letters, digits or '-', starting with a letter or digit (like 'aq-01')")
    return value


def parse_broker(url):
    """(host, port, user, password) from ``mqtt://[user:password@]host[:port]``."""
    if not isinstance(url, str) or not url.startswith("mqtt://"):
        raise ValueError("broker " + repr(url) + " must look like mqtt://192.168.1.10:1883 "
                         "(TLS is not supported on the board)")
    rest = url[len("mqtt://"):].rstrip("/")
    user = password = None
    if "@" in rest:
        cred, rest = rest.rsplit("@", 1)
        user, _, password = cred.partition(":")
    host, port = rest, 1883
    if ":" in rest:
        host, port_text = rest.rsplit(":", 1)
        try:
            port = int(port_text)
        except ValueError:
            port = 0
        if not 0 < port < 65536:
            raise ValueError("broker " + repr(url) + " has a port that is not a number from 1 to 65535")
    if not host:
        raise ValueError("broker " + repr(url) + " has no host, like mqtt://192.168.1.10:1883")
    return host, port, user, password


class Settings:
    """Everything the firmware needs to know, checked."""

    def __init__(self, data):
        if not isinstance(data, dict):
            raise ValueError("config.json must hold a JSON object such as {\"site\": \"alice\", ...}")
        self.site = check_id("site", data.get("site"))
        self.device = check_id("device", data.get("device"))
        self.kit = data.get("kit", "env")
        if self.kit not in KITS:
            raise ValueError("kit " + repr(self.kit) + " is not one of " + ", ".join(KITS))
        self.mode = data.get("mode", "wifi")
        if self.mode not in MODES:
            raise ValueError("mode " + repr(self.mode) + " is not 'wifi' or 'serial'")
        self.interval = _number(data, "interval", 10, 0.1, 3600)
        self.buffer = int(_number(data, "buffer", 200, 1, 5000))
        wifi = data.get("wifi") or {}
        self.ssid = wifi.get("ssid", "") if isinstance(wifi, dict) else ""
        self.wifi_password = wifi.get("password", "") if isinstance(wifi, dict) else ""
        self.broker = data.get("broker", "")
        if self.mode == "wifi":
            if not self.ssid:
                raise ValueError("mode 'wifi' needs wifi.ssid: the name of the Wi-Fi network")
            self.host, self.port, self.user, self.password = parse_broker(self.broker)
        else:
            self.host, self.port, self.user, self.password = None, 0, None, None

    def to_dict(self):
        return {"site": self.site, "device": self.device, "kit": self.kit, "mode": self.mode,
                "interval": self.interval, "buffer": self.buffer,
                "wifi": {"ssid": self.ssid, "password": self.wifi_password}, "broker": self.broker}


def _number(data, key, default, low, high):
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError(key + " must be a number from " + str(low) + " to " + str(high)
                         + ", not " + repr(value))
    return value


def parse(text):
    """Settings from the text of config.json."""
    try:
        data = json.loads(text)
    except ValueError:
        raise ValueError("config.json is not valid JSON: run 'citylab kit provision' again")
    return Settings(data)


def load(path="config.json"):
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        raise ValueError(path + " is missing: run 'citylab kit provision --port ... --site ...'")
    return parse(text)
