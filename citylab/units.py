"""The SenML units registry, and the unit each well-known quantity must use.

Units are those of IANA's "SenML Units" registry (RFC 8428 and RFC 8798).
``suggest_unit`` turns the usual mistakes ("C", "°C", "lux", "µg/m³") into the
registered symbol so the contract can say what to write instead.
"""

from __future__ import annotations

SENML_UNITS: dict[str, str] = {
    # RFC 8428
    "m": "metres", "kg": "kilograms", "g": "grams", "s": "seconds", "A": "amperes",
    "K": "kelvins", "cd": "candelas", "mol": "moles", "Hz": "hertz", "rad": "radians",
    "sr": "steradians", "N": "newtons", "Pa": "pascals", "J": "joules", "W": "watts",
    "C": "coulombs", "V": "volts", "F": "farads", "Ohm": "ohms", "S": "siemens",
    "Wb": "webers", "T": "teslas", "H": "henries", "Cel": "degrees Celsius",
    "lm": "lumens", "lx": "lux", "Bq": "becquerels", "Gy": "grays", "Sv": "sieverts",
    "kat": "katals", "m2": "square metres", "m3": "cubic metres", "l": "litres",
    "m/s": "metres per second", "m/s2": "metres per second squared",
    "m3/s": "cubic metres per second", "l/s": "litres per second",
    "W/m2": "watts per square metre", "cd/m2": "candelas per square metre",
    "bit": "bits", "bit/s": "bits per second", "lat": "degrees latitude",
    "lon": "degrees longitude", "pH": "pH", "dB": "decibels", "dBW": "decibels relative to 1 W",
    "Bspl": "bels (sound pressure level)", "count": "a count", "/": "a ratio",
    "%": "percent", "%RH": "percent relative humidity", "%EL": "percent of remaining battery",
    "EL": "seconds of remaining battery", "1/s": "events per second",
    "1/min": "events per minute", "beat/min": "heart beats per minute", "beats": "heart beats",
    "S/m": "siemens per metre",
    # RFC 8798
    "B": "bytes", "VA": "volt-amperes", "VAs": "volt-ampere seconds", "var": "vars",
    "vars": "var seconds", "J/m": "joules per metre", "kg/m3": "kilograms per cubic metre",
    "deg": "degrees", "NTU": "nephelometric turbidity units", "ms": "milliseconds",
    "min": "minutes", "h": "hours", "MHz": "megahertz", "kW": "kilowatts",
    "kVA": "kilovolt-amperes", "kvar": "kilovars", "Ah": "ampere-hours",
    "Wh": "watt-hours", "kWh": "kilowatt-hours", "varh": "var-hours", "kvarh": "kilovar-hours",
    "kVAh": "kilovolt-ampere-hours", "Wh/km": "watt-hours per kilometre", "KiB": "kibibytes",
    "GB": "gigabytes", "MBit/s": "megabits per second", "B/s": "bytes per second",
    "MB/s": "megabytes per second", "mV": "millivolts", "mA": "milliamperes",
    "dBm": "decibels relative to 1 mW", "ug/m3": "micrograms per cubic metre",
    "mm/h": "millimetres per hour", "m/h": "metres per hour", "ppm": "parts per million",
    "/100": "percent (as /100)", "/1000": "per mille", "hPa": "hectopascals",
    "mm": "millimetres", "cm": "centimetres", "km": "kilometres", "km/h": "kilometres per hour",
}

# Common ways to write a unit that SenML spells otherwise.
_ALIASES: dict[str, str] = {
    "c": "Cel", "°c": "Cel", "degc": "Cel", "celsius": "Cel", "ºc": "Cel", "deg c": "Cel",
    "rh": "%RH", "%rh": "%RH", "% rh": "%RH", "humidity": "%RH",
    "lux": "lx", "lx": "lx",
    "µg/m3": "ug/m3", "μg/m3": "ug/m3", "µg/m³": "ug/m3", "μg/m³": "ug/m3", "ug/m^3": "ug/m3",
    "ug/m³": "ug/m3", "ugm3": "ug/m3",
    "db": "dB", "dba": "dB", "db(a)": "dB", "dbspl": "dB",
    "w": "W", "watt": "W", "watts": "W", "wh": "Wh", "kwh": "kWh", "kw": "kW",
    "hpa": "hPa", "mbar": "hPa", "ppm": "ppm", "percent": "%", "pct": "%",
    "m/s": "m/s", "kmh": "km/h", "km/h": "km/h", "cars": "count", "vehicles": "count",
    "sec": "s", "secs": "s", "seconds": "s", "v": "V", "volt": "V", "volts": "V",
}

# The quantities citylab's devices report and the units they must use. A
# record with one of these names and another unit is refused with a hint.
QUANTITY_UNITS: dict[str, tuple[str, ...]] = {
    "temperature": ("Cel",),
    "humidity": ("%RH",),
    "illuminance": ("lx",),
    "pm2_5": ("ug/m3",),
    "pm10": ("ug/m3",),
    "no2": ("ug/m3",),
    "o3": ("ug/m3",),
    "noise": ("dB",),
    "pressure": ("hPa", "Pa"),
    "dim": ("%",),
    "power": ("W",),
    "energy": ("Wh", "kWh"),
    "vehicles": ("count",),
    "queue_main": ("count",),
    "queue_side": ("count",),
    "vehicles_main": ("count",),
    "vehicles_side": ("count",),
    "occupied": ("count",),
    "free": ("count",),
    "distance": ("m", "cm", "mm"),
    "fill": ("%",),
    "battery": ("%EL",),
    "cycle": ("s",),
    "split": ("/",),
}


def suggest_unit(wrong: str) -> str | None:
    """The registered unit a person most likely meant by ``wrong``, if any."""
    if not isinstance(wrong, str):
        return None
    key = wrong.strip()
    lowered = key.lower()
    if lowered in _ALIASES:
        return _ALIASES[lowered]
    for unit in SENML_UNITS:
        if unit.lower() == lowered:
            return unit
    return None
