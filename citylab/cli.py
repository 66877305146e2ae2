"""The ``citylab`` command: one entry point, a subcommand per job.

    citylab up       broker + simulator + recorder + dashboard in one process
    citylab sim      the virtual city alone, against a broker (simulator/commands.py)
    citylab record   the recorder alone, into SQLite
    citylab grade    grade a lab
    citylab labs     list the labs, or show one

A mistake of the user's (a CitylabError) is printed as one line on stderr with
a non-zero exit; a traceback is only ever printed for a bug of ours.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from citylab import __version__
from citylab.config import Settings, load_settings
from citylab.errors import CitylabError, ConfigError

log = logging.getLogger("citylab")

# Modules with a ``register(subparsers, common)`` that adds their commands.
COMMAND_MODULES = ("simulator.commands", "firmware_bridge.commands", "classroom.commands")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Warnings read as sentences for a person; --verbose shows where they come from.
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s" if args.verbose else "citylab: %(message)s",
    )
    try:
        settings = load_settings(vars(args))
        _make_private(settings.data_dir)
        return args.run(args, settings)
    except CitylabError as exc:
        print(f"citylab: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("citylab: interrupted", file=sys.stderr)
        return 130


def _make_private(folder: Path) -> None:
    """Create the data folder readable by its owner only: it holds the gradebook and the
    accounts, and trainees' programs run on this machine. A folder that exists is left as it is;
    one that cannot be made is the store's to report, with its own sentence."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="citylab",
        description="Hands-on smart-city labs against a real kit or a virtual city.",
    )
    parser.add_argument("--version", action="version", version=f"citylab {__version__}")
    parser.set_defaults(run=lambda args, settings: (parser.print_help(), 2)[1])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", help="log what happens inside")
    common.add_argument("--data", dest="data_dir", type=Path, help="folder for the database and gradebook"
                        " (default: $CITYLAB_DATA or ~/.local/share/citylab)")
    parser.add_argument("-v", "--verbose", action="store_true", help=argparse.SUPPRESS)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    def add(name: str, run: Callable[[argparse.Namespace, Settings], int], help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(run=run)
        return p

    def broker_option(p: argparse.ArgumentParser, required_help: str) -> None:
        p.add_argument("--broker", metavar="URL", help=required_help)

    up = add("up", cmd_up, "run citylab on this computer: broker, virtual city, recorder and dashboard")
    broker_option(up, "use this MQTT broker (mqtt://host:port) instead of the embedded one")
    up.add_argument("--mqtt-port", type=int, help="port of the embedded MQTT broker (default: 1883)")
    up.add_argument("--mqtt-tls", dest="mqtt_tls_dir", type=Path, metavar="DIR",
                    help="also serve MQTT over TLS on 8883 with DIR/server.crt and DIR/server.key"
                         " (default: $CITYLAB_MQTT_TLS; see docs/instructor-server.md, 'TLS')")
    up.add_argument("--http-port", type=int, help="port of the dashboard (default: 8000)")
    up.add_argument("--http-host", help="address the dashboard listens on (default: 127.0.0.1)")
    up.add_argument("--no-sim", action="store_true", help="do not run the virtual city (real kits only)")
    up.add_argument("--classroom", action="store_true", default=None,
                    help="an instructor's server: broker logins and ACLs per trainee, dashboard logins"
                         " (default: $CITYLAB_CLASSROOM; accounts from 'citylab cohort')")
    up.add_argument("--store", metavar="URL", help="also record into this store, like influx://host:8086/citylab"
                    " (default: $CITYLAB_STORE; the dashboard always reads the SQLite copy)")
    add_city_options(up)

    rec = add("record", cmd_record, "record every message of an MQTT broker into SQLite or InfluxDB")
    broker_option(rec, "the MQTT broker to record (default: mqtt://127.0.0.1:1883)")
    rec.add_argument("--db", type=Path, help="the SQLite file (default: <data>/citylab.sqlite)")
    rec.add_argument("--store", metavar="URL", help="the store: sqlite:///file.sqlite, influx://user:pass@host:8086/db"
                     " (1.x) or influx://host:8086/bucket?org=O&token=T (2.x/3.x); default: $CITYLAB_STORE or --db")

    grade = add("grade", cmd_grade, "grade a lab: run a solution, observe it, and explain the score")
    grade.add_argument("lab", help="the lab id, like 01-mqtt-telemetry (or just 01)")
    grade.add_argument("--site", help="your site, like alice (required unless --cohort)")
    grade.add_argument("--solution", type=Path, help="the Python file to grade (on a kit, a device lab runs the"
                       " kit's own code: then it is optional, kept in the gradebook if given)")
    grade.add_argument("--target", choices=("sim", "kit"), default="sim", help="where the lab runs (default: sim)")
    grade.add_argument("--port", help="with --target kit, a serial lab: your kit's serial port, like /dev/ttyUSB0")
    grade.add_argument("--cohort", type=Path, metavar="FOLDER", help="grade every FOLDER/SITE.py, one file per site,"
                       " on one shared broker, and record each in the gradebook")
    grade.add_argument("--jobs", type=int, metavar="N", help="with --cohort: gradings at a time (default: by lab"
                       " kind and CPU count)")
    broker_option(grade, "grade against this MQTT broker (default: a private embedded one)")
    grade.add_argument("--influx", metavar="URL", help="for labs that need InfluxDB 1.x: the server to make a scratch"
                       " database on, like http://admin:pass@host:8086 (default: $CITYLAB_INFLUX_URL, else the"
                       " grader starts Debian's influxd)")
    grade.add_argument("--json", action="store_true", help="print the result as JSON")
    grade.add_argument("--junit", type=Path, metavar="FILE", help="also write the result as JUnit XML")

    # Each part adds its own commands: adding one touches only its folder.
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(sub, common)

    labs = add("labs", cmd_labs_list, "list the labs, or show one")
    labs_sub = labs.add_subparsers(title="labs commands", metavar="ACTION")
    lst = labs_sub.add_parser("list", parents=[common], help="list the labs", description="list the labs")
    lst.set_defaults(run=cmd_labs_list)
    show = labs_sub.add_parser("show", parents=[common], help="show a lab's instructions",
                               description="show a lab's instructions")
    show.add_argument("lab", help="the lab id, like 01-mqtt-telemetry (or just 01)")
    show.set_defaults(run=cmd_labs_show)
    return parser


def add_city_options(parser: argparse.ArgumentParser) -> None:
    """The options that choose and pace the virtual city."""
    parser.add_argument("--city", help="a city name (default) or a path to a city .toml file")
    parser.add_argument("--site", help="the site the city publishes under (default: demo)")
    parser.add_argument("--seed", type=int, help="random seed; the same seed gives the same run (default: 1)")
    parser.add_argument("--speed", type=float,
                        help="simulated seconds per real second; 0 runs as fast as possible (default: 1)")


# --- commands -------------------------------------------------------------


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    from citylab.broker import EmbeddedBroker
    from citylab.recorder import Recorder
    from citylab.stores import ReadingStore, SQLiteStore, open_store
    from dashboard.server import DashboardServer

    from classroom.serve import classroom_settings, open_classroom, service_address

    started = time.monotonic()
    stop = stop_on_signals()
    running: list[Any] = []  # stopped in reverse order
    settings = classroom_settings(settings)
    classroom = open_classroom(settings)  # None: the open single-user mode
    try:
        if settings.broker:
            broker = settings.broker_address()
            broker_text = f"{broker.url} (external)"
        else:
            embedded = EmbeddedBroker(settings.mqtt_host, settings.mqtt_port, classroom=classroom,
                                      tls_dir=settings.mqtt_tls_dir, tls_port=settings.mqtt_tls_port).start()
            running.append(embedded)
            broker = embedded.address
            broker_text = f"{broker.url} (embedded)"
            if settings.mqtt_tls_dir:
                broker_text += f", mqtts://{settings.mqtt_host}:{settings.mqtt_tls_port} (TLS)"
        if classroom is not None:
            # The city's own services log in with the service account: it alone may write everywhere.
            broker = service_address(classroom, broker)
            broker_text += f", classroom mode: logins and ACLs from {settings.classroom_db}"
        qos = 1 if settings.broker else 0
        store = SQLiteStore(settings.database)
        spool = settings.data_dir / "spool-up"  # not `record`'s: both may run on one data folder
        recorder = Recorder(broker, store, qos=qos, spool=spool, writer="process",
                            client_id=_recorder_id(spool) if settings.broker else None).start()
        running.append(recorder)
        data_text = str(settings.database)
        extra = settings.store_url() if settings.store else None
        readings = None  # where the dashboard's charts read: the SQLite store unless --store names another
        if extra is not None and not (extra.kind == "sqlite" and extra.path == settings.database):
            # A recorder of its own, with its own spool: a slow InfluxDB never
            # holds back the SQLite copy the dashboard's live view reads.
            extra_spool = settings.data_dir / "spool-up-store"
            extra_store = open_store(extra)
            running.append(Recorder(broker, extra_store, qos=qos, spool=extra_spool, writer="process",
                                    client_id=_recorder_id(extra_spool) if settings.broker else None).start())
            readings = extra_store if isinstance(extra_store, ReadingStore) else None
            data_text += f" and {extra}" + (" (charts read it)" if readings is not None else "")
        dashboard = DashboardServer(SQLiteStore(settings.database), settings.http_host, settings.http_port,
                                    city=None if args.no_sim else settings.city, site=settings.site,
                                    gradebook_path=settings.gradebook, readings=readings,
                                    classroom=classroom)  # None: open mode, no logins
        city_text = "off (--no-sim)"
        if not args.no_sim:
            simulator = start_simulator(settings, broker)
            running.append(simulator)
            city_text = (f"{settings.city}: {len(simulator.simulation.devices)} devices on site '{settings.site}',"
                         f" speed x{settings.speed:g}, seed {settings.seed}")
        dashboard.start()
        running.append(dashboard)
        print(
            f"citylab {__version__} is running (started in {time.monotonic() - started:.1f} s)\n"
            f"  dashboard    {dashboard.url}\n"
            f"  MQTT broker  {broker_text}\n"
            f"  city         {city_text}\n"
            f"  data         {data_text}\n"
            f"Press Ctrl-C to stop.",
            flush=True,
        )
        _report_progress(recorder, stop)
    finally:
        _stop_all(running)
    print("citylab stopped.", flush=True)
    return 0


def cmd_record(args: argparse.Namespace, settings: Settings) -> int:
    from citylab.recorder import Recorder
    from citylab.stores import StoreURL, open_store

    broker = settings.broker_address()
    url = StoreURL("sqlite", path=args.db) if args.db and not settings.store else settings.store_url()
    store = open_store(url)
    stop = stop_on_signals()
    # A fixed client id and a spool on disk: the broker keeps our session while
    # we restart, and what we acknowledged is on disk until it is stored. The
    # writer runs in a process of its own so paho's thread has this one's GIL
    # to itself (see bench/recorder_throughput.py --writer).
    recorder = Recorder(broker, store, spool=settings.spool_dir, client_id=_recorder_id(settings.spool_dir),
                        writer="process").start()
    print(f"recording {broker.url} into {url} (spool {settings.spool_dir}); Ctrl-C to stop", flush=True)
    try:
        _report_progress(recorder, stop)
    finally:
        recorder.stop(timeout=10.0)
    return 0


def _recorder_id(spool: Path) -> str:
    """The same MQTT client id every time a recorder uses this spool, on this computer."""
    import hashlib
    import socket

    digest = hashlib.sha1(str(spool.resolve()).encode()).hexdigest()[:10]
    return f"citylab-recorder-{socket.gethostname()[:20]}-{digest}"


def cmd_grade(args: argparse.Namespace, settings: Settings) -> int:
    import os

    import labs
    from labs import Gradebook
    from labs.engine import KitOptions

    broker = settings.broker_address() if settings.broker else None
    if args.cohort is not None:
        from labs.engine.cohort import cohort_command

        return cohort_command(args.lab, args.cohort, broker, args.jobs, settings.gradebook)
    if not args.site:
        raise ConfigError("give your site with --site, like --site alice (or a folder of submissions with --cohort)")
    progress = None if args.json else (lambda line: print(line, file=sys.stderr, flush=True))
    # The same variable the trainee's program reads: one server for both when they test at home.
    influx = args.influx or os.environ.get("CITYLAB_INFLUX_URL") or None
    # Read before grading: the gradebook keeps the code that was graded, not a later edit.
    code = args.solution.read_bytes() if args.solution is not None and args.solution.is_file() else None
    result = labs.grade(args.lab, args.site, args.solution, broker=broker, target=args.target, progress=progress,
                        influx=influx, kit=KitOptions(port=args.port))
    Gradebook(settings.gradebook).record(result, by="cli", code=code)
    if args.junit:
        result.to_junit(args.junit)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(result.render_text())
    return 0


def cmd_labs_list(args: argparse.Namespace, settings: Settings) -> int:
    from labs.catalogue import list_labs

    rows = [(lab.id, lab.title, lab.level, f"{lab.duration_minutes} min", "/".join(lab.targets)) for lab in list_labs()]
    widths = [max(len(str(row[i])) for row in rows) for i in range(4)] if rows else []
    for row in rows:
        print("  ".join(str(cell).ljust(widths[i]) if i < 4 else str(cell) for i, cell in enumerate(row)))
    return 0


def cmd_labs_show(args: argparse.Namespace, settings: Settings) -> int:
    from labs.catalogue import get_lab

    lab = get_lab(args.lab)
    print(f"{lab.id}: {lab.title}\nlevel {lab.level}, {lab.duration_minutes} min, targets: {', '.join(lab.targets)}\n")
    print(lab.instructions)
    return 0


# --- helpers ----------------------------------------------------------------


def start_simulator(settings: Settings, broker: Any) -> Any:
    from simulator import SimulatorService

    if settings.speed == 0:
        # As fast as possible would flood the broker; it is for in-process runs.
        raise ConfigError("speed 0 (as fast as possible) cannot go through a broker: "
                          "choose a speed such as 60 (a minute each second)")
    simulator = SimulatorService(broker, settings.city, site=settings.site, seed=settings.seed, speed=settings.speed)
    simulator.start()
    return simulator


def stop_on_signals() -> threading.Event:
    """An event set by Ctrl-C or SIGTERM, so long-running commands stop cleanly."""
    stop = threading.Event()
    first: list[float] = []

    def handler(signum: int, frame: object) -> None:
        if not first:
            first.append(time.monotonic())
            print("\nstopping...", file=sys.stderr, flush=True)
            stop.set()
        # A signal sent to the whole process group arrives twice at once;
        # only a second Ctrl-C a moment later means "stop now".
        elif time.monotonic() - first[0] > 1.0:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def _report_progress(recorder: Any, stop: threading.Event, every: float = 10.0) -> None:
    """Print what the recorder kept, every ``every`` seconds, until stopped."""
    last, last_time = 0, time.monotonic()
    while not stop.wait(every):
        stats, now = recorder.stats, time.monotonic()
        rate = (stats.recorded - last) / (now - last_time)
        last, last_time = stats.recorded, now
        print(f"  recorded {stats.recorded} messages ({rate:.0f}/s), {stats.dead_letters} dead letters",
              flush=True)


def _stop_all(running: list[Any]) -> None:
    for part in reversed(running):
        try:
            part.stop()
        except Exception as exc:  # stopping must go on to the next part
            log.warning("could not stop %s cleanly: %s", type(part).__name__, exc)


if __name__ == "__main__":
    sys.exit(main())
