"""Sensor and actuator drivers over small hardware objects.

Each driver takes the bus or pin objects it needs (an I2C with
``readfrom_mem``/``writeto_mem``, a UART with ``read``, an ADC with
``read_uv``, a Pin with ``value``, a PWM with ``duty_u16``), so the board,
the Pi agent and the fakes of the tests hand in different objects and the
arithmetic below is the same everywhere. ``read()`` returns (name, value)
pairs; a value that cannot be read is left out rather than invented.
"""

import struct


class BME280:
    """Bosch BME280: temperature, humidity, pressure over I2C (address 0x76 or 0x77).

    Compensation is the floating-point formula of the datasheet (section 8.1).
    """

    CHIP_ID = 0x60

    def __init__(self, i2c, address=0x76):
        self.i2c = i2c
        self.address = address
        chip = i2c.readfrom_mem(address, 0xD0, 1)[0]
        if chip != self.CHIP_ID:
            raise OSError("no BME280 at I2C address " + hex(address) + " (chip id " + hex(chip)
                          + "; 0x58 is a BMP280, which has no humidity)")
        c = i2c.readfrom_mem(address, 0x88, 24)
        self.t = struct.unpack("<Hhh", c[0:6])
        self.p = struct.unpack("<Hhhhhhhhh", c[6:24])
        h1 = i2c.readfrom_mem(address, 0xA1, 1)[0]
        e = i2c.readfrom_mem(address, 0xE1, 7)
        h2 = struct.unpack("<h", e[0:2])[0]
        h4 = (e[3] << 4) | (e[4] & 0x0F)
        h5 = (e[5] << 4) | (e[4] >> 4)
        h4 = h4 - 4096 if h4 > 2047 else h4
        h5 = h5 - 4096 if h5 > 2047 else h5
        h6 = e[6] - 256 if e[6] > 127 else e[6]
        self.h = (h1, h2, e[2], h4, h5, h6)
        # Humidity x1, then temperature x1, pressure x1, normal mode; standby 1 s.
        i2c.writeto_mem(address, 0xF2, b"\x01")
        i2c.writeto_mem(address, 0xF4, b"\x27")
        i2c.writeto_mem(address, 0xF5, b"\xa0")

    def read(self):
        d = self.i2c.readfrom_mem(self.address, 0xF7, 8)
        adc_p = (d[0] << 12) | (d[1] << 4) | (d[2] >> 4)
        adc_t = (d[3] << 12) | (d[4] << 4) | (d[5] >> 4)
        adc_h = (d[6] << 8) | d[7]
        t1, t2, t3 = self.t
        var1 = (adc_t / 16384.0 - t1 / 1024.0) * t2
        var2 = (adc_t / 131072.0 - t1 / 8192.0) ** 2 * t3
        t_fine = var1 + var2
        values = [("temperature", round(t_fine / 5120.0, 2))]
        h = self._humidity(t_fine, adc_h)
        values.append(("humidity", round(h, 1)))
        p = self._pressure(t_fine, adc_p)
        if p is not None:
            values.append(("pressure", round(p / 100.0, 2)))
        return values

    def _pressure(self, t_fine, adc_p):
        p1, p2, p3, p4, p5, p6, p7, p8, p9 = self.p
        var1 = t_fine / 2.0 - 64000.0
        var2 = var1 * var1 * p6 / 32768.0 + var1 * p5 * 2.0
        var2 = var2 / 4.0 + p4 * 65536.0
        var1 = (p3 * var1 * var1 / 524288.0 + p2 * var1) / 524288.0
        var1 = (1.0 + var1 / 32768.0) * p1
        if var1 == 0:
            return None  # the datasheet's guard against a division by zero
        p = (1048576.0 - adc_p - var2 / 4096.0) * 6250.0 / var1
        return p + (p9 * p * p / 2147483648.0 + p * p8 / 32768.0 + p7) / 16.0

    def _humidity(self, t_fine, adc_h):
        h1, h2, h3, h4, h5, h6 = self.h
        v = t_fine - 76800.0
        v = (adc_h - (h4 * 64.0 + h5 / 16384.0 * v)) * (
            h2 / 65536.0 * (1.0 + h6 / 67108864.0 * v * (1.0 + h3 / 67108864.0 * v)))
        v = v * (1.0 - h1 * v / 524288.0)
        return min(100.0, max(0.0, v))


class SDS011:
    """Nova SDS011 particulate sensor on a UART at 9600 baud.

    It sends a 10-byte frame every second: AA C0 pm25(le16) pm10(le16) id(2)
    checksum AB, values in tenths of ug/m3. Frames are found in the byte
    stream and checked, so a byte lost on the wire costs one frame, not sync.
    """

    def __init__(self, uart):
        self.uart = uart
        self.buf = b""
        self.latest = None
        self.bad_frames = 0

    def feed(self, data):
        """Take bytes from the wire; return the last good (pm2_5, pm10) seen."""
        self.buf += data
        while len(self.buf) >= 10:
            start = self.buf.find(b"\xaa\xc0")
            if start < 0:
                self.buf = self.buf[-1:]
                break
            frame = self.buf[start:start + 10]
            if len(frame) < 10:
                self.buf = self.buf[start:]
                break
            if frame[9] == 0xAB and sum(frame[2:8]) & 0xFF == frame[8]:
                self.latest = ((frame[2] | frame[3] << 8) / 10.0, (frame[4] | frame[5] << 8) / 10.0)
                self.buf = self.buf[start + 10:]
            else:
                self.bad_frames += 1
                self.buf = self.buf[start + 1:]
        return self.latest

    def read(self):
        data = self.uart.read()
        if data:
            self.feed(data)
        if self.latest is None:
            return []
        return [("pm2_5", self.latest[0]), ("pm10", self.latest[1])]


class SoundLevel:
    """An analog sound level meter (DFRobot SEN0232): 0.6-2.6 V means 30-130 dB(A)."""

    def __init__(self, adc):
        self.adc = adc

    def read(self):
        volts = self.adc.read_uv() / 1000000.0
        if volts < 0.3:
            return []  # unplugged: the output never goes below 0.6 V
        return [("noise", round(volts * 50.0, 1))]


class Ultrasonic:
    """HC-SR04 distance for a parking space: ``occupied`` below ``occupied_m``."""

    SOUND_M_PER_US = 343.0 / 1000000.0

    def __init__(self, trigger, echo, pulse_us, occupied_m=1.0):
        self.trigger = trigger
        self.echo = echo
        self.pulse_us = pulse_us  # (pin, level, timeout_us) -> us, negative on timeout
        self.occupied_m = occupied_m

    def read(self):
        self.trigger.value(0)
        self.trigger.value(1)  # the module wants >= 10 us high; Python takes longer
        self.trigger.value(0)
        us = self.pulse_us(self.echo, 1, 30000)
        if us is None or us <= 0:
            return []  # no echo within 30 ms: nothing in range (> 5 m) or unplugged
        metres = round(us * self.SOUND_M_PER_US / 2.0, 3)
        return [("distance", metres), ("occupied", metres < self.occupied_m)]


class LightSensor:
    """An LDR (GL5528) from 3.3 V to the ADC pin, 10 kOhm from the pin to GND.

    Lux from the LDR's resistance with its datasheet curve (R10 about 15 kOhm,
    gamma 0.7): good for dusk and dawn, not for a light meter.
    """

    def __init__(self, adc, supply_v=3.3, fixed_ohm=10000.0, r10_ohm=15000.0, gamma=0.7):
        self.adc = adc
        self.supply_v = supply_v
        self.fixed_ohm = fixed_ohm
        self.r10_ohm = r10_ohm
        self.gamma = gamma

    def read(self):
        volts = self.adc.read_uv() / 1000000.0
        if volts <= 0.01:
            return [("illuminance", 0.0)]
        if volts >= self.supply_v:
            volts = self.supply_v * 0.999
        ohm = self.fixed_ohm * (self.supply_v / volts - 1.0)
        lux = 10.0 * (self.r10_ohm / ohm) ** (1.0 / self.gamma)
        return [("illuminance", round(lux, 1))]


class Motion:
    """A PIR (HC-SR501): its output is high while it sees movement."""

    def __init__(self, pin):
        self.pin = pin

    def read(self):
        return [("motion", bool(self.pin.value()))]


class Lamp:
    """An LED (the streetlight) on a PWM pin: ``dim`` 0-100 %, ``on`` true/false."""

    def __init__(self, pwm, dim=100.0, on=True):
        self.pwm = pwm
        self.dim = float(dim)
        self.on = on
        self.apply()

    def apply(self):
        # Perceived brightness is roughly quadratic in duty: square the level
        # so 50 % looks like half as bright, not nearly full.
        level = self.dim / 100.0 if self.on else 0.0
        self.pwm.duty_u16(int(level * level * 65535))

    def state(self):
        return [("dim", self.dim), ("on", self.on)]
