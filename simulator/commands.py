"""The simulator's commands on the ``citylab`` command line."""

from __future__ import annotations

import argparse

from citylab.cli import add_city_options, start_simulator, stop_on_signals
from citylab.config import Settings


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``citylab sim`` to the command line."""
    sim = sub.add_parser("sim", parents=[common], help="run the virtual city against an MQTT broker",
                         description="run the virtual city against an MQTT broker")
    sim.add_argument("--broker", metavar="URL", help="the MQTT broker to publish to (default: mqtt://127.0.0.1:1883)")
    add_city_options(sim)
    sim.add_argument("--duration", type=float, help="stop after this many simulated seconds")
    sim.set_defaults(run=cmd_sim)


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
