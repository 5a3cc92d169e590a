"""The simulated district over Modbus TCP, read and written through our adapter.

Values must equal the physics snapshot (scaled, within one register step); writes must drive the
physics, expire with the watchdog, and be refused with the right exception codes; every fault type
must behave as configured.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time

import pandas as pd
import pytest
from test_simulated_support import SIM_SPEED, Simulated, read_device, read_points

from connectors.codec import encode
from connectors.modbus_adapter import (
    ModbusConnection,
    ModbusConnectionError,
    ModbusExceptionResponse,
    ModbusTimeout,
)
from connectors.modbus_server import Action, Request
from connectors.registermap import DataType, Point, RegisterTable
from connectors.simulated import DeviceFaults, SimulatedDistrict
from connectors.simulated.faults import device_rng, request_hook
from energy.physics.readings import DistrictSnapshot
from energy.site import Site


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def step_of(point: Point, values: dict) -> float:
    """Half the resolution of a point's registers, in engineering units."""
    if point.dtype in (DataType.FLOAT32, DataType.FLOAT64):
        return 1e-3
    if point.scale_factor is not None:
        return 10.0 ** values[point.scale_factor] / 2
    return abs(point.scale) / 2


def wait_until(predicate, timeout_s: float = 10.0, every_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every_s)
    return False


def test_every_device_serves_the_physics_snapshot(healthy: Simulated):
    healthy.pause()
    snapshot = healthy.snapshot()
    compared = 0
    for served in healthy.district.devices:
        register_map = healthy.district.register_map(served.asset_id)
        values = read_device(healthy, served.asset_id)
        reading = snapshot.device(served.asset_id)
        fields = {f.name for f in dataclasses.fields(reading)}
        for point in register_map.points:
            q = point.quantity
            if q not in fields or q == "mode" or point.writable:
                continue
            expected = getattr(reading, q)
            if expected is None:
                continue
            served_value = values[point.name]
            tolerance = step_of(point, values) * abs(point.quantity_factor) + 1e-6
            assert served_value is not None, (served.asset_id, point.name)
            assert float(served_value) * point.quantity_factor == pytest.approx(
                float(expected), abs=tolerance, rel=1e-6
            ), (served.asset_id, point.name)
            compared += 1
    assert compared >= 60


def test_sunspec_devices_identify_the_asset(healthy: Simulated):
    values = read_device(healthy, "house-02.pv")
    assert values["SN"] == "house-02.pv"
    assert values["Mn"] == "Klimaviertel Sim"


def test_served_site_carries_the_actual_ports(simulated: Simulated):
    site = simulated.district.site
    for served in simulated.district.devices:
        endpoint = site.asset(served.asset_id).device
        assert endpoint is not None
        assert (endpoint.host, endpoint.port, endpoint.unit_id) == (
            served.host,
            served.port,
            served.unit_id,
        )
    assert len(simulated.district.devices) == len(list(site.devices())) == 30


async def write_point(conn: ModbusConnection, point: Point, value, sf: int | None = None):
    registers = encode(point, value, sf)
    if point.table is RegisterTable.COIL:
        await conn.write_coil(point.address, bool(value))
    else:
        await conn.write_registers(point.address, registers)


def test_battery_setpoint_drives_the_physics_and_expires_with_the_watchdog(healthy: Simulated):
    asset = "house-01.battery"
    m = healthy.district.register_map(asset)
    host, port, unit = healthy.endpoint(asset)
    watchdog_s = 30.0

    async def command():
        async with ModbusConnection(host, port, unit) as conn:
            await write_point(conn, m.point("watchdog_timeout_s"), watchdog_s)
            await write_point(conn, m.point("power_setpoint_w"), -9000)  # beyond the rating

    run(command())
    reading = healthy.snapshot().batteries[asset]
    assert str(reading.mode) == "remote"
    assert reading.setpoint_kw == pytest.approx(-5.0)  # clamped by the device to 5 kW
    assert wait_until(lambda: read_device(healthy, asset)["power_setpoint_w"] == -5000, 2)
    values = read_device(healthy, asset)
    assert values["control_mode"] == 1
    assert values["setpoint_min_w"] == -5000
    assert wait_until(lambda: healthy.snapshot().batteries[asset].power_kw < -4.0, 5)
    assert wait_until(lambda: str(healthy.snapshot().batteries[asset].mode) == "local", 10)
    assert healthy.snapshot().batteries[asset].setpoint_kw is None
    assert wait_until(lambda: read_device(healthy, asset)["control_mode"] == 0, 2)
    assert read_device(healthy, asset)["power_setpoint_w"] == 0


def test_heartbeat_keeps_the_setpoint_alive_and_mode_zero_releases(healthy: Simulated):
    asset = "house-02.battery"
    m = healthy.district.register_map(asset)
    host, port, unit = healthy.endpoint(asset)
    watchdog_s = 30.0

    async def scenario():
        async with ModbusConnection(host, port, unit) as conn:
            await write_point(conn, m.point("watchdog_timeout_s"), watchdog_s)
            await write_point(conn, m.point("power_setpoint_w"), 2000)
            # renew every eighth of the watchdog for one and a half watchdog periods
            for beat in range(12):
                await asyncio.sleep(watchdog_s / SIM_SPEED / 8)
                await write_point(conn, m.point("heartbeat"), beat)
            alive = healthy.snapshot().batteries[asset].setpoint_kw
            await write_point(conn, m.point("control_mode"), 0)
            return alive, healthy.snapshot().batteries[asset]

    alive, released = run(scenario())
    assert alive == pytest.approx(2.0)
    assert str(released.mode) == "local"


def test_battery_grid_target_drives_the_physics_and_mode_zero_releases(healthy: Simulated):
    asset = "house-03.battery"
    m = healthy.district.register_map(asset)
    host, port, unit = healthy.endpoint(asset)

    async def scenario():
        async with ModbusConnection(host, port, unit) as conn:
            await write_point(conn, m.point("grid_target_w"), -1500)
            targeted = healthy.snapshot().batteries[asset]
            await write_point(conn, m.point("power_setpoint_w"), 1000)
            replaced = healthy.snapshot().batteries[asset]
            await write_point(conn, m.point("grid_target_w"), 800)
            await write_point(conn, m.point("control_mode"), 0)
            return targeted, replaced, healthy.snapshot().batteries[asset]

    targeted, replaced, released = run(scenario())
    assert (str(targeted.mode), targeted.grid_target_kw) == ("remote", pytest.approx(-1.5))
    assert targeted.setpoint_kw is None
    assert (replaced.grid_target_kw, replaced.setpoint_kw) == (None, pytest.approx(1.0))
    assert (str(released.mode), released.grid_target_kw) == ("local", None)


def test_flow_battery_coil_releases_and_float_setpoint_works(healthy: Simulated):
    asset = "house-06.battery"  # a redox-flow home battery behind the flow battery map
    m = healthy.district.register_map(asset)
    host, port, unit = healthy.endpoint(asset)

    async def scenario():
        async with ModbusConnection(host, port, unit) as conn:
            await write_point(conn, m.point("power_setpoint_kw"), 2.5)
            remote = healthy.snapshot().batteries[asset]
            await conn.write_coil(m.point("remote_enable").address, False)
            return remote, healthy.snapshot().batteries[asset]

    remote, released = run(scenario())
    assert remote.setpoint_kw == pytest.approx(2.5)
    assert str(remote.mode) == "remote"
    assert str(released.mode) == "local"


def test_ev_charger_limit_is_followed_clamped_and_released(healthy: Simulated):
    asset = "carport-ev"
    m = healthy.district.register_map(asset)
    host, port, unit = healthy.endpoint(asset)
    rated_kw = healthy.snapshot().ev_chargers[asset].setpoint_kw

    async def scenario():
        async with ModbusConnection(host, port, unit) as conn:
            await write_point(conn, m.point("charge_limit_w"), 3700)
            limited = healthy.snapshot().ev_chargers[asset]
            values = await read_points(host, port, unit, m)
            await write_point(conn, m.point("charge_limit_w"), 40000)
            clamped = healthy.snapshot().ev_chargers[asset]
            await write_point(conn, m.point("control_mode"), 0)
            return limited, values, clamped, healthy.snapshot().ev_chargers[asset]

    limited, values, clamped, released = run(scenario())
    assert rated_kw is None
    assert limited.setpoint_kw == pytest.approx(3.7)
    assert str(limited.mode) == "remote"
    assert values["control_mode"] == 1
    assert values["max_charge_w"] == pytest.approx(11000)
    # above the rating (max_charge_w) the charger keeps its rated power
    assert clamped.setpoint_kw == pytest.approx(11.0)
    assert str(released.mode) == "local"


def test_heat_pump_commands_follow_the_configured_control(healthy: Simulated):
    continuous, sg_ready = "house-01.hp", "house-02.hp"
    m = healthy.district.register_map(continuous)

    async def scenario():
        host, port, unit = healthy.endpoint(continuous)
        async with ModbusConnection(host, port, unit) as conn:
            await write_point(conn, m.point("power_setpoint_w"), 2000)
            await write_point(conn, m.point("dimming_limit_w"), 1500)
            with pytest.raises(ModbusExceptionResponse) as wrong_kind:
                await write_point(conn, m.point("sg_ready_state"), 4)
            await write_point(conn, m.point("control_mode"), 0)
            await write_point(conn, m.point("dimming_limit_w"), 0)
        host, port, unit = healthy.endpoint(sg_ready)
        async with ModbusConnection(host, port, unit) as conn:
            await write_point(conn, m.point("sg_ready_state"), 1)
            locked = healthy.snapshot().heat_pumps[sg_ready]
            await write_point(conn, m.point("control_mode"), 0)
        return wrong_kind.value.code, locked

    before = healthy.snapshot().heat_pumps[continuous]
    code, locked = run(scenario())
    assert before.setpoint_kw is None
    assert code == 4
    assert locked.sg_ready_state == 1
    assert str(locked.mode) == "remote"
    after = healthy.snapshot().heat_pumps[continuous]
    assert after.dimming_cap_kw is None
    assert str(after.mode) == "local"


def test_pv_curtailment_through_sunspec_model_123(healthy: Simulated):
    asset = "house-04.pv"
    m = healthy.district.register_map(asset)
    host, port, unit = healthy.endpoint(asset)
    peak_kw = healthy.district.site.asset(asset).params_dict()["peak_kw"]

    async def scenario():
        async with ModbusConnection(host, port, unit) as conn:
            sf_point = m.point("WMaxLimPct_SF")
            (sf_raw,) = await conn.read(sf_point.table, sf_point.address, 1)
            sf = sf_raw - 0x10000 if sf_raw & 0x8000 else sf_raw
            await write_point(conn, m.point("WMaxLimPct"), 25.0, sf)
            await write_point(conn, m.point("WMaxLim_Ena"), 1)
            limited = healthy.snapshot().pv[asset]
            await write_point(conn, m.point("WMaxLim_Ena"), 0)
            return limited, healthy.snapshot().pv[asset]

    limited, released = run(scenario())
    assert limited.limit_kw == pytest.approx(0.25 * peak_kw)
    assert released.limit_kw is None


@pytest.mark.parametrize(
    ("asset", "point", "registers", "code"),
    [
        ("house-01.battery", "soc", [500], 2),  # read-only
        ("house-01.battery", "power_setpoint_w", [0x0001, 0x0000], 3),  # 65536 W > max
        ("house-01.battery", "watchdog_timeout_s", [0], 3),  # below min 1 s
        ("house-01.hp", "sg_ready_state", [7], 3),
        ("grid.meter", "W", [100], 2),
    ],
)
def test_refused_writes_answer_the_right_exception(
    simulated: Simulated, asset, point, registers, code
):
    m = simulated.district.register_map(asset)
    host, port, unit = simulated.endpoint(asset)

    async def scenario():
        async with ModbusConnection(host, port, unit) as conn:
            with pytest.raises(ModbusExceptionResponse) as info:
                await conn.write_registers(m.point(point).address, registers)
            return info.value.code

    assert run(scenario()) == code


def test_partial_and_undefined_accesses_are_refused(simulated: Simulated):
    m = simulated.district.register_map("house-01.battery")
    host, port, unit = simulated.endpoint("house-01.battery")

    async def scenario():
        async with ModbusConnection(host, port, unit) as conn:
            codes = []
            for action in (
                conn.write_registers(m.point("power_setpoint_w").address, [0]),  # half an int32
                conn.read("holding", 5000, 2),  # nothing there
                conn.read("input", 0, 1),  # table the device does not use
            ):
                with pytest.raises(ModbusExceptionResponse) as info:
                    await action
                codes.append(info.value.code)
            return codes

    assert run(scenario()) == [2, 2, 2]


def test_unknown_unit_id_answers_exception_4(simulated: Simulated):
    host, port, _ = simulated.endpoint("house-01.meter")

    async def scenario():
        async with ModbusConnection(host, port, 17) as conn:
            with pytest.raises(ModbusExceptionResponse) as info:
                await conn.read("holding", 40000, 2)
            return info.value.code

    assert run(scenario()) == 4


def set_faults(simulated: Simulated, asset: str, faults: DeviceFaults) -> None:
    simulated.call(lambda: simulated.district.set_faults(asset, faults))


def test_fault_delay_is_a_timeout(healthy: Simulated):
    set_faults(healthy, "house-06.meter", DeviceFaults(delay_s=0.5))
    host, port, unit = healthy.endpoint("house-06.meter")

    async def scenario():
        async with ModbusConnection(host, port, unit, timeout_s=0.2) as conn:
            with pytest.raises(ModbusTimeout):
                await conn.read("holding", 40000, 2)

    run(scenario())


def test_fault_exception_code(healthy: Simulated):
    set_faults(healthy, "house-06.meter", DeviceFaults(exception_code=6))
    host, port, unit = healthy.endpoint("house-06.meter")

    async def scenario():
        async with ModbusConnection(host, port, unit) as conn:
            with pytest.raises(ModbusExceptionResponse) as info:
                await conn.read("holding", 40000, 2)
            return info.value.code

    assert run(scenario()) == 6


def test_fault_drop_after_requests(healthy: Simulated):
    set_faults(healthy, "house-06.meter", DeviceFaults(drop_after_requests=2))
    host, port, unit = healthy.endpoint("house-06.meter")

    async def scenario():
        conn = ModbusConnection(host, port, unit, timeout_s=0.5, reconnect_delay_s=5.0)
        await conn.connect()
        try:
            assert await conn.read("holding", 40000, 2) == [0x5375, 0x6E53]
            await conn.read("holding", 40000, 2)
            with pytest.raises((ModbusConnectionError, ModbusTimeout)):
                await conn.read("holding", 40000, 2)
        finally:
            await conn.close()

    run(scenario())


def test_fault_random_drops_are_reproducible():
    a, b = device_rng(7, "house-01.meter"), device_rng(7, "house-01.meter")
    assert [a.random() for _ in range(5)] == [b.random() for _ in range(5)]
    assert device_rng(7, "house-02.meter").random() != device_rng(7, "house-01.meter").random()


def test_fault_frozen_values_stop_following_the_physics(healthy: Simulated):
    asset = "house-07.pv"  # producing in the morning: its energy counter moves
    set_faults(healthy, asset, DeviceFaults(frozen=True))
    frozen = read_device(healthy, asset)
    time.sleep(1.0)  # 30 simulated seconds
    assert read_device(healthy, asset) == frozen
    assert healthy.snapshot().pv[asset].energy_kwh * 1000 > frozen["WH"] + 1.0
    set_faults(healthy, asset, DeviceFaults())
    assert wait_until(lambda: read_device(healthy, asset)["WH"] > frozen["WH"] + 1.0, 2)


def test_fault_out_of_range_values(healthy: Simulated):
    asset = "house-02.battery"
    set_faults(healthy, asset, DeviceFaults(values={"soc": 250.0}))
    assert wait_until(lambda: read_device(healthy, asset)["soc"] == pytest.approx(250.0), 2)
    assert healthy.snapshot().batteries[asset].soc_frac <= 1.0


def test_fault_values_must_name_points_of_the_map(simulated: Simulated):
    with pytest.raises(ValueError, match="unknown points \\['state_of_charge'\\]"):
        simulated.district.device("house-01.battery").set_faults(
            DeviceFaults(values={"state_of_charge": 2.5})
        )


@pytest.mark.slow
def test_rtu_devices_are_served_over_a_socket_url(site):
    config = site.config
    house = config.houses[0]
    assert house.battery is not None
    assert house.battery.device is not None
    rtu = house.battery.device.model_copy(
        update={"protocol": "rtu", "serial_port": "socket://127.0.0.1:15999", "unit_id": 7}
    )
    battery = house.battery.model_copy(update={"device": rtu})
    houses = [house.model_copy(update={"battery": battery}), *config.houses[1:]]
    rtu_site = Site.from_config(config.model_copy(update={"houses": houses}))

    async def scenario():
        async with SimulatedDistrict(rtu_site, speed=1, free_ports=True) as district:
            endpoint = district.site.asset("house-01.battery").device
            served = district.served("house-01.battery")
            m = district.register_map("house-01.battery")
            conn = ModbusConnection.rtu(endpoint.serial_port, endpoint.baudrate, unit_id=7)
            try:
                soc_point = m.point("soc")
                (raw,) = await conn.read("holding", soc_point.address, 1)
            finally:
                await conn.close()
            expected = district.physics.snapshot().batteries["house-01.battery"].soc_frac
            return served.framing, endpoint.serial_port, raw, expected

    framing, url, raw, soc_frac = run(scenario())
    assert framing == "rtu"
    assert url != "socket://127.0.0.1:15999"  # moved to the free port actually served
    assert raw == round(soc_frac * 1000)


def test_random_faults_follow_their_probabilities_reproducibly():
    class Target:
        def __init__(self, faults: DeviceFaults):
            self.faults = faults
            self.rng = device_rng(3, "house-01.meter")

    def decisions(faults: DeviceFaults) -> list[Action]:
        hook = request_hook({1: Target(faults)})

        async def play():
            return [(await hook(Request(1, 3, n, "peer"))).action for n in range(1, 401)]

        return asyncio.run(play())

    drops = decisions(DeviceFaults(drop_probability=0.25))
    assert drops == decisions(DeviceFaults(drop_probability=0.25))  # same seed, same faults
    assert 60 <= drops.count(Action.DROP) <= 140
    silent = decisions(DeviceFaults(no_response_probability=0.5))
    assert 150 <= silent.count(Action.SILENT) <= 250
    busy = decisions(DeviceFaults(exception_code=6, exception_probability=0.1))
    assert 15 <= busy.count(Action.EXCEPTION) <= 70
    assert set(decisions(DeviceFaults())) == {Action.PROCEED}


class StillPhysics:
    """A physics stand-in that never moves: every device reads its configured ratings only."""

    def __init__(self) -> None:
        self.now = pd.Timestamp("2026-06-01T09:00Z")

    def snapshot(self) -> DistrictSnapshot:
        return DistrictSnapshot(time=self.now.to_pydatetime(), temp_outdoor_c=10.0)

    def advance_to(self, t) -> None:
        self.now = pd.Timestamp(t)

    def advance(self, seconds: float) -> None:
        self.now += pd.Timedelta(seconds=seconds)


def test_a_taken_port_fails_start_and_closes_the_other_servers(site):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    config = site.config
    house = config.houses[3]
    assert house.pv is not None
    assert house.pv.device is not None
    device = house.pv.device.model_copy(update={"port": port})
    houses = [
        *config.houses[:3],
        house.model_copy(update={"pv": house.pv.model_copy(update={"device": device})}),
        *config.houses[4:],
    ]
    crowded = Site.from_config(config.model_copy(update={"houses": houses}))
    district = SimulatedDistrict(crowded, physics=StillPhysics())

    async def scenario():
        with pytest.raises(OSError, match="in use"):
            await district.start()
        return [d.port for d in district.devices]

    try:
        served_before_failure = run(scenario())
    finally:
        taken.close()
    assert served_before_failure  # some servers were up before the clash...
    for other in served_before_failure:  # ...and are closed again
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", other))
