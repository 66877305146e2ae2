"""umqtt.simple's MQTTClient on CPython, over paho-mqtt 2.x (not for the board).

The firmware's ``mqtt_link`` is written against umqtt.simple; this class
gives it the same methods on a computer (tests, the emulator, the Pi agent),
and raises OSError where umqtt would, so the reconnect logic is exercised.
"""

import queue
import socket

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion


class MQTTClient:
    """connect / publish / subscribe / check_msg / disconnect, like umqtt.simple."""

    def __init__(self, client_id, server, port=1883, user=None, password=None, keepalive=30,
                 timeout=5.0):
        self.server, self.port, self.keepalive, self.timeout = server, port, keepalive, timeout
        self.cb = None
        self.inbox = queue.SimpleQueue()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311)
        if user:
            self.client.username_pw_set(user, password)
        self.client.on_message = lambda c, u, m: self.inbox.put((m.topic.encode(), bytes(m.payload)))
        self.client.reconnect_delay_set(1, 1)

    def set_callback(self, cb):
        self.cb = cb

    def set_last_will(self, topic, msg, retain=False, qos=0):
        self.client.will_set(topic, msg, qos=qos, retain=retain)

    def connect(self):
        try:
            self.client.connect(self.server, self.port, keepalive=self.keepalive)
        except (OSError, socket.timeout) as exc:
            raise OSError(str(exc)) from exc
        self.client.loop_start()
        import time

        deadline = time.monotonic() + self.timeout
        while not self.client.is_connected():
            if time.monotonic() > deadline:
                self.sock_close()
                raise OSError("no CONNACK from " + self.server)
            time.sleep(0.01)

    def _check(self):
        if not self.client.is_connected():
            raise OSError("not connected to the broker")

    def publish(self, topic, msg, retain=False, qos=0):
        self._check()
        info = self.client.publish(topic, msg, qos=qos, retain=retain)
        if qos:
            try:
                info.wait_for_publish(self.timeout)
            except (RuntimeError, ValueError) as exc:
                raise OSError(str(exc)) from exc
            if not info.is_published():
                raise OSError("the broker did not acknowledge " + topic)

    def subscribe(self, topic, qos=0):
        self._check()
        self.client.subscribe(topic, qos)

    def check_msg(self):
        self._check()
        while True:
            try:
                topic, msg = self.inbox.get_nowait()
            except queue.Empty:
                return
            if self.cb:
                self.cb(topic, msg)

    def sock_close(self):
        """Drop the connection without DISCONNECT, as a board losing power does."""
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            sock.close()

    def disconnect(self):
        self.client.disconnect()
        self.client.loop_stop()
