"""The hardware layer on the ESP32: the only module that imports ``machine``.

Everything else asks this object for pins, buses, the clock, Wi-Fi, MQTT and
the USB serial line. ``hal_fake.FakeHal`` offers the same methods on a
computer (tests, ``citylab kit emulate``), ``citylab_agent`` on a Pi.
"""

import sys
import time

import machine

# MicroPython's epoch on the ESP32 is 2000-01-01; SenML wants Unix time.
EPOCH_OFFSET = 946684800 if time.gmtime(0)[0] == 2000 else 0


class BoardHal:
    """The real board: machine pins and buses, network.WLAN, umqtt.simple."""

    def __init__(self):
        self.synced = False
        self.wlan = None
        self.rx = b""
        self.poll = None

    # clock
    def ticks_ms(self):
        return time.ticks_ms()

    def ticks_diff(self, a, b):
        return time.ticks_diff(a, b)

    def ticks_add(self, a, b):
        return time.ticks_add(a, b)

    def sleep_ms(self, ms):
        time.sleep_ms(ms)

    def unix_time(self):
        return time.time() + EPOCH_OFFSET if self.synced else None

    def log(self, text):
        print("# " + text)

    # buses and pins
    def i2c(self, sda, scl):
        return machine.I2C(0, sda=machine.Pin(sda), scl=machine.Pin(scl), freq=100000)

    def uart(self, index, baud, tx, rx):
        return machine.UART(index, baudrate=baud, tx=tx, rx=rx, timeout=0)

    def adc(self, pin):
        adc = machine.ADC(machine.Pin(pin))
        adc.atten(machine.ADC.ATTN_11DB)  # full range up to about 3.1 V
        return adc

    def pin_in(self, pin):
        return machine.Pin(pin, machine.Pin.IN)

    def pin_out(self, pin):
        return machine.Pin(pin, machine.Pin.OUT, value=0)

    def pwm(self, pin):
        return machine.PWM(machine.Pin(pin), freq=1000, duty_u16=0)

    def pulse_us(self, pin, level, timeout_us):
        return machine.time_pulse_us(pin, level, timeout_us)

    # network
    def wifi_connect(self, ssid, password):
        import network

        if self.wlan is None:
            self.wlan = network.WLAN(network.STA_IF)
            self.wlan.active(True)
        if not self.wlan.isconnected():
            self.wlan.connect(ssid, password)
            for _ in range(100):  # up to 10 s, then the caller backs off
                if self.wlan.isconnected():
                    break
                time.sleep_ms(100)
        if self.wlan.isconnected() and not self.synced:
            try:
                import ntptime

                ntptime.settime()
                self.synced = True
            except Exception:
                pass  # readings go out with relative times until the clock is set
        return self.wlan.isconnected()

    def mqtt_client(self, client_id, host, port, user, password, keepalive):
        from umqtt.simple import MQTTClient

        class Client(MQTTClient):
            def sock_close(self):
                self.sock.close()

        return Client(client_id, host, port=port, user=user, password=password, keepalive=keepalive)

    # the USB serial line (serial mode)
    def write_line(self, text):
        sys.stdout.write(text + "\n")

    def read_line(self):
        """A complete line from USB if one is waiting, else None; never blocks."""
        import select

        if self.poll is None:
            self.poll = select.poll()
            self.poll.register(sys.stdin, select.POLLIN)
        while self.poll.poll(0):
            ch = sys.stdin.read(1)
            if not ch:
                break
            if ch == "\n":
                line, self.rx = self.rx, b""
                return line.decode()
            if len(self.rx) < 1024:  # a runaway line must not eat the heap
                self.rx += ch.encode()
        return None
