"""``python -m citylab_agent --config config.json``: run the Pi kit until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path


def firmware_on_path() -> None:
    """citylab_fw sits next to this package on the Pi, or in the repository on a computer."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent, here.parent.parent / "esp32" / "firmware"):
        if (candidate / "citylab_fw").is_dir():
            sys.path.insert(0, str(candidate))
            return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="citylab_agent", description="the citylab Raspberry Pi kit")
    parser.add_argument("--config", type=Path, default=Path("config.json"), help="the kit's settings")
    args = parser.parse_args(argv)
    firmware_on_path()
    from citylab_agent.hal import PiHal
    from citylab_fw import app, settings

    try:
        config = settings.load(str(args.config))
    except ValueError as exc:
        print(f"citylab_agent: {exc}", file=sys.stderr)
        return 1
    from gpiozero.exc import GPIOZeroError

    hal = PiHal()
    try:
        link = app.make_link(config, hal)
    except (OSError, GPIOZeroError) as exc:  # no GPIO access, a pin taken, no PWM: one line, not a traceback
        print(f"citylab_agent: cannot set up the pins ({type(exc).__name__}: {exc}): is this a Raspberry Pi, "
              f"and is no other program using GPIO17 and GPIO18?", file=sys.stderr)
        hal.close()
        return 1
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    try:
        link.run(lambda: not stop.is_set())
    except KeyboardInterrupt:
        pass
    finally:
        hal.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
