"""The kits as tables: which driver sits on which pin (ESP32 kits and the Pi kit).

Pins are ESP32 DevKitC GPIO numbers chosen to avoid the usual traps: no
strapping pins (0, 2, 5, 12, 15), no flash pins (6-11), input-only pins
(34-39) only for inputs, and analog inputs on ADC1 (32-39) because ADC2
stops working while Wi-Fi is on. hardware/esp32-*/README.md wires the same.
"""

from citylab_fw import sensors

PINS = {
    "env": {"sda": 21, "scl": 22, "bme280_addr": 0x76, "uart": 2, "uart_rx": 16, "uart_tx": 17,
            "sound_adc": 34},
    "street": {"trigger": 25, "echo": 26, "ldr_adc": 35, "pir": 27, "led_pwm": 23},
    # Raspberry Pi: BCM numbers; I2C is bus 1 on GPIO2 (SDA) and GPIO3 (SCL).
    "rpi": {"sda": 2, "scl": 3, "bme280_addr": 0x76, "pir": 17, "led_pwm": 18},
}


def build(kit, hal):
    """(sensors, lamp) for a kit, over the hardware objects ``hal`` makes."""
    pins = PINS[kit]
    if kit == "env":
        found = []
        try:
            found.append(sensors.BME280(hal.i2c(pins["sda"], pins["scl"]), pins["bme280_addr"]))
        except OSError as exc:  # a missing sensor is reported, the rest keeps working
            hal.log("BME280 not found: " + str(exc) + " (check SDA=GPIO21, SCL=GPIO22, 3V3, GND)")
        found.append(sensors.SDS011(hal.uart(pins["uart"], 9600, pins["uart_tx"], pins["uart_rx"])))
        found.append(sensors.SoundLevel(hal.adc(pins["sound_adc"])))
        return found, None
    if kit == "street":
        found = [
            sensors.Ultrasonic(hal.pin_out(pins["trigger"]), hal.pin_in(pins["echo"]), hal.pulse_us),
            sensors.LightSensor(hal.adc(pins["ldr_adc"])),
            sensors.Motion(hal.pin_in(pins["pir"])),
        ]
        return found, sensors.Lamp(hal.pwm(pins["led_pwm"]))
    if kit == "rpi":
        found = []
        try:
            found.append(sensors.BME280(hal.i2c(pins["sda"], pins["scl"]), pins["bme280_addr"]))
        except OSError as exc:
            hal.log("BME280 not found: " + str(exc) + " (check SDA=GPIO2 pin 3, SCL=GPIO3 pin 5, 3V3, GND)")
        found.append(sensors.Motion(hal.pin_in(pins["pir"])))
        return found, sensors.Lamp(hal.pwm(pins["led_pwm"]))
    raise ValueError("unknown kit " + repr(kit))
