"""Start the kit: read config.json, build the kit, run Wi-Fi or serial mode."""

from citylab_fw import kits, settings
from citylab_fw.device import Device
from citylab_fw.mqtt_link import MqttLink
from citylab_fw.serial_link import SerialLink


def make_link(config, hal):
    """The link (SerialLink or MqttLink) running this config's kit on ``hal``."""
    sensors, lamp = kits.build(config.kit, hal)
    device = Device(config, sensors, lamp, hal)
    if config.mode == "serial":
        return SerialLink(device, hal)
    return MqttLink(device, hal, config)


def run(path="config.json"):
    """The board's entry point, called by main.py."""
    from citylab_fw.hal import BoardHal

    hal = BoardHal()
    try:
        config = settings.load(path)
    except ValueError as exc:
        print("# citylab: " + str(exc))
        return
    make_link(config, hal).run()
