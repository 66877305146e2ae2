"""Wi-Fi mode: telemetry, state and status over MQTT with umqtt.simple.

- ``status`` is retained: ``online`` after each connect, ``offline`` as the
  last will, which the broker publishes when the board goes silent;
- ``cmd`` is subscribed after each connect, and each command is answered
  with the retained ``state``;
- readings go through the bounded ``Outbox``: taken while offline, they are
  sent oldest first once the broker is back, each removed only after its
  publish succeeded (QoS 1, so umqtt waits for the broker's PUBACK);
- a lost Wi-Fi or broker is retried with ``Backoff``, never in a tight loop.
"""

from citylab_fw.backoff import Backoff
from citylab_fw.outbox import Outbox


class MqttLink:
    """Runs a Device over Wi-Fi and MQTT; ``step()`` never blocks for long."""

    def __init__(self, device, hal, settings, backoff=None):
        self.device = device
        self.hal = hal
        self.settings = settings
        self.outbox = Outbox(settings.buffer)
        self.backoff = backoff or Backoff()
        self.client = None
        self.retry_at = None
        self.next_sample = None
        self.sent = 0
        self.connects = 0
        self.commands = []

    # --- connection ---------------------------------------------------------

    def connect(self):
        """Try once to bring Wi-Fi and the broker up; False (and a retry time) if not."""
        s = self.settings
        try:
            if not self.hal.wifi_connect(s.ssid, s.wifi_password):
                raise OSError("Wi-Fi " + repr(s.ssid) + " is not connected")
            client = self.hal.mqtt_client(s.site + "-" + s.device, s.host, s.port, s.user, s.password, 30)
            client.set_callback(self._on_message)
            client.set_last_will(self.device.topic("status"), "offline", True, 1)
            client.connect()
            self.client = client
            client.publish(self.device.topic("status"), "online", True, 1)
            client.subscribe(self.device.topic("cmd"), 1)
            client.publish(self.device.topic("state"), self.device.state(), True, 1)
        except Exception as exc:  # OSError, or umqtt's MQTTException (refused: bad credentials)
            self._lost("cannot connect: " + repr(exc))
            return False
        self.backoff.reset()
        self.connects += 1
        self.hal.log("connected to " + str(s.host) + ":" + str(s.port) + ", " + str(len(self.outbox))
                     + " readings waiting")
        return True

    def _lost(self, why):
        if self.client is not None:
            try:
                self.client.sock_close()
            except Exception:
                pass
        self.client = None
        wait = self.backoff.next_ms()
        self.retry_at = self.hal.ticks_add(self.hal.ticks_ms(), wait)
        self.hal.log(why + "; trying again in " + str(wait) + " ms")

    def _on_message(self, topic, msg):
        # Called inside check_msg(); answered after it returns, not re-entrantly.
        self.commands.append(msg)

    # --- the loop -----------------------------------------------------------

    def step(self):
        now = self.hal.ticks_ms()
        if self.next_sample is None or self.hal.ticks_diff(now, self.next_sample) >= 0:
            self.next_sample = self.hal.ticks_add(now, int(self.device.interval * 1000))
            sample = self.device.sample()
            if sample[2]:
                self.outbox.put(sample)
        if self.client is None:
            if self.retry_at is not None and self.hal.ticks_diff(now, self.retry_at) < 0:
                return
            if not self.connect():
                return
        try:
            self.client.check_msg()
            while self.commands:
                error = self.device.command(self.commands.pop(0))
                if error:
                    self.hal.log("command refused: " + error)
                self.client.publish(self.device.topic("state"), self.device.state(), True, 1)
            self.flush()
        except Exception as exc:  # OSError, or MQTTException on a protocol error
            self._lost("lost the broker: " + repr(exc))

    def flush(self):
        """Send what the outbox holds, oldest first; stops at the first failure."""
        while len(self.outbox):
            text = self.device.telemetry(self.outbox.peek())
            if text:
                self.client.publish(self.device.topic("telemetry"), text, False, 1)
                self.sent += 1
            self.outbox.pop()

    def run(self, running=lambda: True):
        while running():
            self.step()
            self.hal.sleep_ms(50)
        if self.client is not None:
            try:
                self.client.publish(self.device.topic("status"), "offline", True, 1)
                self.client.disconnect()
            except Exception:
                pass  # stopping anyway; the broker's last will says offline
