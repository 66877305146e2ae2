"""citylab Raspberry Pi agent: the kit firmware's logic on a Pi, with gpiozero and smbus2.

The sensor, protocol and command logic is ``citylab_fw`` (the ESP32
firmware's modules, plain Python); only the hardware layer (``hal.py``)
differs. Run it with ``python -m citylab_agent --config config.json``.
"""
