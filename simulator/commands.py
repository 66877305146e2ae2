"""The simulator's commands on the ``citylab`` command line.

    citylab sim [--broker URL] [--city C] [--speed S] [--duration D]   run the city on a broker
    citylab sim inject TYPE [--duration S] [--district D] [--device ID]... [--intensity X] [--mode M]
                                                                    inject a scenario event into a running city
    citylab sim export --out FILE [--hours H] [--city C] [--seed N]  run as fast as possible into a file
    citylab sim cities                                               list the bundled cities

``inject`` publishes the event, ``{"type": "stadium", "duration": 600, ...}``, on
``citylab/{site}/sim/cmd``, the control topic every running simulator of that
site listens to (and the dashboard lists as injected events).
"""

from __future__ import annotations

import argparse
import json

from citylab.cli import add_city_options, start_simulator, stop_on_signals
from citylab.config import Settings
from citylab.errors import ConfigError


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``citylab sim`` (and its inject, export and cities actions) to the command line."""
    from simulator.scenario import EVENT_KINDS, FAILURE_MODES

    sim = sub.add_parser("sim", parents=[common], help="run the virtual city against an MQTT broker",
                         description="run the virtual city against an MQTT broker")
    sim.add_argument("--broker", metavar="URL", help="the MQTT broker to publish to (default: mqtt://127.0.0.1:1883)")
    add_city_options(sim)
    sim.add_argument("--duration", type=float, help="stop after this many simulated seconds")
    sim.set_defaults(run=cmd_sim)
    actions = sim.add_subparsers(dest="sim_action", metavar="{inject,export,cities}")
    inject = actions.add_parser("inject", help="inject a scenario event into a running city",
                                description="inject a scenario event into a running city (through the broker)")
    inject.add_argument("event", choices=list(EVENT_KINDS), help="the kind of event")
    inject.add_argument("--duration", type=float, default=600.0, help="simulated seconds it lasts (default 600)")
    inject.add_argument("--district", default="", help="only this district (default: the whole city)")
    inject.add_argument("--device", action="append", default=[], help="only this device (repeatable)")
    inject.add_argument("--intensity", type=float, help="how strong (default: the kind's own)")
    inject.add_argument("--mode", choices=FAILURE_MODES, help="sensor_failure: stuck, dead or noisy")
    inject.add_argument("--in", dest="delay", type=float, default=0.0, metavar="SECONDS",
                        help="start this many simulated seconds from now (default 0)")
    _again(inject, "--broker", "--site")
    inject.set_defaults(run=cmd_inject)
    export = actions.add_parser("export", help="run the city as fast as possible into a file",
                                description="run the city as fast as possible and write every message and "
                                            "the ground truth to a JSON Lines file")
    export.add_argument("--out", required=True, help="the file to write")
    export.add_argument("--hours", type=float, default=1.0, help="simulated hours (default 1)")
    export.add_argument("--kpis", help="also write the ground-truth KPIs alone to this JSON file")
    _again(export, "--city", "--site", "--seed")
    export.set_defaults(run=cmd_export)
    cities = actions.add_parser("cities", help="list the bundled cities")
    cities.set_defaults(run=cmd_cities)


def _again(parser: argparse.ArgumentParser, *options: str) -> None:
    """Accept ``sim``'s options after the action too; absent, they leave ``sim``'s value alone."""
    kinds = {"--seed": int}
    for option in options:
        parser.add_argument(option, type=kinds.get(option, str), default=argparse.SUPPRESS,
                            help=f"as {option} of 'citylab sim'")


def cmd_sim(args: argparse.Namespace, settings: Settings) -> int:
    broker = settings.broker_address()
    stop = stop_on_signals()
    simulator = start_simulator(settings, broker)
    print(f"simulating {settings.city} ({len(simulator.simulation.devices)} devices, site '{settings.site}', "
          f"speed x{settings.speed:g}, seed {settings.seed}) on {broker.url}; Ctrl-C to stop", flush=True)
    try:
        stop.wait(None if args.duration is None else args.duration / settings.speed)
    finally:
        simulator.stop()
    print(f"published {simulator.published} messages.", flush=True)
    return 0


def cmd_inject(args: argparse.Namespace, settings: Settings) -> int:
    from citylab import mqtt
    from citylab.contract import topic
    from simulator.city import CONTROL_DEVICE
    from simulator.scenario import parse_event

    event: dict = {"type": args.event, "duration": args.duration}
    if args.district:
        event["district"] = args.district
    if args.device:
        event["devices"] = args.device
    if args.intensity is not None:
        event["intensity"] = args.intensity
    if args.mode:
        event["mode"] = args.mode
    try:
        parse_event(event, now=0.0)  # refuse a bad event here, not silently in the simulator
    except ValueError as exc:
        raise ConfigError(f"the event is not valid: {exc}") from exc
    if args.delay:
        event["delay"] = args.delay
    broker = settings.broker_address()
    client = mqtt.make_client("inject")
    mqtt.connect(client, broker, attempts=3, delay=0.2)
    try:
        mqtt.wait_connected(client, broker)
        info = client.publish(topic(settings.site, CONTROL_DEVICE, "cmd"), json.dumps(event), qos=1)
        info.wait_for_publish(5)
    finally:
        mqtt.stop(client)
    print(f"injected {args.event} for {args.duration:g} s into site '{settings.site}' on {broker.url}.", flush=True)
    return 0


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from simulator.city import load_city
    from simulator.export import export_run

    if args.hours <= 0:
        raise ConfigError(f"--hours must be more than 0, not {args.hours:g}")
    city = load_city(settings.city)
    kpis = export_run(city, args.out, args.hours * 3600, site=settings.site, seed=settings.seed)
    if args.kpis:
        with open(args.kpis, "w", encoding="utf-8") as stream:
            json.dump(kpis, stream, indent=1)
    print(f"wrote {kpis['messages']} messages of {len(city.devices)} devices over {args.hours:g} simulated "
          f"hours to {args.out}.", flush=True)
    return 0


def cmd_cities(args: argparse.Namespace, settings: Settings) -> int:
    from simulator.city import available_cities, load_city

    for name in available_cities():
        city = load_city(name)
        print(f"{name:12} {len(city.devices):6} devices  {city.name}: {city.description}")
    return 0
