"""The contract: good messages round-trip, bad ones get a reason, nothing else escapes."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings, strategies as st

from citylab import contract
from citylab.contract import MAX_PACK_BYTES, Topic, build_pack, validate_message
from citylab.errors import ContractError
from citylab.units import QUANTITY_UNITS, SENML_UNITS

ids = st.from_regex(r"[a-z0-9][a-z0-9-]{0,31}", fullmatch=True)
names = st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,20}", fullmatch=True).filter(lambda n: n not in QUANTITY_UNITS)
units = st.sampled_from(sorted(SENML_UNITS))
values = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.text(max_size=50),
    st.booleans(),
)
TOPIC = "citylab/alice/env-01/telemetry"
BN = "urn:citylab:alice:env-01:"


def refused(payload: object, topic: str = TOPIC) -> ContractError:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    with pytest.raises(ContractError) as caught:
        validate_message(topic, data, received=1_800_000_000.0)
    return caught.value


@given(site=ids, device=ids, rows=st.lists(st.tuples(names, units, values), min_size=1, max_size=8),
       base_time=st.floats(min_value=1e9, max_value=4e9))
def test_built_packs_round_trip(site: str, device: str, rows: list, base_time: float) -> None:
    payload = build_pack(site, device, rows, base_time=base_time)
    message = validate_message(contract.topic(site, device, "telemetry"), payload)
    assert [(r.name, r.unit, r.value) for r in message.readings] == [(n, u, float(v) if type(v) in (int, float) else v) for n, u, v in rows]
    assert all(r.time == base_time and (r.site, r.device) == (site, device) for r in message.readings)


@settings(max_examples=300)
@given(topic=st.text(max_size=80), payload=st.binary(max_size=300))
def test_any_bytes_on_any_topic_raise_only_contract_errors(topic: str, payload: bytes) -> None:
    try:
        validate_message(topic, payload)
    except ContractError as exc:
        assert exc.reason and exc.kind


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["bn", "bt", "bu", "n", "u", "v", "vs", "vb", "vd", "s", "t", "x"]) | st.text(max_size=4),
        children, max_size=6),
    max_leaves=20,
)


@settings(max_examples=400)
@given(channel=st.sampled_from(contract.CHANNELS), document=json_values)
def test_any_json_document_raises_only_contract_errors(channel: str, document: object) -> None:
    payload = json.dumps(document, allow_nan=True).encode()
    try:
        message = validate_message(f"citylab/alice/env-01/{channel}", payload)
    except ContractError as exc:
        assert exc.reason
    else:
        # What passes must really satisfy the contract.
        for reading in message.readings:
            assert reading.unit in SENML_UNITS
            assert not isinstance(reading.value, float) or math.isfinite(reading.value)


def test_wrong_unit_for_a_quantity_says_what_to_use() -> None:
    error = refused([{"bn": BN, "n": "temperature", "u": "C", "v": 21.5}])
    assert error.kind == "unit"
    assert "coulombs" in error.reason and "'Cel'" in error.reason


@pytest.mark.parametrize("wrong, right", [("°C", "Cel"), ("lux", "lx"), ("µg/m3", "ug/m3"), ("RH", "%RH"), ("dBA", "dB")])
def test_unregistered_units_get_the_registered_spelling(wrong: str, right: str) -> None:
    error = refused([{"bn": BN, "n": "reading", "u": wrong, "v": 1}])
    assert error.kind == "unit"
    assert f"unit {wrong!r} is not a SenML unit: use {right!r}" == error.reason


def test_unknown_unit_without_a_guess_points_to_the_registry() -> None:
    assert "SenML units registry" in refused([{"bn": BN, "n": "x", "u": "furlongs", "v": 1}]).reason


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_finite_numbers_are_refused(literal: bytes) -> None:
    payload = b'[{"bn":"' + BN.encode() + b'","n":"x","u":"W","v":' + literal + b"}]"
    assert refused(payload).kind == "value"


def test_device_in_name_must_match_the_topic() -> None:
    error = refused([{"bn": "urn:citylab:alice:env-02:", "n": "temperature", "u": "Cel", "v": 1}])
    assert error.kind == "name" and "env-01" in error.reason


def test_oversized_pack_is_refused_with_its_size() -> None:
    pack = [{"bn": BN, "n": "x", "u": "W", "v": 1.0}] + [{"n": f"x{i}", "u": "W", "v": 1.0} for i in range(600)]
    error = refused(pack)
    assert error.kind == "size"
    payload = json.dumps([{"bn": BN, "n": "x", "u": "W", "vs": "a" * 200}] * 100).encode()
    assert len(payload) > MAX_PACK_BYTES and "bytes" in refused(payload).reason


def test_bad_json_says_where() -> None:
    error = refused(b'[{"bn": "x",')
    assert error.kind == "json" and "line 1" in error.reason


def test_relative_times_are_resolved_against_arrival() -> None:
    payload = json.dumps([{"bn": BN, "n": "x", "u": "W", "v": 1, "t": -5}]).encode()
    message = validate_message(TOPIC, payload, received=1_800_000_000.0)
    assert message.readings[0].time == 1_800_000_000.0 - 5


def test_base_unit_and_time_apply_to_later_records() -> None:
    payload = json.dumps([{"bn": BN, "bt": 1.7e9, "bu": "W", "n": "a", "v": 1}, {"n": "b", "v": 2, "t": 10}]).encode()
    a, b = validate_message(TOPIC, payload).readings
    assert (b.unit, b.time) == ("W", 1.7e9 + 10)


@pytest.mark.parametrize("topic, fragment", [
    ("citylab/Alice/env-01/telemetry", "site 'Alice'"),
    ("citylab/alice/env_01/telemetry", "device id 'env_01'"),
    ("citylab/alice/env-01/data", "channel 'data'"),
    ("sensors/temperature", "does not follow"),
])
def test_topics_outside_the_contract(topic: str, fragment: str) -> None:
    error = refused([{"bn": BN, "n": "x", "u": "W", "v": 1}], topic=topic)
    assert error.kind == "topic" and fragment in error.reason


def test_status_and_command_channels() -> None:
    assert validate_message("citylab/alice/env-01/status", b"online").status == "online"
    assert refused(b"up", "citylab/alice/env-01/status").kind == "status"
    assert validate_message("citylab/alice/lamp-1/cmd", b'{"set": {"dim": 40}}').command == {"set": {"dim": 40}}
    assert refused(b"[1]", "citylab/alice/lamp-1/cmd").kind == "command"


def test_topic_is_a_self_checking_value() -> None:
    assert str(Topic("alice", "aq-01", "state")) == "citylab/alice/aq-01/state"
    with pytest.raises(ContractError):
        Topic("alice", "AQ 01", "state")
    assert contract.subscription("alice", "cmd") == "citylab/alice/+/cmd"
    assert contract.subscription() == "citylab/#"


def test_build_pack_refuses_what_the_recorder_would_refuse() -> None:
    with pytest.raises(ContractError):
        build_pack("alice", "env-01", [("temperature", "C", 21.0)])
    with pytest.raises(ContractError):
        build_pack("alice", "env-01", [("x", "W", float("nan"))])


def test_text_and_switch_values_need_no_unit_but_numbers_do() -> None:
    payload = json.dumps([{"bn": BN, "n": "on", "vb": True}, {"n": "mode", "vs": "auto"}]).encode()
    on, mode = validate_message(TOPIC, payload).readings
    assert (on.value, on.unit, mode.value, mode.unit) == (True, "", "auto", "")
    assert refused([{"bn": BN, "n": "power", "v": 12}]).kind == "unit"
