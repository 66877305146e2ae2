"""Provisioning a MicroPython board: its config.json, then the firmware files.

Both go through ``mpremote`` (MicroPython's own tool) over USB. The config is
checked with the firmware's own parser before anything is written, so a board
is never left with a config it would refuse at boot. ``dry_run`` prints the
mpremote commands instead of running them (no board needed).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

from citylab import contract
from citylab.errors import ContractError
from firmware_bridge.errors import KitConfigError, ProvisionError
from firmware_bridge.paths import firmware_files, use_firmware

Runner = Callable[[list[str]], "subprocess.CompletedProcess[str]"]


def kit_config(site: str, device: str, kit: str = "env", *, mode: str = "wifi", ssid: str = "",
               wifi_password: str = "", broker: str = "", interval: float = 10, buffer: int = 200) -> dict[str, Any]:
    """The content of config.json, checked by the contract and the firmware's parser."""
    try:
        contract.Topic(site, device, "telemetry")
    except ContractError as exc:
        raise KitConfigError(exc.reason) from exc
    if mode == "wifi" and not ssid:
        raise KitConfigError("mode wifi needs --wifi SSID (the Wi-Fi network the kit joins); "
                             "or use --mode serial and 'citylab bridge serial'")
    if mode == "wifi" and not broker:
        raise KitConfigError("mode wifi needs --broker mqtt://ADDRESS:1883, the broker as the kit reaches it "
                             "(this computer's address on the Wi-Fi, not 127.0.0.1)")
    use_firmware()
    from citylab_fw import settings

    data = {"site": site, "device": device, "kit": kit, "mode": mode, "interval": interval, "buffer": buffer,
            "wifi": {"ssid": ssid, "password": wifi_password}, "broker": broker}
    try:
        return settings.Settings(data).to_dict()
    except ValueError as exc:
        raise KitConfigError(f"{exc} (see 'citylab kit provision --help')") from exc


def mpremote() -> list[str]:
    """How to run mpremote: its script, or this Python's module."""
    found = shutil.which("mpremote")
    if found:
        return [found]
    try:
        import mpremote as _  # noqa: F401
    except ImportError as exc:
        raise ProvisionError("mpremote is not installed: pip install mpremote") from exc
    return [sys.executable, "-m", "mpremote"]


def _run(command: list[str]) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def _check(result: "subprocess.CompletedProcess[str]", port: str, what: str) -> None:
    if result.returncode == 0:
        return
    output = (result.stderr or result.stdout or "").strip().splitlines()
    detail = output[-1] if output else f"exit code {result.returncode}"
    hint = ""
    if "failed to access" in detail or "could not" in detail.lower() or "No such file" in detail:
        hint = ": is the board plugged in, and no serial monitor or bridge holding the port?"
    raise ProvisionError(f"{what} on {port} failed ({detail}){hint}")


def provision(port: str, config: dict[str, Any], *, dry_run: bool = False, run: Runner = _run) -> list[list[str]]:
    """Write ``config`` as config.json on the board; return the commands run."""
    with tempfile.TemporaryDirectory(prefix="citylab-kit-") as folder:
        path = Path(folder) / "config.json"
        # The file holds the Wi-Fi password: readable by its owner only.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(config, f, indent=1)
        commands = [mpremote() + ["connect", port, "fs", "cp", str(path), ":config.json"]]
        if not dry_run:
            for command in commands:
                _check(run(command), port, "writing config.json")
    return commands


def flash(port: str, *, dry_run: bool = False, reset: bool = True, run: Runner = _run) -> list[list[str]]:
    """Copy the firmware (main.py and citylab_fw/) to the board; return the commands run."""
    base = mpremote() + ["connect", port]
    commands = [base + ["fs", "mkdir", ":citylab_fw"]]
    copy = base[:]
    for local, remote in firmware_files():
        copy += ["fs", "cp", str(local), f":{remote}", "+"]
    commands.append(copy[:-1])
    if reset:
        commands.append(base + ["reset"])
    if not dry_run:
        first = run(commands[0])
        # mkdir fails when the folder is already there from an earlier flash.
        if first.returncode != 0 and "exists" not in (first.stderr + first.stdout).lower():
            _check(first, port, "creating citylab_fw/")
        for command in commands[1:]:
            _check(run(command), port, "copying the firmware")
    return commands
