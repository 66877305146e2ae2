"""The grown simulator: packs, determinism in every mode, actuators, sensors, networks, scenarios.

Real parts only: every run goes through the real engine, every payload
through the contract's validator, the control topic through a real broker.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from pathlib import Path

import pytest

from citylab import mqtt
from citylab.contract import build_command, validate_message
from citylab.mqtt import BrokerAddress
from simulator import Simulation, SimulatorService, load_city
from simulator.city import City, parse_city
from simulator.export import export_run, read_run
from simulator.network import lora_time_on_air

EPOCH = datetime.fromisoformat("2025-03-18T06:00:00+02:00")
HEADER = {"name": "Lab", "latitude": 40.64, "longitude": 22.94, "timezone": "Europe/Athens"}
Message = tuple[str, bytes, bool]


def city_of(*devices: dict, events: list | None = None) -> City:
    rows = [{"district": "lab", "x": 0, "y": 0, "interval": 60, **d} for d in devices]
    return parse_city({**HEADER, "devices": rows, "events": events or []}, "lab.toml")


def run(city: City, seconds: float, *, seed: int = 1, speed: float = 0, epoch: datetime = EPOCH) -> list[Message]:
    out: list[Message] = []
    Simulation(city, "lab", seed, speed, publish_batch=out.extend, epoch=epoch).run(seconds)
    return out


def values(messages: list[Message], device: str, name: str, channel: str = "telemetry") -> list[tuple[float, object]]:
    found = []
    for topic_text, payload, _ in messages:
        if topic_text == f"citylab/lab/{device}/{channel}":
            for reading in validate_message(topic_text, payload).readings:
                if reading.name == name:
                    found.append((reading.time, reading.value))
    return found


# --- every pack follows the contract ----------------------------------------------


@pytest.mark.parametrize(("name", "seconds"), [("default", 3600), ("old-town", 2 * 3600), ("metropolis", 3)])
def test_every_pack_of_every_city_passes_the_contract(name: str, seconds: float) -> None:
    city = load_city(name)
    messages = run(city, seconds)
    names_by_type: dict[str, set[str]] = {}
    for topic_text, payload, retain in messages:
        message = validate_message(topic_text, payload)
        assert retain == (message.topic.channel == "state")
        kind = city.device(message.topic.device).type
        names_by_type.setdefault(kind, set()).update(r.name for r in message.readings)
    assert set(names_by_type) == {d.type for d in city.devices}
    assert {"vehicles", "queue_main", "queue_side", "cycle", "split"} <= names_by_type["traffic"]
    assert {"occupied", "free", "distance"} <= names_by_type["parking"]


def test_cities_have_the_promised_sizes() -> None:
    assert 190 <= len(load_city("old-town").devices) <= 220
    metropolis = load_city("metropolis")
    assert len(metropolis.devices) == 10_000
    assert len({d.id for d in metropolis.devices}) == 10_000
    assert all(d.interval == 1 for d in metropolis.devices)
    assert len({d.type for d in metropolis.devices}) == 8


# --- determinism --------------------------------------------------------------------


def scripted(speed: float) -> list[Message]:
    """Old-town for 10 simulated minutes with a command and an injection at fixed instants."""
    out: list[Message] = []
    simulation = Simulation(load_city("old-town"), "lab", 5, speed, publish_batch=out.extend, epoch=EPOCH)
    simulation.inject({"type": "power_cut", "start": 120, "duration": 120, "district": "old-town"})
    simulation.run(300)
    simulation.handle_command("ot-lamp-0003", build_command({"dim": 40}))
    simulation.handle_command("tc-north-gate", build_command({"cycle": 100, "split": 0.7}))
    simulation.run(600)
    return out


def test_same_city_seed_and_commands_give_the_same_bytes_fast_and_in_real_time() -> None:
    fast = scripted(0)
    assert scripted(0) == fast
    # 600 simulated seconds at x6000: a tenth of a wall second in real-time mode.
    assert scripted(6000) == fast
    other = []
    Simulation(load_city("old-town"), "lab", 6, 0, publish_batch=other.extend, epoch=EPOCH).run(600)
    assert other != fast


# --- actuators ----------------------------------------------------------------------


def test_traffic_signal_obeys_its_plan_and_refuses_bad_commands_keeping_its_state(
        caplog: pytest.LogCaptureFixture) -> None:
    city = city_of({"id": "tc-1", "type": "traffic", "interval": 30, "cycle": 60, "split": 0.5})
    out: list[Message] = []
    simulation = Simulation(city, "lab", 1, 0, publish_batch=out.extend, epoch=EPOCH)
    simulation.run(600)
    simulation.handle_command("tc-1", build_command({"cycle": 120, "split": 0.8}))
    with caplog.at_level(logging.WARNING, logger="citylab.simulator"):
        simulation.handle_command("tc-1", build_command({"cycle": 500}))
        simulation.handle_command("tc-1", build_command({"offset": 3}))
        simulation.run(1200)
    states = [{r.name: r.value for r in validate_message(t, p).readings} for t, p, _ in out if t.endswith("/state")]
    assert states[0] == {"cycle": 60.0, "split": 0.5}
    assert states[1] == {"cycle": 120.0, "split": 0.8}
    assert states[2]["cycle"] == 120.0 and "'cycle' is 500, outside 30 to 180" in states[2]["error"]
    assert states[3]["split"] == 0.8 and "no setting 'offset'" in states[3]["error"]
    assert simulation.kpis()["rejected_commands"] == 2
    assert "tc-1" in caplog.text
    assert sum(v for _, v in values(out, "tc-1", "vehicles")) > 50


def test_a_longer_green_for_the_main_road_shortens_its_queue() -> None:
    def delay(split: float) -> float:
        city = city_of({"id": "tc-1", "type": "traffic", "interval": 60, "main_per_hour": 600,
                        "side_per_hour": 200, "split": split, "follows_clock": False})
        simulation = Simulation(city, "lab", 1, 0, publish_batch=lambda b: None, epoch=EPOCH)
        simulation.run(4 * 3600)
        return simulation.kpis()["devices"]["tc-1"]["mean_delay_main_s"]

    assert delay(0.75) < 0.7 * delay(0.45)


# --- networks -----------------------------------------------------------------------


def test_lora_time_on_air_matches_semtech_figures() -> None:
    # The Semtech calculator: 51 bytes at SF12/125 kHz 2465.8 ms, at SF7 102.7 ms.
    assert lora_time_on_air(51, 12) == pytest.approx(2.4658, abs=1e-3)
    assert lora_time_on_air(51, 7) == pytest.approx(0.10266, abs=1e-4)
    assert lora_time_on_air(13, 7) < lora_time_on_air(13, 9) < lora_time_on_air(13, 12)


def test_lora_duty_cycle_drops_or_holds_readings_and_says_so() -> None:
    # A 4-value parking node on SF12 every 60 s: ~1.5 s on air needs ~150 s of silence.
    node = {"type": "parking", "interval": 60, "network": "lora-sf12"}
    city = city_of({**node, "id": "pk-drop"}, {**node, "id": "pk-wait", "duty_cycle": "wait"},
                   {**node, "id": "pk-wifi", "network": "wifi"})
    out: list[Message] = []
    simulation = Simulation(city, "lab", 1, 0, publish_batch=out.extend, epoch=EPOCH)
    simulation.run(3600)
    devices = simulation.kpis()["devices"]
    dropped = devices["pk-drop"]["network"]
    assert dropped["duty_cycle_dropped"] >= 30 and dropped["sent"] <= 30
    assert dropped["airtime_s"] / 3600 <= 0.0101  # the 1 % is kept
    assert devices["pk-wait"]["network"]["duty_cycle_waited"] > 0
    assert "duty_cycle_dropped" not in devices["pk-wifi"]["network"]
    telemetry = [t for t, _, _ in out if t.endswith("pk-drop/telemetry")]
    assert len(telemetry) <= 30
    # A held reading still carries its measurement time, and arrives later than it.
    assert len([t for t, _, _ in out if t.endswith("pk-wifi/telemetry")]) >= 55


def test_network_outage_and_loss_lose_messages_that_the_kpis_count() -> None:
    city = city_of({"id": "aq-1", "type": "air_quality", "interval": 10, "network": "nbiot"},
                   events=[{"type": "network_outage", "start": 600, "duration": 600}])
    out = []
    simulation = Simulation(city, "lab", 1, 0, publish_batch=out.extend, epoch=EPOCH)
    simulation.run(3600)
    net = simulation.kpis()["devices"]["aq-1"]["network"]
    times = [t - EPOCH.timestamp() for t, _ in values(out, "aq-1", "pm2_5")]
    assert not [t for t in times if 600 <= t < 1200]
    assert net["outage_lost"] == 60
    assert len(times) == net["sent"] - net["lost"] - net["outage_lost"] - (1 if net["sent"] > len(times) + net["lost"] + net["outage_lost"] else 0)


# --- sensors ------------------------------------------------------------------------


def test_sensor_imperfections_from_the_table() -> None:
    base = {"type": "weather", "interval": 60, "cloudiness": 0.3}
    # The physics and the sensors draw from separate generators: the same device
    # with and without a bias sees the same weather and the same noise.
    good = dict(values(run(city_of({**base, "id": "wx-1"}), 6 * 3600), "wx-1", "temperature"))
    biased = dict(values(run(city_of({**base, "id": "wx-1", "sensor": {"bias": 0.05, "drift": 0.01}}), 6 * 3600),
                         "wx-1", "temperature"))
    # 5 % of the 100 Cel range is +5 Cel; the drift adds 1 Cel a day on top.
    shifts = [biased[t] - good[t] - (t - EPOCH.timestamp()) / 86_400 for t in good]
    assert all(s == pytest.approx(5.0, abs=0.011) for s in shifts)
    city = city_of({**base, "id": "wx-stuck", "sensor": {"stuck": True}},
                   {**base, "id": "wx-drop", "sensor": {"dropout": 0.3}},
                   {**base, "id": "wx-spiky", "sensor": {"outlier": 0.2}},
                   {**base, "id": "wx-battery", "sensor": {"battery_mah": 1.0, "tx_mah": 0.05}})
    out = run(city, 6 * 3600)
    assert len({v for _, v in values(out, "wx-stuck", "temperature")}) == 1
    assert 0.6 * 360 <= len(values(out, "wx-drop", "temperature")) <= 0.8 * 360
    spiky = [v for _, v in values(out, "wx-spiky", "humidity")]
    assert any(abs(a - b) > 30 for a, b in zip(spiky, spiky[1:]))
    battery = values(out, "wx-battery", "battery")
    assert len(battery) == 20  # 1 mAh at 0.05 mAh a message, then silence
    assert battery[0][1] == pytest.approx(95.0) and battery[-1][1] == pytest.approx(0.0)


# --- scenarios ----------------------------------------------------------------------


def test_scheduled_events_move_the_city() -> None:
    city = city_of({"id": "aq-1", "type": "air_quality", "traffic": 0.5},
                   {"id": "lamp-1", "type": "streetlight"},
                   {"id": "meter-1", "type": "energy_meter"},
                   {"id": "noise-1", "type": "noise"},
                   {"id": "wx-1", "type": "weather", "district": "hill"},
                   events=[{"type": "pollution_episode", "start": 3600, "duration": 3600, "intensity": 4},
                           {"type": "power_cut", "start": 7200, "duration": 1800, "district": "lab"},
                           {"type": "stadium", "start": 10800, "duration": 1800},
                           {"type": "sensor_failure", "start": 0, "duration": 3600, "devices": ["wx-1"],
                            "mode": "dead"}])
    out = run(city, 4 * 3600)
    start = EPOCH.timestamp()

    def mean(device: str, name: str, a: float, b: float) -> float:
        points = [v for t, v in values(out, device, name) if a <= t - start < b]
        return sum(points) / len(points)

    assert mean("aq-1", "pm2_5", 3600, 7200) > 2.5 * mean("aq-1", "pm2_5", 0, 3600)
    assert mean("lamp-1", "power", 7200, 9000) == 0
    assert mean("lamp-1", "power", 9000, 10800) > 50
    assert not [t for t, _ in values(out, "meter-1", "power") if 7200 <= t - start < 9000]  # mains gone: silent
    assert mean("noise-1", "noise", 10800, 12600) > mean("noise-1", "noise", 9000, 10800) + 5
    assert min(t for t, _ in values(out, "wx-1", "temperature")) - start >= 3600


def test_injection_through_the_control_topic_of_a_real_broker(embedded_broker: BrokerAddress) -> None:
    service = SimulatorService(embedded_broker, city_of({"id": "aq-1", "type": "air_quality", "interval": 5}),
                               site="lab", seed=1, speed=600)
    service.start()
    try:
        client = mqtt.make_client("test")
        mqtt.connect(client, embedded_broker)
        mqtt.wait_connected(client, embedded_broker)
        # What `citylab sim inject` sends (the event itself), the wrapped form, and nonsense.
        client.publish("citylab/lab/sim/cmd", json.dumps({"type": "pollution_episode", "duration": 900}), qos=1)
        client.publish("citylab/lab/sim/cmd", b'{"inject": {"type": "earthquake"}}', qos=1)
        client.publish("citylab/lab/sim/cmd", json.dumps({"inject": {"type": "stadium", "delay": 60}}), qos=1)
        deadline = time.monotonic() + 5
        while len(service.simulation.world.events) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        mqtt.stop(client)
    finally:
        service.stop()
    events = service.simulation.world.events
    assert [e.type for e in events] == ["pollution_episode", "stadium"]
    assert events[1].start > events[0].start  # "delay": a minute after it arrived
    assert service.error is None


# --- the city file ----------------------------------------------------------------------


GOOD = {"id": "pk-1", "type": "parking", "district": "lab", "x": 0, "y": 0, "interval": 60}


@pytest.mark.parametrize(("data", "expected"), [
    ({"generate": [{"type": "robot", "count": 3, "district": "lab", "x": [0, 1], "y": [0, 1], "interval": 5}]},
     "generate[0].type 'robot' is not one of"),
    ({"devices": [{**GOOD, "arrivals_per_hour": -4}]}, "devices[0].arrivals_per_hour is -4, below the minimum of 0"),
    ({"devices": [{**GOOD, "x": 25_000}]}, "devices[0].x puts the device 25.0 km from the centre, outside the map"),
    ({"devices": [GOOD], "generate": [{"type": "parking", "count": 2, "prefix": "pk-", "district": "lab",
                                       "x": [0, 1], "y": [0, 1], "interval": 5}]}, None),
    ({"devices": [{**GOOD, "id": "pk-0001"}], "generate": [{"type": "parking", "count": 2, "prefix": "pk-",
                                                            "district": "lab", "x": [0, 1], "y": [0, 1],
                                                            "interval": 5}]},
     "generate[0].id 'pk-0001' is already used by devices[0]"),
    ({"devices": [{**GOOD, "network": "5g"}]}, "devices[0].network '5g' is not one of ideal"),
    ({"devices": [{**GOOD, "sensor": {"noise": 2, "jitter": 1}}]}, "devices[0].sensor.jitter is not a field of a sensor"),
    ({"devices": [{**GOOD, "sensor": {"dropout": 1.5}}]}, "devices[0].sensor.dropout is 1.5, above the maximum of 1"),
    ({"devices": [GOOD], "events": [{"type": "flood", "start": 0}]}, "events[0].type 'flood' is not one of"),
    ({"devices": [GOOD], "events": [{"type": "power_cut", "start": 0, "district": "moon"}]},
     "events[0].district 'moon' is not a district of the city"),
    ({"devices": [GOOD], "generate": [{"type": "parking", "count": 2, "district": "lab", "x": [5, 1],
                                       "y": [0, 1], "interval": 5}]}, "generate[0].x range [5, 1]"),
    ({"devices": [{**GOOD, "id": "sim"}]}, "devices[0].id 'sim' is reserved"),
])
def test_broken_city_files_name_the_file_the_field_and_the_reason(tmp_path: Path, data: dict,
                                                                    expected: str | None) -> None:
    from citylab.errors import ConfigError

    if expected is None:  # the well-formed case loads
        assert len(parse_city({**HEADER, **data}, "city.toml").devices) == 3
        return
    with pytest.raises(ConfigError) as caught:
        parse_city({**HEADER, **data}, "city.toml")
    assert str(caught.value).startswith("city.toml: ")
    assert expected in str(caught.value)


# --- ground truth and export ---------------------------------------------------------


def test_export_writes_every_message_and_the_ground_truth(tmp_path: Path) -> None:
    city = load_city("default")
    kpis = export_run(city, tmp_path / "run.jsonl", 1800, site="lab", seed=2, epoch=EPOCH)
    header, messages, stored = read_run(tmp_path / "run.jsonl")
    assert header["devices"] == len(city.devices) and header["seed"] == 2
    assert len(messages) == kpis["messages"] == stored["messages"]
    for item in messages[:500]:
        validate_message(item["topic"], json.dumps(item["payload"], separators=(",", ":")).encode())
    devices = stored["devices"]
    assert devices["lamp-01"]["energy_wh"] == pytest.approx(150.5 * 0.5, rel=0.01)
    assert devices["tc-egnatia"]["mean_delay_s"] > 0 and devices["tc-egnatia"]["arrivals_main"] > 0
    assert devices["park-seafront"]["arrivals"] >= devices["park-seafront"]["turned_away"] >= 0
    assert devices["aq-egnatia"]["no2_exposure_ugh"] > 0
    assert stored["totals"]["streetlight_energy_wh"] > 0


def test_stuck_failure_freezes_and_rush_hour_fills_the_queues() -> None:
    city = city_of({"id": "wx-1", "type": "weather"},
                   {"id": "tc-1", "type": "traffic", "follows_clock": True, "interval": 60},
                   events=[{"type": "sensor_failure", "start": 3600, "duration": 3600, "devices": ["wx-1"],
                            "mode": "stuck"},
                           {"type": "rush_hour", "start": 7200, "duration": 3600, "intensity": 3}])
    out = run(city, 3 * 3600, epoch=datetime.fromisoformat("2025-03-16T12:00:00+02:00"))  # a quiet Sunday noon
    start = datetime.fromisoformat("2025-03-16T12:00:00+02:00").timestamp()
    during = {v for t, v in values(out, "wx-1", "temperature") if 3600 < t - start < 7200}
    after = {v for t, v in values(out, "wx-1", "temperature") if t - start >= 7200}
    assert len(during) == 1 and len(after) > 10

    def passed(a: float, b: float) -> float:
        return sum(v for t, v in values(out, "tc-1", "vehicles") if a <= t - start < b)

    assert passed(7260, 10800) > 2 * passed(3660, 7200)


def citylab_cli(*args: str, tmp_path: Path) -> "subprocess.CompletedProcess[str]":
    import os
    import subprocess
    import sys

    env = {**os.environ, "CITYLAB_DATA": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "citylab.cli", *args], env=env, capture_output=True, text=True,
                          timeout=60)


def test_sim_export_and_inject_on_the_command_line(tmp_path: Path, embedded_broker: BrokerAddress) -> None:
    result = citylab_cli("sim", "export", "--city", "old-town", "--hours", "0.25", "--seed", "3",
                         "--out", str(tmp_path / "run.jsonl"), "--kpis", str(tmp_path / "kpis.json"), tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    header, messages, kpis = read_run(tmp_path / "run.jsonl")
    assert header["seed"] == 3 and len(messages) == kpis["messages"] > 500
    assert json.loads((tmp_path / "kpis.json").read_text())["devices"]["tc-north-gate"]["arrivals_main"] > 0

    bad = citylab_cli("sim", "inject", "flood", "--broker", embedded_broker.url, tmp_path=tmp_path)
    assert bad.returncode != 0 and "invalid choice: 'flood'" in bad.stderr

    service = SimulatorService(embedded_broker, "old-town", site="lab", seed=1, speed=60)
    service.start()
    try:
        result = citylab_cli("sim", "inject", "power_cut", "--district", "old-town", "--duration", "300",
                             "--broker", embedded_broker.url, "--site", "lab", tmp_path=tmp_path)
        assert result.returncode == 0, result.stderr
        deadline = time.monotonic() + 5
        while not service.simulation.world.events[2:] and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        service.stop()
    injected = service.simulation.world.events[2:]  # after the city file's two scheduled events
    assert [(e.type, e.district, e.duration) for e in injected] == [("power_cut", "old-town", 300.0)]


def test_bulk_publishing_to_mosquitto_delivers_everything_at_qos_1(mosquitto: BrokerAddress) -> None:
    heard: list[tuple[str, bytes, bool]] = []
    listener = mqtt.make_client("test")
    listener.on_message = lambda c, u, m: heard.append((m.topic, bytes(m.payload), bool(m.retain)))
    mqtt.connect(listener, mosquitto)
    mqtt.wait_connected(listener, mosquitto)
    listener.subscribe("citylab/bulk/#", qos=1)
    time.sleep(0.3)
    service = SimulatorService(mosquitto, "old-town", site="bulk", seed=1, speed=3000, bulk=True)
    service.start()
    try:
        time.sleep(1.0)
    finally:
        service.stop()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len([m for m in heard if not m[0].endswith("/status")]) < service.published:
        time.sleep(0.05)
    mqtt.stop(listener)
    data = [m for m in heard if not m[0].endswith("/status")]
    assert service.error is None and service.published > 1000
    # QoS 1 end to end: every message the simulator published reached the subscriber.
    assert len(data) == service.published
    for topic_text, payload, _ in data[::50]:
        validate_message(topic_text, payload)


def test_bulk_publisher_without_a_broker_says_so() -> None:
    from citylab.broker import free_port
    from citylab.errors import BrokerError
    from simulator.bulk_mqtt import BulkPublisher

    with pytest.raises(BrokerError, match="cannot reach the MQTT broker"):
        BulkPublisher("127.0.0.1", free_port(), "nobody")
