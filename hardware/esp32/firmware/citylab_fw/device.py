"""The device: reads its sensors, builds SenML packs, obeys commands.

Transport-free on purpose: ``serial_link`` and ``mqtt_link`` move what this
builds, so the protocol logic is the same over USB and over Wi-Fi.
Commands are ``{"set": {...}}`` with ``dim`` (0-100), ``on`` (true/false,
kits with a lamp) and ``interval`` (0.1-3600 s, every kit). A command is
checked whole before anything changes: half a command is never applied.
"""

import json

from citylab_fw import senml


class Device:
    """One kit: its settings, sensors, optional lamp, and the clock it reads."""

    def __init__(self, settings, sensors, lamp, hal):
        self.site = settings.site
        self.id = settings.device
        self.interval = settings.interval
        self.sensors = sensors
        self.lamp = lamp
        self.hal = hal
        self.sensor_errors = 0
        self.last_error = ""

    def topic(self, channel):
        return senml.topic(self.site, self.id, channel)

    def sample(self):
        """Read every sensor now: (taken_ticks_ms, taken_unix or None, values)."""
        values = []
        for sensor in self.sensors:
            try:
                values.extend(sensor.read())
            except Exception as exc:  # one broken sensor must not silence the others
                self.sensor_errors += 1
                self.last_error = type(sensor).__name__ + ": " + str(exc)
        return self.hal.ticks_ms(), self.hal.unix_time(), values

    def telemetry(self, sample):
        """The SenML pack (str) for a sample, or None if it holds no value."""
        taken_ms, taken_unix, values = sample
        age_s = self.hal.ticks_diff(self.hal.ticks_ms(), taken_ms) / 1000.0
        bt = senml.pack_time(self.hal.unix_time(), taken_unix, age_s)
        return senml.pack(self.site, self.id, values, bt)

    def state(self):
        """The retained state pack: lamp settings (if any) and the interval."""
        values = self.lamp.state() if self.lamp else []
        values.append(("interval", self.interval))
        now = self.hal.unix_time()
        return senml.pack(self.site, self.id, values, now if now is not None else 0)

    def command(self, payload):
        """Apply a cmd payload (bytes or str); return None, or a sentence saying why not."""
        try:
            if isinstance(payload, bytes):
                payload = payload.decode()
            data = json.loads(payload)
        except (ValueError, UnicodeError):
            return 'the command is not JSON: send {"set": {"dim": 40}}'
        settings = data.get("set") if isinstance(data, dict) else None
        if not isinstance(settings, dict) or not settings or len(data) != 1:
            return 'a command is {"set": {...}} with ' + self.known()
        changes = {}
        for key in settings:
            value = settings[key]
            if key == "interval":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.1 <= value <= 3600:
                    return "'interval' must be a number of seconds from 0.1 to 3600, not " + repr(value)
            elif key == "dim" and self.lamp:
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
                    return "'dim' must be a number from 0 to 100, not " + repr(value)
            elif key == "on" and self.lamp:
                if not isinstance(value, bool):
                    return "'on' must be true or false, not " + repr(value)
            else:
                return "this kit has no setting " + repr(key) + ": it knows " + self.known()
            changes[key] = value
        if "interval" in changes:
            self.interval = changes["interval"]
        if self.lamp:
            if "dim" in changes:
                self.lamp.dim = float(changes["dim"])
            if "on" in changes:
                self.lamp.on = changes["on"]
            self.lamp.apply()
        return None

    def known(self):
        return "'dim', 'on' and 'interval'" if self.lamp else "'interval'"
