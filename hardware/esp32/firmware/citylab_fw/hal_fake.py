"""A fake board for a computer (CPython only; not copied to the ESP32).

``FakeHal`` has the methods of ``hal.BoardHal`` over a small simulated
world: a BME280 behind fake I2C registers (the datasheet's calibration
example), an SDS011 sending real frames, analog voltages, a PIR, an echo
pulse for a parked car, a PWM that records its duty. The drivers in
``sensors.py`` do the same arithmetic on these as on the real parts.
Every random number comes from the ``seed`` given.
"""

import math
import random
import struct
import time

# Bosch BME280 datasheet, section 8.2: calibration words and raw values of
# its worked example (25.08 Cel, 1006.53 hPa). Humidity words are typical.
T_CAL = (27504, 26435, -1000)
P_CAL = (36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000)
H_CAL = (75, 362, 0, 321, 50, 30)
ADC_T, ADC_P, ADC_H = 519888, 415148, 30500


class FakeBME280Bus:
    """An I2C bus with a BME280 at 0x76 whose raw values wander slowly."""

    def __init__(self, rng, address=0x76):
        self.rng = rng
        self.address = address
        self.regs = bytearray(256)
        self.regs[0xD0] = 0x60
        self.regs[0x88:0x88 + 24] = struct.pack("<Hhh", *T_CAL) + struct.pack("<Hhhhhhhhh", *P_CAL)
        h1, h2, h3, h4, h5, h6 = H_CAL
        self.regs[0xA1] = h1
        self.regs[0xE1:0xE8] = struct.pack("<hB", h2, h3) + bytes(
            [(h4 >> 4) & 0xFF, (h4 & 0x0F) | ((h5 & 0x0F) << 4), (h5 >> 4) & 0xFF, h6 & 0xFF])
        self.step = 0

    def readfrom_mem(self, address, reg, n):
        if address != self.address:
            raise OSError("ENODEV: no device answers at I2C address " + hex(address))
        if reg == 0xF7:
            self.step += 1
            drift = math.sin(self.step / 30.0)
            t = ADC_T + int(drift * 1500 + self.rng.gauss(0, 40))
            p = ADC_P + int(self.rng.gauss(0, 30))
            h = ADC_H - int(drift * 600 + self.rng.gauss(0, 30))
            self.regs[0xF7:0xFF] = bytes([(p >> 12) & 0xFF, (p >> 4) & 0xFF, (p & 0xF) << 4,
                                          (t >> 12) & 0xFF, (t >> 4) & 0xFF, (t & 0xF) << 4,
                                          (h >> 8) & 0xFF, h & 0xFF])
        return bytes(self.regs[reg:reg + n])

    def writeto_mem(self, address, reg, data):
        self.regs[reg:reg + len(data)] = data


def sds011_frame(pm25, pm10):
    """The 10 bytes an SDS011 sends for these values (ug/m3)."""
    body = struct.pack("<HH", int(round(pm25 * 10)), int(round(pm10 * 10))) + b"\x12\x34"
    return b"\xaa\xc0" + body + bytes([sum(body) & 0xFF]) + b"\xab"


class FakeUart:
    """An SDS011 on a UART: each read returns the frames of the time elapsed."""

    def __init__(self, rng):
        self.rng = rng

    def read(self):
        pm25 = max(0.0, 12.0 + self.rng.gauss(0, 2))
        return sds011_frame(pm25, pm25 * 1.6 + self.rng.gauss(0, 1))


class FakeAdc:
    """An analog input whose voltage comes from a function of time."""

    def __init__(self, volts):
        self.volts = volts

    def read_uv(self):
        return int(self.volts() * 1000000)


class FakePin:
    def __init__(self, level=0):
        self.level = level

    def value(self, level=None):
        if level is None:
            return self.level() if callable(self.level) else self.level
        self.level = level
        return None


class FakePwm:
    def __init__(self):
        self.duty = 0

    def duty_u16(self, duty=None):
        if duty is None:
            return self.duty
        self.duty = duty
        return None


class FakeHal:
    """The board's methods on a computer; ``lines_in``/``write`` carry serial mode.

    ``write`` is called with each line the firmware prints; ``read`` returns
    a waiting line or None. ``wifi_up`` and ``mqtt_client`` let tests cut
    the network; ``clock_set`` False plays a board without NTP.
    """

    def __init__(self, seed=1, write=None, read=None, mqtt_factory=None, clock_set=True):
        self.rng = random.Random(seed)
        self.write = write or (lambda line: None)
        self.read = read or (lambda: None)
        self.mqtt_factory = mqtt_factory
        self.clock_set = clock_set
        self.wifi_up = True
        self.logs = []
        self.pwms = []
        self.car_parked = False

    def ticks_ms(self):
        return int(time.monotonic() * 1000)

    def ticks_diff(self, a, b):
        return a - b

    def ticks_add(self, a, b):
        return a + b

    def sleep_ms(self, ms):
        time.sleep(ms / 1000.0)

    def unix_time(self):
        return time.time() if self.clock_set else None

    def log(self, text):
        self.logs.append(text)
        self.write("# " + text)

    def i2c(self, sda, scl):
        return FakeBME280Bus(self.rng)

    def uart(self, index, baud, tx, rx):
        return FakeUart(self.rng)

    def adc(self, pin):
        if pin == 34:  # sound: about 55 dB(A) with bursts of traffic
            return FakeAdc(lambda: 1.1 + abs(self.rng.gauss(0, 0.12)))
        # the LDR: a slow day-night swing
        return FakeAdc(lambda: 1.65 + 1.4 * math.sin(time.time() / 120.0))

    def pin_in(self, pin):
        return FakePin(lambda: 1 if self.rng.random() < 0.2 else 0)

    def pin_out(self, pin):
        return FakePin(0)

    def pwm(self, pin):
        pwm = FakePwm()
        self.pwms.append(pwm)
        return pwm

    def pulse_us(self, pin, level, timeout_us):
        if self.rng.random() < 0.05:
            self.car_parked = not self.car_parked
        metres = 0.35 if self.car_parked else 2.4
        return int(metres * 2 / 343.0 * 1000000 + self.rng.gauss(0, 20))

    def wifi_connect(self, ssid, password):
        return self.wifi_up

    def mqtt_client(self, client_id, host, port, user, password, keepalive):
        if self.mqtt_factory is None:
            raise OSError("this fake board has no MQTT")
        return self.mqtt_factory(client_id, host, port, user, password, keepalive)

    def write_line(self, text):
        self.write(text)

    def read_line(self):
        return self.read()
