"""citylab kit firmware: the pure logic shared by the ESP32 boards and the Pi agent.

Runs on MicroPython (ESP32) and on CPython (tests, ``citylab kit emulate``, the
Raspberry Pi agent). Only ``hal.py`` touches hardware; everything else is plain
Python without dataclasses, typing or f-string specifiers MicroPython lacks.
"""

VERSION = "0.1.0"
