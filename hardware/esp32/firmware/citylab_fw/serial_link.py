"""Serial mode: the same SenML packs as lines on USB, for kits without Wi-Fi.

Device -> computer, one message per line:
  ``[...]``        a telemetry pack
  ``state [...]``  the state pack, after start and after every command
  ``# text``       a log line for a person (the bridge does not publish it)
Computer -> device: a command, ``{"set": {...}}``, one per line.
``citylab bridge serial`` carries these to and from the broker.
"""


# The state is re-sent this often: a bridge started after the kit (or a kit
# plugged into a new bridge) learns it without waiting for a command.
STATE_EVERY_MS = 60000


class SerialLink:
    """Runs a Device over a line-based serial port given by the HAL."""

    def __init__(self, device, hal):
        self.device = device
        self.hal = hal
        self.next_ms = None
        self.state_ms = None
        self.sent = 0

    def start(self):
        self.hal.write_line("# citylab kit " + self.device.id + " on site " + self.device.site)
        self.send_state()

    def send_state(self):
        self.hal.write_line("state " + self.device.state())
        self.state_ms = self.hal.ticks_add(self.hal.ticks_ms(), STATE_EVERY_MS)

    def step(self):
        """One pass: obey waiting commands, then sample if the interval is up."""
        line = self.hal.read_line()
        while line is not None:
            line = line.strip()
            if line:
                error = self.device.command(line)
                if error:
                    self.hal.write_line("# command refused: " + error)
                self.send_state()
            line = self.hal.read_line()
        now = self.hal.ticks_ms()
        if self.state_ms is not None and self.hal.ticks_diff(now, self.state_ms) >= 0:
            self.send_state()
        if self.next_ms is None or self.hal.ticks_diff(now, self.next_ms) >= 0:
            self.next_ms = self.hal.ticks_add(now, int(self.device.interval * 1000))
            text = self.device.telemetry(self.device.sample())
            if text:
                self.hal.write_line(text)
                self.sent += 1
            if self.device.last_error:
                self.hal.write_line("# sensor error: " + self.device.last_error)
                self.device.last_error = ""

    def run(self, running=lambda: True):
        self.start()
        while running():
            self.step()
            self.hal.sleep_ms(20)
