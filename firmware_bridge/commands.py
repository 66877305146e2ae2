"""The kit side on the ``citylab`` command line.

    citylab bridge serial --port /dev/ttyUSB0 --site alice   serial kits -> broker
    citylab kit provision --port ... --site ... --wifi ...    write config.json
    citylab kit flash --port ...                              copy the firmware
    citylab kit emulate --kit street --site alice             a virtual kit on a pty
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from citylab.config import Settings
from citylab.errors import ConfigError


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``citylab bridge`` and ``citylab kit`` to the command line."""
    bridge = sub.add_parser("bridge", parents=[common], help="carry kits on USB serial to the MQTT broker",
                            description="carry kits on USB serial to the MQTT broker")
    bridge_sub = bridge.add_subparsers(title="bridge commands", metavar="ACTION", required=True)
    serial = bridge_sub.add_parser("serial", parents=[common], help="bridge serial ports to MQTT",
                                   description="read SenML lines from serial ports, publish what the contract "
                                               "accepts, forward cmd messages to the devices")
    serial.add_argument("--port", action="append", required=True,
                        help="a serial port (/dev/ttyUSB0, a pty, a pyserial URL) or 'auto'; repeat for several")
    serial.add_argument("--site", help="your site, like alice (default: demo)")
    serial.add_argument("--broker", metavar="URL", help="the MQTT broker (default: mqtt://127.0.0.1:1883)")
    serial.add_argument("--baud", type=int, default=115200, help="baud rate (default: 115200, as the kits)")
    serial.add_argument("--dead-letters", type=Path, metavar="FILE",
                        help="append refused lines to this JSON-lines file (default: <data>/bridge-dead-letters.jsonl)")
    serial.add_argument("--duration", type=float, help="stop after this many seconds")
    serial.set_defaults(run=cmd_bridge_serial)

    kit = sub.add_parser("kit", parents=[common], help="set up a kit: provision, flash, or emulate one",
                         description="set up a kit: provision, flash, or emulate one")
    kit_sub = kit.add_subparsers(title="kit commands", metavar="ACTION", required=True)
    prov = kit_sub.add_parser("provision", parents=[common], help="write the kit's config.json over USB",
                              description="write the kit's settings (config.json) to a MicroPython board with mpremote")
    prov.add_argument("--port", required=True, help="the board's serial port, like /dev/ttyUSB0")
    prov.add_argument("--site", required=True, help="your site, like alice")
    prov.add_argument("--device", required=True, help="the kit's device id, like env-01")
    prov.add_argument("--kit", choices=("env", "street"), default="env", help="which kit (default: env)")
    prov.add_argument("--mode", choices=("wifi", "serial"), default="wifi",
                      help="publish over Wi-Fi, or print lines on USB for the bridge (default: wifi)")
    prov.add_argument("--wifi", metavar="SSID", default="", help="the Wi-Fi network's name (mode wifi)")
    prov.add_argument("--wifi-password", default=None,
                      help="its password (default: $CITYLAB_WIFI_PASSWORD, so it stays out of shell history)")
    prov.add_argument("--broker", metavar="URL", help="the broker as the board reaches it, mqtt://192.168.1.10:1883")
    prov.add_argument("--interval", type=float, default=10, help="seconds between readings (default: 10)")
    prov.add_argument("--dry-run", action="store_true", help="print the mpremote commands, do not run them")
    prov.set_defaults(run=cmd_kit_provision)

    fl = kit_sub.add_parser("flash", parents=[common], help="copy the kit firmware to a MicroPython board",
                            description="copy main.py and citylab_fw/ to a board that already runs MicroPython")
    fl.add_argument("--port", required=True, help="the board's serial port, like /dev/ttyUSB0")
    fl.add_argument("--dry-run", action="store_true", help="print the mpremote commands, do not run them")
    fl.set_defaults(run=cmd_kit_flash)

    emu = kit_sub.add_parser("emulate", parents=[common], help="run a virtual kit on this computer",
                             description="run the kit firmware on this computer behind a pseudo-terminal "
                                         "(serial mode) or against a broker (wifi mode)")
    emu.add_argument("--kit", choices=("env", "street"), default="env", help="which kit (default: env)")
    emu.add_argument("--site", help="your site, like alice (default: demo)")
    emu.add_argument("--device", help="the device id (default: env-01 or street-01)")
    emu.add_argument("--mode", choices=("serial", "wifi"), default="serial", help="default: serial")
    emu.add_argument("--broker", metavar="URL", help="the broker, for mode wifi (default: mqtt://127.0.0.1:1883)")
    emu.add_argument("--interval", type=float, default=2.0, help="seconds between readings (default: 2)")
    emu.add_argument("--link", type=Path, help="also make this path a symlink to the pty, like /tmp/citylab-kit")
    emu.add_argument("--seed", type=int, help="random seed of the simulated sensors (default: 1)")
    emu.add_argument("--duration", type=float, help="stop after this many seconds")
    emu.set_defaults(run=cmd_kit_emulate)


def cmd_bridge_serial(args: argparse.Namespace, settings: Settings) -> int:
    from citylab.cli import stop_on_signals
    from firmware_bridge.bridge import SerialBridge
    from firmware_bridge.discovery import find_kits, resolve_ports

    broker = settings.broker_address()
    ports = resolve_ports(args.port)
    dead = args.dead_letters or settings.data_dir / "bridge-dead-letters.jsonl"
    dead.parent.mkdir(parents=True, exist_ok=True)
    stop = stop_on_signals()
    bridge = SerialBridge(broker, settings.site, ports, baudrate=args.baud, dead_letter_file=dead,
                          say=lambda text: print(f"bridge: {text}", file=sys.stderr, flush=True)).start()
    print(f"bridging {', '.join(ports)} to {broker.url} for site '{settings.site}'; refused lines go to {dead}; "
          f"Ctrl-C to stop", flush=True)
    end = None if args.duration is None else time.monotonic() + args.duration
    last_summary, next_summary = "", time.monotonic() + 30
    try:
        while not stop.wait(2.0 if end is None else max(0.0, min(2.0, end - time.monotonic()))):
            if end is not None and time.monotonic() >= end:
                break
            if time.monotonic() >= next_summary:  # progress every 30 s, when something changed
                summary, next_summary = bridge.summary(), time.monotonic() + 30
                if summary != last_summary:
                    print(f"  {summary}", flush=True)
                    last_summary = summary
            if "auto" in args.port:  # kits plugged in after the start
                for path, _ in find_kits():
                    bridge.add_port(path, args.baud)
    finally:
        bridge.stop()
        print(bridge.summary(), flush=True)
    return 0


def cmd_kit_provision(args: argparse.Namespace, settings: Settings) -> int:
    from firmware_bridge.provision import kit_config, provision

    password = args.wifi_password if args.wifi_password is not None else os.environ.get("CITYLAB_WIFI_PASSWORD", "")
    config = kit_config(args.site, args.device, args.kit, mode=args.mode, ssid=args.wifi, wifi_password=password,
                        broker=args.broker or settings.broker or "", interval=args.interval)
    commands = provision(args.port, config, dry_run=args.dry_run)
    _show(commands, args.dry_run)
    if not args.dry_run:
        print(f"wrote config.json to {args.port}: {args.kit} kit {args.device} on site {args.site}, "
              f"mode {args.mode}", flush=True)
    return 0


def cmd_kit_flash(args: argparse.Namespace, settings: Settings) -> int:
    from firmware_bridge.provision import flash

    commands = flash(args.port, dry_run=args.dry_run)
    _show(commands, args.dry_run)
    if not args.dry_run:
        print(f"firmware copied to {args.port} and the board restarted", flush=True)
    return 0


def cmd_kit_emulate(args: argparse.Namespace, settings: Settings) -> int:
    from citylab.cli import stop_on_signals
    from firmware_bridge.emulator import VirtualKit

    if args.mode == "wifi" and not (args.broker or settings.broker):
        raise ConfigError("mode wifi needs --broker mqtt://host:port (the emulated kit connects to it itself)")
    kit = VirtualKit(args.kit, settings.site, args.device, interval=args.interval, mode=args.mode,
                     broker=args.broker or settings.broker or "", seed=args.seed or 1, link=args.link).start()
    stop = stop_on_signals()
    if args.mode == "serial":
        print(f"virtual {args.kit} kit {kit.device.id} (site '{settings.site}') on serial port {kit.path}\n"
              f"bridge it with: citylab bridge serial --port {kit.path} --site {settings.site}", flush=True)
    else:
        print(f"virtual {args.kit} kit {kit.device.id} publishing to {args.broker or settings.broker}", flush=True)
    try:
        stop.wait(args.duration)
    finally:
        kit.stop()
    if kit.error:
        raise ConfigError(f"the virtual kit stopped: {kit.error}")
    return 0


def _show(commands: list[list[str]], dry_run: bool) -> None:
    if dry_run:
        for command in commands:
            print(" ".join(command))
