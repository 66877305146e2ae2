"""The simulator's fast pack writer: every pack it can make passes the contract and says the value.

``simulator.packs`` builds SenML without ``build_pack`` (which validates each
pack, too slow for 10,000 devices a second), so this proves, for every
quantity of every device type, that the packs pass ``validate_message`` and
carry the value quantised to the quantity's resolution and saturated at its
range, including for NaN, infinities and values far outside the range.
"""

from __future__ import annotations

import numpy as np
import pytest

from citylab.contract import validate_message
from simulator.devices import DEVICE_TYPES
from simulator.packs import PackWriter
from simulator.sensors import BATTERY

SPECIAL = [np.nan, np.inf, -np.inf, -1e300, 1e300, 0.0, -0.0, 1e-12, -1e-12]


@pytest.mark.parametrize("kind", sorted(DEVICE_TYPES))
def test_every_pack_of_every_quantity_passes_the_contract_and_reads_back(kind: str) -> None:
    model = DEVICE_TYPES[kind]
    quantities = model.QUANTITIES + (BATTERY,)
    ids = [f"{kind.replace('_', '-')}-{i}" for i in range(200)]
    writer = PackWriter("site-1", ids, quantities)
    rng = np.random.default_rng(7)
    values = np.empty((len(ids), len(quantities)))
    for j, q in enumerate(quantities):
        spread = max(q.span, 1.0) if q.span < 1e9 else 1e6
        values[:, j] = rng.uniform(q.low - 0.2 * spread, q.low + 1.2 * spread, len(ids))
        values[: len(SPECIAL), j] = SPECIAL
    packs = writer.build(values, None, 1_742_270_400.25)
    assert len(packs) == len(ids)
    for i, (device, pack) in enumerate(zip(ids, packs)):
        readings = validate_message(f"citylab/site-1/{device}/telemetry", pack).readings
        assert [r.name for r in readings] == [q.name for q in quantities]
        for q, reading in zip(quantities, readings):
            assert reading.time == 1_742_270_400.25
            if q.boolean:
                assert isinstance(reading.value, bool)
                continue
            assert reading.unit == q.unit and q.low <= reading.value <= q.high
            raw = values[i, q is not None and quantities.index(q)]
            if np.isfinite(raw) and q.low <= raw <= q.high:
                assert abs(reading.value - raw) <= q.resolution / 2 + 1e-9 * max(1.0, abs(raw))


def test_a_subset_of_devices_gets_only_its_packs() -> None:
    model = DEVICE_TYPES["noise"]
    writer = PackWriter("s", ["n-0", "n-1", "n-2"], model.QUANTITIES)
    packs = writer.build(np.array([[50.0], [60.0], [70.0]]), np.array([0, 2]), 1_000_000_000.0)
    assert [validate_message(f"citylab/s/{d}/telemetry", p).readings[0].value for d, p in zip(["n-0", "n-2"], packs)] \
        == [50.0, 70.0]
