"""The simulator: city files, device physics, the engine's clock and seed, and the MQTT service.

Real parts only: runs go through the real engine and the contract's validator,
and the service test goes through an embedded amqtt broker on a free port.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import paho.mqtt.client as paho
import pytest

from citylab import mqtt
from citylab.broker import EmbeddedBroker, free_port
from citylab.contract import build_command, validate_message
from citylab.errors import BrokerError, ConfigError
from citylab.mqtt import BrokerAddress
from simulator import City, Simulation, SimulatorService, load_city
from simulator.city import parse_city
from simulator.sun import solar_elevation

ATHENS_MIDSUMMER = datetime.fromisoformat("2024-06-21T00:00:00+03:00")
DAY = 86_400

Message = tuple[str, bytes, bool]


def run(city: City, until: float, *, seed: int = 1, epoch: datetime | None = ATHENS_MIDSUMMER) -> list[Message]:
    """Everything a city publishes as fast as possible up to simulated second ``until``."""
    out: list[Message] = []
    Simulation(city, "demo", seed, 0, lambda t, p, r: out.append((t, p, r)), epoch=epoch).run(until)
    return out


@functools.lru_cache(maxsize=1)
def default_day() -> tuple[Message, ...]:
    """The default city's first day from midsummer midnight, seed 1: run once, read by several tests."""
    return tuple(run(load_city("default"), DAY))


def series(messages: "list[Message] | tuple[Message, ...]", device: str, name: str, channel: str = "telemetry") -> list[tuple[float, object]]:
    """(Unix time, value) of one quantity of one device, read back through the contract."""
    found = []
    for topic_text, payload, _ in messages:
        if topic_text == f"citylab/demo/{device}/{channel}":
            for reading in validate_message(topic_text, payload).readings:
                if reading.name == name:
                    found.append((reading.time, reading.value))
    return found


def at(points: list[tuple[float, object]], when: datetime) -> object:
    wanted = when.timestamp()
    return next(value for t, value in points if abs(t - wanted) < 1e-6)


def one_device_city(device_toml: str, latitude: float = 40.64) -> City:
    text = f'name = "Test"\nlatitude = {latitude}\nlongitude = 22.94\ntimezone = "Europe/Athens"\n'
    text += '[[devices]]\ndistrict = "centre"\nx = 0\ny = 0\n' + device_toml
    import tomllib

    return parse_city(tomllib.loads(text), "test.toml")


# --- the city file --------------------------------------------------------------


def test_default_city_is_small_mixed_and_lively() -> None:
    city = load_city("default")
    kinds = [d.type for d in city.devices]
    assert 12 <= len(kinds) <= 20
    assert kinds.count("weather") == 2
    assert 3 <= kinds.count("air_quality") <= 4
    assert 4 <= kinds.count("streetlight") <= 6
    # Every device type of the simulator is on show in the city `citylab up` runs.
    assert set(kinds) == {"weather", "air_quality", "streetlight", "noise", "traffic", "parking", "waste_bin",
                          "energy_meter"}
    # A trainee watching the dashboard sees every device move within 15 s.
    assert all(5 <= d.interval <= 15 for d in city.devices)
    assert 2 <= len(city.districts) <= 3
    # x/y are metres from the centre: every device lies within 2 km of it.
    for device in city.devices:
        assert abs(device.latitude - city.latitude) < 0.02 and abs(device.longitude - city.longitude) < 0.03


GOOD_DEVICE = 'id = "lamp-01"\ntype = "streetlight"\ndistrict = "centre"\nx = 0\ny = 0\ninterval = 30\n'
HEADER = 'name = "Broken"\nlatitude = 40.6\nlongitude = 22.9\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(HEADER + 'epoch = \n[[devices]]\n', ["broken.toml", "not valid TOML", "line 4"], id="bad-toml"),
        pytest.param(
            HEADER + "[[devices]]\n" + GOOD_DEVICE + "[[devices]]\n" + GOOD_DEVICE.replace('"streetlight"', '"lamp"').replace("lamp-01", "lamp-02"),
            ["broken.toml", "devices[1].type 'lamp' is not one of weather, air_quality, streetlight, noise, traffic"],
            id="unknown-type",
        ),
        pytest.param(
            HEADER + "[[devices]]\n" + GOOD_DEVICE + "[[devices]]\n" + GOOD_DEVICE,
            ["broken.toml", "devices[1].id 'lamp-01' is already used by devices[0]"],
            id="duplicate-id",
        ),
        pytest.param(
            HEADER + "[[devices]]\n" + GOOD_DEVICE.replace("interval = 30\n", ""),
            ["broken.toml", "devices[0].interval is missing"],
            id="missing-interval",
        ),
        pytest.param(
            HEADER.replace("latitude = 40.6\n", "") + "[[devices]]\n" + GOOD_DEVICE,
            ["broken.toml", "latitude is missing"],
            id="missing-latitude",
        ),
        pytest.param(
            HEADER + "[[devices]]\n" + GOOD_DEVICE.replace("lamp-01", "Lamp_01"),
            ["broken.toml", "devices[0].id 'Lamp_01' is not a valid device id"],
            id="bad-id",
        ),
        pytest.param(
            HEADER + "[[devices]]\n" + GOOD_DEVICE + "rated_power = 120\n",
            ["broken.toml", "devices[0].rated_power is not a field", "did you mean 'rated_power_w'"],
            id="misspelt-parameter",
        ),
        pytest.param(
            HEADER + "[[devices]]\n" + GOOD_DEVICE + "rated_power_w = -5\n",
            ["broken.toml", "devices[0].rated_power_w is -5"],
            id="parameter-out-of-range",
        ),
    ],
)
def test_broken_city_file_says_file_field_and_reason(tmp_path: Path, text: str, expected: list[str]) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_city(path)
    for part in expected:
        assert part in str(caught.value)


def test_unknown_city_name_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="no city named 'atlantis'.*default"):
        load_city("atlantis")


# --- the run: contract, seed, clock ------------------------------------------------


def test_every_message_of_a_day_follows_the_contract() -> None:
    city = load_city("default")
    messages = default_day()
    start = ATHENS_MIDSUMMER.timestamp()
    telemetry_from = set()
    for topic_text, payload, retain in messages:
        message = validate_message(topic_text, payload)
        # Only an actuator's state is retained; a retained reading would be replayed as new.
        assert retain == (message.topic.channel == "state"), topic_text
        assert all(start <= r.time < start + DAY for r in message.readings)
        for reading in message.readings:
            if reading.unit == "ug/m3":
                assert reading.value >= 0, (topic_text, reading)
        if message.topic.channel == "telemetry":
            telemetry_from.add(message.topic.device)
    assert telemetry_from == {d.id for d in city.devices}
    # A reading every `interval` seconds: a 30 s lamp would give 2880 readings a day.
    lamp = next(d for d in city.devices if d.id == "lamp-01")
    assert len(series(messages, "lamp-01", "power")) == DAY // lamp.interval


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    city = load_city("default")
    first = run(city, 6 * 3600, seed=7)
    assert run(city, 6 * 3600, seed=7) == first
    assert run(city, 6 * 3600, seed=8) != first


# sha256 of everything the default city publishes in its first simulated hour, seed 1,
# from midsummer midnight. If you changed a model on purpose, replace it with the new
# digest the failure prints; if you did not, you made the simulator unreproducible.
GOLDEN_HOUR = "664223055294cd8dd756acb3974a7795fc125a68e17c9368588d548ce5fda384"  # + traffic per-approach counts


def test_seeded_run_matches_the_stored_output() -> None:
    digest = hashlib.sha256()
    for topic_text, payload, retain in run(load_city("default"), 3600, seed=1):
        digest.update(f"{topic_text} {retain} ".encode() + payload + b"\n")
    assert digest.hexdigest() == GOLDEN_HOUR


def test_a_device_numbers_do_not_depend_on_the_other_devices() -> None:
    alone = one_device_city('id = "wx-1"\ntype = "weather"\ninterval = 60\n')
    crowded = parse_city(
        {**_as_dict(alone), "devices": [
            {"id": "aq-0", "type": "air_quality", "district": "centre", "x": 0, "y": 0, "interval": 45},
            *_as_dict(alone)["devices"],
        ]},
        "crowded.toml",
    )
    assert series(run(alone, 3600), "wx-1", "temperature") == series(run(crowded, 3600), "wx-1", "temperature")


def _as_dict(city: City) -> dict:
    return {
        "name": city.name, "latitude": city.latitude, "longitude": city.longitude, "timezone": city.timezone,
        "devices": [
            {"id": d.id, "type": d.type, "district": d.district, "lat": d.latitude, "lon": d.longitude,
             "interval": d.interval, **d.params}
            for d in city.devices
        ],
    }


def run_in_thread(simulation: Simulation, wall_seconds: float) -> float:
    """Run in real time for a while, then stop; how long the stop took, in wall seconds."""
    stop = threading.Event()
    thread = threading.Thread(target=simulation.run, kwargs={"stop": stop})
    thread.start()
    time.sleep(wall_seconds)
    stop.set()
    stopped = time.monotonic()
    thread.join(3)
    assert not thread.is_alive()
    return time.monotonic() - stopped


def test_realtime_run_keeps_pace() -> None:
    out: list[Message] = []
    city = load_city("default")
    interval = next(d for d in city.devices if d.id == "lamp-01").interval
    run_in_thread(Simulation(city, "demo", 1, 600, lambda t, p, r: out.append((t, p, r))), 0.5)
    # 0.5 s at 600x is 300 simulated seconds: 300 / interval readings (+1 at t=0), not a day's worth.
    expected = 300 / interval + 1
    assert 0.4 * expected <= len(series(out, "lamp-01", "power")) <= 1.2 * expected


def test_realtime_run_stops_quickly_between_sparse_readings() -> None:
    # At 1x the next reading is 30 s away: the stop must not wait for it.
    simulation = Simulation(load_city("default"), "demo", 1, 1, lambda t, p, r: None)
    assert run_in_thread(simulation, 0.3) < 0.25


# --- physics -------------------------------------------------------------------


def test_solstice_sun_culminates_at_the_textbook_height_and_time() -> None:
    day = datetime(2024, 6, 21, tzinfo=timezone.utc).timestamp()
    elevations = [(solar_elevation(day + m * 60, 40.64, 22.94), m) for m in range(24 * 60)]
    highest, minute = max(elevations)
    # 90 - latitude + the tilt of the Earth's axis (23.44 degrees).
    assert highest == pytest.approx(90 - 40.64 + 23.44, abs=0.3)
    # Noon at 22.94 E is 92 minutes before 12:00 UTC, plus ~2 minutes of the equation of time.
    assert minute == pytest.approx(10 * 60 + 30, abs=5)


def test_daylight_is_zero_at_midnight_and_bright_at_noon() -> None:
    light = series(default_day(), "wx-centre", "illuminance")
    assert at(light, ATHENS_MIDSUMMER) == 0
    assert at(light, ATHENS_MIDSUMMER.replace(hour=12)) > 10_000


def test_noon_is_brighter_in_june_than_in_december() -> None:
    # A clear sky, so clouds cannot decide the comparison.
    city = one_device_city('id = "wx-1"\ntype = "weather"\ninterval = 60\ncloudiness = 0\n')
    june = datetime.fromisoformat("2024-06-21T12:00:00+03:00")
    december = datetime.fromisoformat("2024-12-21T12:00:00+02:00")
    june_lx = series(run(city, 1, epoch=june), "wx-1", "illuminance")[0][1]
    december_lx = series(run(city, 1, epoch=december), "wx-1", "illuminance")[0][1]
    assert june_lx > 1.5 * december_lx > 0


def test_temperature_is_lowest_near_dawn_and_highest_in_the_afternoon() -> None:
    city = one_device_city('id = "wx-1"\ntype = "weather"\ninterval = 600\ntemp_daily_range = 12\n')
    temperature = series(run(city, DAY), "wx-1", "temperature")
    coldest = min(temperature, key=lambda point: point[1])[0]
    warmest = max(temperature, key=lambda point: point[1])[0]
    # Local summer time is solar time + ~1.5 h: dawn ~07:00, mid-afternoon ~16:30.
    assert 4 <= datetime.fromtimestamp(coldest, ATHENS_MIDSUMMER.tzinfo).hour <= 9
    assert 13 <= datetime.fromtimestamp(warmest, ATHENS_MIDSUMMER.tzinfo).hour <= 19


def test_traffic_pollution_peaks_at_rush_hour_and_ozone_in_the_afternoon() -> None:
    messages = default_day()  # Friday 21 June 2024, a weekday
    no2 = series(messages, "aq-egnatia", "no2")
    o3 = series(messages, "aq-egnatia", "o3")
    assert at(no2, ATHENS_MIDSUMMER.replace(hour=8)) > 2 * at(no2, ATHENS_MIDSUMMER.replace(hour=3))
    assert at(o3, ATHENS_MIDSUMMER.replace(hour=15)) > 1.5 * at(o3, ATHENS_MIDSUMMER.replace(hour=3))


# --- the streetlight actuator -----------------------------------------------------


def test_streetlight_obeys_dim_and_off_and_refuses_bad_commands(caplog: pytest.LogCaptureFixture) -> None:
    city = one_device_city('id = "lamp-1"\ntype = "streetlight"\ninterval = 60\nrated_power_w = 200\n')
    out: list[Message] = []
    simulation = Simulation(city, "demo", 1, 0, lambda t, p, r: out.append((t, p, r)), epoch=ATHENS_MIDSUMMER)
    start = ATHENS_MIDSUMMER.timestamp()
    simulation.run(600)
    simulation.handle_command("lamp-1", build_command({"dim": 50}))
    simulation.run(1200)
    with caplog.at_level(logging.WARNING, logger="citylab.simulator"):
        for bad in (b'{"set": {"dim": 150}}', b'{"set": {"brightness": 3}}', b"dim please", b'{"set": {"on": "yes"}}'):
            simulation.handle_command("lamp-1", bad)
        simulation.handle_command("lamp-1", build_command({"dim": 50}))  # no change, so no new state
        simulation.run(1800)
    simulation.handle_command("lamp-1", build_command({"on": False}))
    simulation.run(2400)

    power = dict(series(out, "lamp-1", "power"))
    standby = 0.5
    assert power[start + 540] == pytest.approx(200 + standby)
    assert power[start + 600] - standby == pytest.approx((power[start + 540] - standby) / 2)
    assert power[start + 1740] == pytest.approx(100 + standby)
    assert power[start + 2340] == pytest.approx(standby)

    energy = [value for _, value in series(out, "lamp-1", "energy")]
    assert all(later > earlier for earlier, later in zip(energy, energy[1:]))
    energy_at = dict(series(out, "lamp-1", "energy"))
    # The command came between the readings at 540 and 600: that minute was still at full power.
    assert energy_at[start + 600] == pytest.approx(200.5 * 600 / 3600, abs=1e-3)
    # Power times time, exactly: 10 minutes at 100.5 W between two half-power readings.
    assert energy_at[start + 1200] - energy_at[start + 600] == pytest.approx(100.5 * 600 / 3600, abs=1e-3)

    states = [(t, p, r) for t, p, r in out if t.endswith("/state")]
    assert all(retain for _, _, retain in states)
    # At start, after dim 50, four refusals (the state kept, with the reason), and after off;
    # the repeated dim 50 changed nothing, so it published nothing.
    seen = [dict((r.name, r.value) for r in validate_message(t, p).readings) for t, p, _ in states]
    assert [{k: v for k, v in state.items() if k != "error"} for state in seen] == [
        {"dim": 100.0, "on": True}, *[{"dim": 50.0, "on": True}] * 5, {"dim": 50.0, "on": False},
    ]
    errors = [state.get("error") for state in seen]
    assert errors[0] is None and errors[1] is None and errors[-1] is None
    assert "'dim' is 150, outside 0 to 100" in errors[2]
    assert "no setting 'brightness'" in errors[3]
    assert "'on' must be true or false" in errors[5]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 4 and all("lamp-1" in w for w in warnings)
    assert any("'dim' is 150" in w for w in warnings)


def test_command_for_a_sensor_or_a_stranger_is_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    out: list[Message] = []
    simulation = Simulation(load_city("default"), "demo", 1, 0, lambda t, p, r: out.append((t, p, r)),
                            epoch=ATHENS_MIDSUMMER)
    simulation.handle_command("wx-centre", build_command({"dim": 10}))
    simulation.handle_command("lamp-99", build_command({"dim": 10}))
    with caplog.at_level(logging.WARNING, logger="citylab.simulator"):
        simulation.run(120)
    text = caplog.text
    assert "wx-centre ignored: a weather device obeys no commands" in text
    assert "'lamp-99' ignored: the city has no device" in text
    assert series(out, "wx-centre", "temperature")  # still running


# --- through a broker ---------------------------------------------------------------


class Listener:
    """A paho subscriber that keeps (topic, payload, retain) of everything it hears."""

    def __init__(self, broker: BrokerAddress, pattern: str) -> None:
        self.messages: list[Message] = []
        self._lock = threading.Lock()
        self.client = mqtt.make_client("test")
        self.client.on_message = self._on_message
        mqtt.connect(self.client, broker)
        mqtt.wait_connected(self.client, broker)
        self.client.subscribe(pattern, qos=1)

    def _on_message(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload), bool(message.retain)))

    def wait_for(self, check: Callable[[Message], bool], timeout: float = 5.0) -> Message:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for message in self.messages:
                    if check(message):
                        return message
            time.sleep(0.02)
        raise AssertionError(f"no matching message within {timeout} s; heard {len(self.messages)}")

    def close(self) -> None:
        mqtt.stop(self.client)


def _state(message: Message) -> dict:
    return {r.name: r.value for r in validate_message(message[0], message[1]).readings}


def test_service_on_a_real_broker_publishes_obeys_and_says_goodbye() -> None:
    with EmbeddedBroker("127.0.0.1", free_port()) as broker:
        # A command-shaped payload left retained on a state topic and on another site's cmd:
        # neither is this site's cmd, so neither may move a lamp (amqtt even replays them
        # to every newcomer whose filters match someone's subscription).
        bystander = Listener(broker.address, "citylab/#")
        bystander.client.publish("citylab/demo/lamp-01/state", build_command({"dim": 5}), qos=1, retain=True)
        bystander.client.publish("citylab/bob/lamp-01/cmd", build_command({"dim": 5}), qos=1, retain=True)
        bystander.wait_for(lambda m: m[0] == "citylab/bob/lamp-01/cmd")
        service = SimulatorService(broker.address, "default", site="demo", seed=3, speed=600)
        service.start()
        try:
            # start() returns once the broker holds the statuses: a newcomer gets them retained.
            listener = Listener(broker.address, "citylab/demo/#")
            for device in service.city.devices:
                listener.wait_for(lambda m, d=device.id: m == (f"citylab/demo/{d}/status", b"online", True))
            telemetry = listener.wait_for(lambda m: m[0] == "citylab/demo/aq-egnatia/telemetry")
            assert {r.name for r in validate_message(telemetry[0], telemetry[1]).readings} == {"pm2_5", "pm10", "no2", "o3"}

            listener.client.publish("citylab/demo/lamp-02/cmd", build_command({"dim": 30}), qos=1)
            listener.wait_for(lambda m: m[0] == "citylab/demo/lamp-02/state" and _state(m)["dim"] == 30)
            latecomer = Listener(broker.address, "citylab/demo/lamp-02/state")
            retained = latecomer.wait_for(lambda m: m[0] == "citylab/demo/lamp-02/state" and m[2])
            assert _state(retained) == {"dim": 30.0, "on": True}
            latecomer.close()
            lamp_01 = listener.wait_for(lambda m: m[0] == "citylab/demo/lamp-01/telemetry")
            assert _state(lamp_01)["dim"] == 100.0
            for message in list(listener.messages):
                if message[0].startswith("citylab/demo/") and message[1] != build_command({"dim": 5}):
                    validate_message(message[0], message[1])  # everything but the bystander's junk
            listener.close()
        finally:
            began = time.monotonic()
            service.stop()
            stop_took = time.monotonic() - began
        assert stop_took < 2.0
        assert service.error is None and service.published > len(service.city.devices)
        after = Listener(broker.address, "citylab/demo/+/status")
        for device in service.city.devices:
            after.wait_for(lambda m, d=device.id: m == (f"citylab/demo/{d}/status", b"offline", True))
        after.close()
        bystander.close()


def test_service_without_a_broker_says_so_and_starts_nothing() -> None:
    service = SimulatorService(BrokerAddress("127.0.0.1", free_port()), "default", speed=60)
    with pytest.raises(BrokerError, match="cannot reach the MQTT broker"):
        service.start()
    assert not service.running and service.published == 0


def test_service_refuses_a_site_that_is_not_an_id_before_connecting() -> None:
    with pytest.raises(ConfigError, match="site 'Alice' is not a valid id"):
        SimulatorService(BrokerAddress("127.0.0.1", free_port()), "default", site="Alice")
