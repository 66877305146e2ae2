"""SenML packs for a whole group of devices at once, without a JSON encoder.

``build_pack`` checks every pack it builds, which is right for a single
source but costs more than the physics at 10,000 devices. A ``PackWriter``
instead pre-builds, once, every constant piece of every device's pack (base
name, names, units) and, per reading instant, drops the formatted values
into the gaps and joins the lot in one bytes operation. Values are
formatted by table lookup: each quantity's range and resolution give a
finite set of strings, built once per process and shared by every writer
(``value_table``), so formatting is an index into an array; a quantity
whose range is too wide for a table (cumulative energy) is formatted as its
whole part (``str``) and a table of decimals. Values outside the range
saturate at its ends, as a real sensor does. ``tests/test_simulator_packs.py`` proves every pack
passes ``citylab.contract.validate_message``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Sequence

import numpy as np

from citylab.contract import base_name
from simulator.devices.base import Quantity

MAX_TABLE = 250_001
WHOLES = 100_000
SEP = b"\x00"


# The tables depend only on a quantity's range and resolution, never on the
# site or the devices, yet building them (about 330,000 strings for lab
# 03's street) cost 0.1 s of CPU on an idle machine, far more on a loaded
# one, each time a simulation was built: twice a grading (SimulatorService
# builds one to check its arguments and a fresh one per start) and again
# for every grading of a cohort worker. They are built once per process by these pure functions of
# immutable arguments (lru_cache, not a module-level dict) and returned
# read-only, so a caller cannot change what the next PackWriter gets.
@lru_cache(maxsize=64)
def value_table(low: float, resolution: float, size: int, decimals: int) -> np.ndarray:
    """Every value of a quantity's range as its JSON text, ``low + i * resolution`` at index i."""
    fmt = f"%.{decimals}f"
    steps = low + np.arange(size) * resolution
    return _read_only(np.array([(fmt % v).encode() for v in steps], dtype=object))


@lru_cache(maxsize=1)
def wholes_table() -> np.ndarray:
    """The texts of the whole numbers below WHOLES, ``b"0"`` ... ``b"99999"``."""
    return _read_only(np.array([b"%d" % i for i in range(WHOLES)], dtype=object))


@lru_cache(maxsize=8)
def fraction_table(decimals: int) -> np.ndarray:
    """The texts of the decimals of a wide-range value, ``b".000"`` ... ``b".999"`` for 3."""
    return _read_only(np.array([("." + str(i).zfill(decimals)).encode() for i in range(10**decimals)],
                               dtype=object))


def _read_only(table: np.ndarray) -> np.ndarray:
    table.flags.writeable = False
    return table


class PackWriter:
    """Formats the packs of N devices reporting the same quantities."""

    def __init__(self, site: str, device_ids: Sequence[str], quantities: Sequence[Quantity]) -> None:
        self.quantities = tuple(quantities)
        self.n = len(device_ids)
        # Columns: prefix, bt, then (segment, value) per quantity, then the close.
        self.tables: list[np.ndarray | None] = []
        for q in self.quantities:
            if q.boolean:
                self.tables.append(np.array([b"false", b"true"], dtype=object))
                continue
            size = int(round(q.span / q.resolution)) + 1
            if size > MAX_TABLE:
                if q.low < 0:
                    raise ValueError(f"{q.name}: a range too wide for a table must start at 0 or above")
                # Whole part by str(), decimals from a table of ".000" ... ".999".
                self.tables.append(None)
                continue
            self.tables.append(value_table(float(q.low), float(q.resolution), size, q.decimals))
        # Columns: prefix, bt, then per quantity a segment and its value (two for a
        # wide-range value: whole part and decimals), then the close.
        # The base time and the first record's name are one column: the same for every device.
        layout: list[str | None] = ["prefix"]
        self.value_columns: list[tuple[int, ...]] = []
        for j, q in enumerate(self.quantities):
            opening = "," if j == 0 else "},{"
            value_key = "vb" if q.boolean else "v"
            unit = "" if q.boolean else f'"u":"{q.unit}",'
            segment = f'{opening}"n":"{q.name}",{unit}"{value_key}":'
            if j == 0:
                self.first_segment = segment.encode()
                layout.append(None)
            else:
                layout.append(segment)
            wide = self.tables[j] is None and q.decimals > 0
            self.value_columns.append(tuple(range(len(layout), len(layout) + (2 if wide else 1))))
            layout.extend([None] * (2 if wide else 1))
        layout.append("}]")
        self.pieces = np.empty((self.n, len(layout)), dtype=object)
        self.pieces[:, 0] = [f'[{{"bn":"{base_name(site, d)}","bt":'.encode() for d in device_ids]
        for column, text in enumerate(layout[1:], start=1):
            if text is not None:
                self.pieces[:, column] = text.encode()
        self.pieces[:, -1] = b"}]" + SEP
        # Whole numbers below WHOLES by lookup too (a lamp's Wh, a meter's W), beyond it by %d.
        self.wholes = wholes_table() if any(t is None for t in self.tables) else np.array([], dtype=object)
        wide_decimals = {q.decimals for q, t in zip(self.quantities, self.tables) if t is None and q.decimals}
        self.fractions = {d: fraction_table(d) for d in wide_decimals}

    def format_column(self, j: int, values: np.ndarray) -> list[Any]:
        """The JSON text of quantity ``j`` for each value (saturated and quantised), in 1 or 2 columns."""
        q = self.quantities[j]
        table = self.tables[j]
        if q.boolean:
            return [table[(values > 0.5).astype(np.intp)]]  # type: ignore[index]
        # fmin/fmax saturate at the range and also turn a NaN into a number (the top of the range).
        values = np.fmax(np.fmin(values, q.high), q.low)
        if table is None:
            scale = 10**q.decimals
            whole, fraction = np.divmod(np.rint(values * scale).astype(np.int64), scale)
            if len(whole) and whole.max() < len(self.wholes):
                texts = self.wholes[whole]
            else:
                texts = [b"%d" % x for x in whole.tolist()]
            return [texts, self.fractions[q.decimals][fraction]] if q.decimals else [texts]
        index = ((values - q.low) * (1 / q.resolution) + 0.5).astype(np.intp)
        return [table[index]]

    def build(self, values: np.ndarray, rows: np.ndarray | None, base_time: float) -> list[bytes]:
        """Packs for the devices ``rows`` (all when None) from their values (N, k), at ``base_time``."""
        pieces = self.pieces if rows is None else self.pieces[rows]
        if rows is not None:
            values = values[rows]
        if len(pieces) == 0:
            return []
        pieces[:, 1] = repr(round(float(base_time), 3)).encode() + self.first_segment
        for j, columns in enumerate(self.value_columns):
            for column, texts in zip(columns, self.format_column(j, values[:, j])):
                pieces[:, column] = texts
        return b"".join(pieces.ravel().tolist()).split(SEP)[:-1]
