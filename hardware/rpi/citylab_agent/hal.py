"""The hardware layer on a Raspberry Pi: gpiozero for pins, smbus2 for I2C.

It offers the methods of the ESP32's ``citylab_fw.hal.BoardHal`` so the same
drivers and links run unchanged. Pins are BCM numbers. In tests gpiozero's
``MockFactory`` stands in for the GPIO chip and a fake SMBus for the I2C bus.
"""

from __future__ import annotations

import select
import sys
import time
from typing import Any, Callable

from gpiozero import DigitalInputDevice, PWMLED


class SMBusI2C:
    """MicroPython's I2C methods (readfrom_mem / writeto_mem) over an smbus2 SMBus."""

    def __init__(self, bus: Any) -> None:
        self.bus = bus

    def readfrom_mem(self, address: int, register: int, count: int) -> bytes:
        return bytes(self.bus.read_i2c_block_data(address, register, count))

    def writeto_mem(self, address: int, register: int, data: bytes) -> None:
        self.bus.write_i2c_block_data(address, register, list(data))


class InputPin:
    """A gpiozero input with MicroPython's ``Pin.value()``."""

    def __init__(self, device: DigitalInputDevice) -> None:
        self.device = device

    def value(self, level: int | None = None) -> int:
        return int(self.device.value)


class LedPwm:
    """A gpiozero PWMLED with MicroPython's ``PWM.duty_u16()``."""

    def __init__(self, led: PWMLED) -> None:
        self.led = led

    def duty_u16(self, duty: int) -> None:
        self.led.value = max(0, min(65535, duty)) / 65535


class PiHal:
    """The Pi: real clock (NTP by the OS), network by the OS, paho for MQTT."""

    def __init__(self, smbus_factory: Callable[[int], Any] | None = None, write: Callable[[str], None] | None = None,
                 mqtt_factory: Callable[..., Any] | None = None,
                 read: Callable[[], str | None] | None = None) -> None:
        self.smbus_factory = smbus_factory
        self.write = write or (lambda line: (sys.stdout.write(line + "\n"), sys.stdout.flush()))
        self.read = read or _stdin_line
        self.mqtt_factory = mqtt_factory
        self.devices: list[Any] = []  # closed by close(), so pins are released
        self.logs: list[str] = []

    def ticks_ms(self) -> int:
        return int(time.monotonic() * 1000)

    def ticks_diff(self, a: int, b: int) -> int:
        return a - b

    def ticks_add(self, a: int, b: int) -> int:
        return a + b

    def sleep_ms(self, ms: int) -> None:
        time.sleep(ms / 1000)

    def unix_time(self) -> float:
        return time.time()

    def log(self, text: str) -> None:
        self.logs.append(text)
        self.write("# " + text)

    def i2c(self, sda: int, scl: int) -> SMBusI2C:
        if self.smbus_factory is None:
            from smbus2 import SMBus

            self.smbus_factory = SMBus
        try:
            bus = self.smbus_factory(1)  # GPIO2/GPIO3 are I2C bus 1 on every Pi since the model B rev 2
        except (OSError, FileNotFoundError) as exc:
            raise OSError(f"cannot open /dev/i2c-1 ({exc}): enable I2C with 'sudo raspi-config'") from exc
        return SMBusI2C(bus)

    def pin_in(self, pin: int) -> InputPin:
        device = DigitalInputDevice(pin, pull_up=None, active_state=True)
        self.devices.append(device)
        return InputPin(device)

    def pin_out(self, pin: int) -> Any:
        raise OSError("the Pi kit has no output pin besides the LED")

    def pwm(self, pin: int) -> LedPwm:
        led = PWMLED(pin, frequency=1000)
        self.devices.append(led)
        return LedPwm(led)

    def pulse_us(self, pin: Any, level: int, timeout_us: int) -> int:
        return -1

    def adc(self, pin: int) -> Any:
        raise OSError("a Raspberry Pi has no analog input")

    def uart(self, index: int, baud: int, tx: int, rx: int) -> Any:
        raise OSError("the Pi kit has no UART sensor")

    def wifi_connect(self, ssid: str, password: str) -> bool:
        return True  # the Pi's operating system keeps the network up

    def mqtt_client(self, *args: Any) -> Any:
        if self.mqtt_factory is None:
            from citylab_fw.umqtt_compat import MQTTClient

            self.mqtt_factory = MQTTClient
        return self.mqtt_factory(*args)

    def write_line(self, text: str) -> None:
        self.write(text)

    def read_line(self) -> str | None:
        """A command line waiting on stdin (serial mode, behind the bridge), or None."""
        return self.read()

    def close(self) -> None:
        for device in self.devices:
            device.close()


def _stdin_line() -> str | None:
    """One line from stdin if one is waiting; never blocks (the loop also samples)."""
    try:
        ready = select.select([sys.stdin], [], [], 0)[0]
    except (OSError, ValueError):  # no stdin (a service): no commands in serial mode
        return None
    if not ready:
        return None
    line = sys.stdin.readline()
    return line.rstrip("\n") if line else None
