"""SenML JSON packs (RFC 8428) in the citylab contract's shape.

The base name is ``urn:citylab:{site}:{device}:``; the base time is Unix time
when the board's clock is set, otherwise a negative offset ("this many seconds
ago"), which SenML reads as relative to arrival, so a board without a clock
still stamps its readings correctly.
"""

import json

# The unit each quantity this firmware measures must use (the contract checks
# them: temperature in Cel, not C, which SenML reads as coulombs).
UNITS = {
    "temperature": "Cel",
    "humidity": "%RH",
    "pressure": "hPa",
    "pm2_5": "ug/m3",
    "pm10": "ug/m3",
    "noise": "dB",
    "distance": "m",
    "occupied": "",
    "illuminance": "lx",
    "motion": "",
    "dim": "%",
    "on": "",
    "interval": "s",
}

TOPIC_ROOT = "citylab"


def base_name(site, device):
    return "urn:citylab:" + site + ":" + device + ":"


def topic(site, device, channel):
    return TOPIC_ROOT + "/" + site + "/" + device + "/" + channel


def _finite(value):
    # NaN is the only value not equal to itself; infinities are beyond any float.
    return value == value and -1e300 < value < 1e300


def record(name, value, unit=None):
    """One SenML record, or None when the value cannot be sent (NaN, None)."""
    if value is None:
        return None
    if unit is None:
        unit = UNITS.get(name, "")
    rec = {"n": name}
    if unit:
        rec["u"] = unit
    if isinstance(value, bool):
        rec["vb"] = value
    elif isinstance(value, str):
        rec["vs"] = value
    else:
        value = float(value)
        if not _finite(value):
            return None
        rec["v"] = value
    return rec


def pack(site, device, values, base_time):
    """A SenML JSON pack (str) of ``values``, a list of (name, value) pairs.

    Returns None when no value could be sent, so the caller never publishes an
    empty pack (the contract refuses those).
    """
    records = []
    for name, value in values:
        rec = record(name, value)
        if rec is not None:
            records.append(rec)
    if not records:
        return None
    first = records[0]
    first["bn"] = base_name(site, device)
    first["bt"] = round(base_time, 3)
    return json.dumps(records)


def pack_time(clock_now, taken_unix, age_s):
    """The base time of a reading: Unix time if the clock was set, else ``-age``."""
    if taken_unix is not None:
        return taken_unix
    if clock_now is not None:
        return clock_now - age_s
    return -age_s
