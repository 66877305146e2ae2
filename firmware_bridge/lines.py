"""What one serial line means: a pack to publish, a log line, or a dead letter.

The kit's serial protocol (hardware/esp32/firmware/citylab_fw/serial_link.py):
``[...]`` is a telemetry pack, ``state [...]`` a state pack, ``# ...`` a log
line for a person. The device id comes from the pack's base name; the site
is the bridge's. Everything is checked with ``citylab.contract``, so the
bridge publishes exactly what the recorder accepts, and every refusal has the
contract's reason.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from citylab import contract
from citylab.errors import ContractError

# Found in the raw bytes, before JSON parsing, to name the topic; the contract
# then checks the whole pack against that topic.
_BASE_NAME = re.compile(rb'"bn"\s*:\s*"urn:citylab:([^:"]{1,64}):([^:"]{1,64}):"')


@dataclass(frozen=True)
class Publish:
    """A line that passed the contract: publish ``payload`` on ``topic``."""

    topic: str
    payload: bytes
    device: str
    channel: str


@dataclass(frozen=True)
class Log:
    """A ``#`` line: the device talking to a person."""

    text: str


@dataclass(frozen=True)
class Refused:
    """A line the bridge will not publish, with the reason for a person."""

    reason: str
    kind: str
    device: str | None = None


def classify(line: bytes, site: str, received: float | None = None) -> Publish | Log | Refused | None:
    """Sort one line (without its newline); None for a blank line."""
    text = line.strip()
    if not text:
        return None
    if text.startswith(b"#"):
        return Log(text[1:].strip().decode("utf-8", "replace"))
    channel = "telemetry"
    if text.startswith(b"state"):
        channel, text = "state", text[5:].lstrip()
    if not text.startswith(b"["):
        return Refused(_not_a_pack(text), "senml")
    found = _BASE_NAME.search(text)
    if not found:
        return Refused("a pack's first record needs \"bn\": \"urn:citylab:{site}:{device}:\" "
                       "so the bridge knows which device sent it", "name")
    try:
        pack_site, device = found.group(1).decode(), found.group(2).decode()
    except UnicodeDecodeError:
        return Refused("the base name is not UTF-8 text", "json")
    if pack_site != site:
        return Refused(f"the device says site {pack_site!r} but this bridge publishes for site {site!r}: "
                       f"provision the kit with --site {site}", "name", None)
    try:
        topic = contract.topic(site, device, channel)
        contract.validate_message(topic, text, time.time() if received is None else received)
    except ContractError as exc:
        return Refused(exc.reason, exc.kind, device if contract.ID_PATTERN.fullmatch(device) else None)
    return Publish(topic, text, device, channel)


def _not_a_pack(text: bytes) -> str:
    try:
        sample = text[:40].decode("utf-8")
    except UnicodeDecodeError as exc:
        return (f"the line is not UTF-8 text (bad byte at position {exc.start}): line noise, or the "
                f"baud rate does not match the device's (the kits use 115200)")
    printable = sum(ch.isprintable() for ch in sample) / max(1, len(sample))
    if printable < 0.8:
        return "the line is mostly unprintable: line noise, or a baud rate that does not match the device's"
    return f"the line {sample!r} is not a SenML pack ([...]), a 'state [...]' or a '# ' log line"
