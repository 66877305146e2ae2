# Runs UNDER MICROPYTHON (run.mjs): drives the firmware's pure logic with
# tiny fakes and prints one "KIND json" line per result for the Python test
# to check with citylab.contract. No CPython-only feature may appear here.
import json
import struct
import sys

from citylab_fw import kits, senml, sensors, settings
from citylab_fw.backoff import Backoff
from citylab_fw.device import Device
from citylab_fw.mqtt_link import MqttLink
from citylab_fw.outbox import Outbox
from citylab_fw.serial_link import SerialLink


def out(kind, value):
    print(kind + " " + json.dumps(value))


print("IMPL " + sys.implementation.name)


class Bus:
    # A BME280 at 0x76 with the datasheet's calibration example and raw values.
    def __init__(self):
        r = bytearray(256)
        r[0xD0] = 0x60
        r[0x88:0x88 + 24] = struct.pack("<Hhh", 27504, 26435, -1000) + struct.pack(
            "<Hhhhhhhhh", 36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000)
        r[0xA1] = 75
        r[0xE1:0xE8] = struct.pack("<hB", 362, 0) + bytes([321 >> 4, (321 & 15) | ((50 & 15) << 4), 50 >> 4, 30])
        p, t, h = 415148, 519888, 30500
        r[0xF7:0xFF] = bytes([p >> 12, (p >> 4) & 255, (p & 15) << 4, t >> 12, (t >> 4) & 255, (t & 15) << 4,
                              h >> 8, h & 255])
        self.r = r

    def readfrom_mem(self, addr, reg, n):
        if addr != 0x76:
            raise OSError("ENODEV")
        return bytes(self.r[reg:reg + n])

    def writeto_mem(self, addr, reg, data):
        self.r[reg:reg + len(data)] = data


class Uart:
    def read(self):
        body = struct.pack("<HH", 123, 201) + b"\x00\x00"
        s = 0
        for b in body:
            s += b
        return b"\x01\xaa\xc0" + body + bytes([s & 255]) + b"\xab"


class Adc:
    def __init__(self, v):
        self.v = v

    def read_uv(self):
        return int(self.v * 1000000)


class Pin:
    def __init__(self, v=0):
        self.v = v

    def value(self, v=None):
        if v is None:
            return self.v
        self.v = v


class Pwm:
    def __init__(self):
        self.duty = -1

    def duty_u16(self, d):
        self.duty = d


class Hal:
    def __init__(self):
        self.t = 1000
        self.lines = []
        self.incoming = []
        self.logs = []
        self.lamp_pwm = Pwm()
        self.client = None

    def ticks_ms(self):
        self.t += 10
        return self.t

    def ticks_diff(self, a, b):
        return a - b

    def ticks_add(self, a, b):
        return a + b

    def sleep_ms(self, ms):
        self.t += ms

    def unix_time(self):
        return None  # a board without NTP: relative times

    def log(self, text):
        self.logs.append(text)

    def i2c(self, sda, scl):
        return Bus()

    def uart(self, i, baud, tx, rx):
        return Uart()

    def adc(self, pin):
        return Adc(1.2 if pin == 34 else 2.0)

    def pin_in(self, pin):
        return Pin(1)

    def pin_out(self, pin):
        return Pin(0)

    def pwm(self, pin):
        return self.lamp_pwm

    def pulse_us(self, pin, level, timeout):
        return 2915  # 0.5 m

    def write_line(self, text):
        self.lines.append(text)

    def read_line(self):
        return self.incoming.pop(0) if self.incoming else None

    def wifi_connect(self, ssid, password):
        return True

    def mqtt_client(self, *args):
        return self.client


# 1. the environment kit in serial mode
cfg = settings.parse('{"site": "mpy", "device": "env-01", "kit": "env", "mode": "serial", "interval": 5}')
hal = Hal()
found, lamp = kits.build("env", hal)
link = SerialLink(Device(cfg, found, lamp, hal), hal)
link.start()
link.step()
for line in hal.lines:
    out("LINE", line)

# 2. the street kit: commands, refused commands, state
cfg = settings.parse('{"site": "mpy", "device": "lamp-01", "kit": "street", "mode": "serial"}')
hal = Hal()
found, lamp = kits.build("street", hal)
device = Device(cfg, found, lamp, hal)
hal.incoming = ['{"set": {"dim": 40, "on": true}}', '{"set": {"dim": 400}}', "\xff junk"]
link = SerialLink(device, hal)
link.start()
link.step()
for line in hal.lines:
    out("LINE", line)
out("DUTY", hal.lamp_pwm.duty)

# 3. Wi-Fi mode: a broker that fails, then accepts; readings kept meanwhile
class Client:
    def __init__(self, fail):
        self.fail = fail
        self.sent = []
        self.will = None
        self.cb = None

    def set_callback(self, cb):
        self.cb = cb

    def set_last_will(self, topic, msg, retain, qos):
        self.will = (topic, msg, retain, qos)

    def connect(self):
        if self.fail:
            raise OSError("ECONNREFUSED")

    def publish(self, topic, msg, retain=False, qos=0):
        self.sent.append((topic, msg, retain))

    def subscribe(self, topic, qos=0):
        self.sub = topic

    def check_msg(self):
        if self.cb and not self.sent_cmd:
            self.sent_cmd = True
            self.cb(b"citylab/mpy/lamp-01/cmd", b'{"set": {"interval": 2}}')

    sent_cmd = False

    def sock_close(self):
        pass


cfg = settings.parse('{"site": "mpy", "device": "lamp-01", "kit": "street", "mode": "wifi", "interval": 1,'
                     ' "buffer": 2, "wifi": {"ssid": "lab"}, "broker": "mqtt://10.0.0.2"}')
hal = Hal()
found, lamp = kits.build("street", hal)
mlink = MqttLink(Device(cfg, found, lamp, hal), hal, cfg, Backoff(first_ms=100))
hal.client = Client(fail=True)
for _ in range(3):  # three samples while the broker refuses; the buffer holds 2
    mlink.step()
    hal.t += 1000
out("OUTBOX", [len(mlink.outbox), mlink.outbox.dropped])
hal.client = Client(fail=False)
mlink.step()
out("WILL", list(hal.client.will))
for topic, msg, retain in hal.client.sent:
    out("PUB", [topic, msg, retain])
out("INTERVAL", mlink.device.interval)

# 4. config errors, backoff
for bad in ['{"site": "Bad", "device": "x"}', '{"site": "a", "device": "x", "mode": "wifi", "wifi": {"ssid": "s"},'
            ' "broker": "mqtt://h:99999"}', "{nope"]:
    try:
        settings.parse(bad)
        out("CONFIG", "accepted")
    except ValueError as exc:
        out("CONFIG", str(exc))
b = Backoff(first_ms=100, cap_ms=800)
out("BACKOFF", [b.next_ms() for _ in range(6)])
box = Outbox(2)
for i in range(4):
    box.put(i)
out("BOX", [box.items, box.dropped])
p = sensors.SDS011(None)
out("SDS", p.feed(Uart().read()))
