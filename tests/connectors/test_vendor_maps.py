"""Every shipped register map served by the simulator, read by independent clients and written
through the platform's single write path.

The site is the default Klimaviertel with its devices spread over the shipped maps (SunSpec DER
storage, SMA battery inverter, the generic flow battery on a house, Stiebel Eltron ISG SG Ready),
so one simulated district serves them all with the same physics behind each.

- pysunspec2 (the SunSpec Alliance's client) reads the SunSpec battery: values, scale factors
  and SunSpec's generation-positive sign;
- pyModbusTCP's client reads the SMA and Stiebel maps register by register: SMA's 32-bit
  high-word-first values and sign, Stiebel's int16 x 0.1 degC temperatures;
- per device kind, SetpointWriter shows clamp, read-back and reversion (or release).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pyModbusTCP.client import ModbusClient
from sunspec2.modbus.client import SunSpecModbusClientDeviceTCP
from test_simulated_support import Simulated, read_device, running_district

from connectors.poller import DevicePoller
from connectors.registermap import REGISTERMAP_DIR, load_register_map
from connectors.writer import SetpointWriter, WriteOutcome, WriteStatus
from energy.control.commands import CommandKind, DeviceCommand
from energy.control.dispatch import device_writes
from energy.site import Site
from energy.store import Store

SUNSPEC_BATTERY = "house-01.battery"
SMA_BATTERY = "house-02.battery"
FLOW_BATTERY = "house-03.battery"
STIEBEL_HP = "house-02.hp"  # an SG Ready heat pump of the default site

MAPS = {
    SUNSPEC_BATTERY: "sunspec_battery.yaml",
    SMA_BATTERY: "sma_storage.yaml",
    FLOW_BATTERY: "flow_battery_generic.yaml",
    STIEBEL_HP: "stiebel_isg_heatpump.yaml",
}

#: Maps of this issue and the ones before it; every one must be served.
DEVICE_MAPS = {
    "battery_generic.yaml",
    "ev_charger_generic.yaml",
    "flow_battery_generic.yaml",
    "heatpump_generic.yaml",
    "sma_storage.yaml",
    "stiebel_isg_heatpump.yaml",
    "sunspec_battery.yaml",
    "sunspec_inverter.yaml",
    "sunspec_meter.yaml",
}


def with_maps(site: Site, maps: dict[str, str]) -> Site:
    """The site with the register maps of some batteries and heat pumps replaced."""
    houses = []
    for house in site.config.houses:
        updates: dict[str, Any] = {}
        for field, suffix in (("battery", "battery"), ("heat_pump", "hp")):
            part = getattr(house, field)
            name = maps.get(f"{house.id}.{suffix}")
            if part is not None and part.device is not None and name is not None:
                device = part.device.model_copy(update={"register_map": name})
                updates[field] = part.model_copy(update={"device": device})
        houses.append(house.model_copy(update=updates))
    return Site.from_config(site.config.model_copy(update={"houses": houses}))


@pytest.fixture(scope="module")
def vendor(site: Site) -> Iterator[Simulated]:
    with running_district(with_maps(site, MAPS)) as simulated:
        yield simulated


@pytest.fixture
def running(vendor: Simulated) -> Iterator[Simulated]:
    yield vendor
    vendor.resume()
    for asset_id in MAPS:
        vendor.call(lambda a=asset_id: vendor.district.physics.release(a))


def wait_until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_every_shipped_device_map_is_served(vendor: Simulated) -> None:
    served = {d.register_map for d in vendor.district.devices}
    shipped = {p.name for p in REGISTERMAP_DIR.glob("*.yaml")}
    assert shipped >= DEVICE_MAPS
    assert served >= DEVICE_MAPS


def test_pysunspec2_reads_the_sunspec_battery_with_scale_factors_and_sign(
    running: Simulated,
) -> None:
    host, port, unit = running.endpoint(SUNSPEC_BATTERY)
    running.call(lambda: running.district.physics.set_battery_power(SUNSPEC_BATTERY, 2.5, 600))
    assert wait_until(lambda: running.snapshot().batteries[SUNSPEC_BATTERY].power_kw > 2.0)
    running.pause()
    time.sleep(0.2)  # one refresh after the pause
    reading = running.snapshot().batteries[SUNSPEC_BATTERY]
    params = running.district.site.asset(SUNSPEC_BATTERY).params
    device = SunSpecModbusClientDeviceTCP(slave_id=unit, ipaddr=host, ipport=port, timeout=2)
    try:
        device.scan()
        assert [m.model_id for m in device.model_list] == [1, 701, 702, 704, 802]
        assert device.common[0].SN.cvalue == SUNSPEC_BATTERY
        der = device.DERMeasureAC[0]
        der.read()
        step_w = 10.0**der.W_SF.value
        # SunSpec: generation positive; the battery charges at +2.5 kW in platform terms
        assert der.W.cvalue == pytest.approx(-reading.power_kw * 1000, abs=step_w / 2 + 1e-9)
        assert der.W.cvalue < 0
        battery = device.battery[0]
        battery.read()
        step_soc = 10.0**battery.SoC_SF.value
        assert battery.SoC.cvalue == pytest.approx(reading.soc_frac * 100, abs=step_soc / 2)
        assert battery.WHRtg.cvalue == pytest.approx(params.capacity_kwh * 1000, rel=1e-3)
        capacity = device.DERCapacity[0]
        capacity.read()
        assert capacity.WChaRteMaxRtg.cvalue == pytest.approx(params.charge_max_kw * 1000)
        assert capacity.WDisChaRteMaxRtg.cvalue == pytest.approx(params.discharge_max_kw * 1000)
        controls = device.DERCtlAC[0]
        controls.read()
        assert controls.WSetMod.value == 1  # the commissioning preset: setpoints in watts
    finally:
        device.close()


def _registers(client: ModbusClient, table: str, address: int, count: int) -> list[int]:
    read = client.read_input_registers if table == "input" else client.read_holding_registers
    registers = read(address, count)
    assert registers is not None, client.last_error_as_txt
    return list(registers)


def _s32(high: int, low: int) -> int:
    value = (high << 16) | low
    return value - (1 << 32) if value & 0x80000000 else value


def test_pymodbustcp_reads_the_sma_battery_high_word_first_discharge_positive(
    running: Simulated,
) -> None:
    running.call(lambda: running.district.physics.set_battery_power(SMA_BATTERY, -1.5, 600))
    assert wait_until(lambda: running.snapshot().batteries[SMA_BATTERY].power_kw < -1.0)
    running.pause()
    time.sleep(0.2)
    reading = running.snapshot().batteries[SMA_BATTERY]
    host, port, unit = running.endpoint(SMA_BATTERY)
    client = ModbusClient(host=host, port=port, unit_id=unit, timeout=2)
    try:
        power_w = _s32(*_registers(client, "holding", 30775, 2))
        soc_high, soc_low = _registers(client, "holding", 30845, 2)
        assert power_w == round(-reading.power_kw * 1000)  # discharging reads positive
        assert power_w > 0
        assert soc_high == 0
        assert soc_low == round(reading.soc_frac * 100)
        assert _registers(client, "holding", 40151, 2) == [0, 803]  # external setpoint inactive
    finally:
        client.close()


def test_pymodbustcp_reads_stiebel_temperatures_in_tenths_and_the_sg_ready_state(
    running: Simulated,
) -> None:
    running.call(lambda: running.district.physics.set_sg_ready(STIEBEL_HP, 3, None))
    assert wait_until(lambda: read_device(running, STIEBEL_HP)["sg_ready_state"] == 3)
    running.pause()
    time.sleep(0.2)
    snapshot = running.snapshot()
    reading = snapshot.heat_pumps[STIEBEL_HP]
    host, port, unit = running.endpoint(STIEBEL_HP)
    client = ModbusClient(host=host, port=port, unit_id=unit, timeout=2)
    try:
        (outdoor,) = _registers(client, "input", 506, 1)
        (hot_water,) = _registers(client, "input", 521, 1)
        (state,) = _registers(client, "input", 5000, 1)
        signed = outdoor - 0x10000 if outdoor & 0x8000 else outdoor
        assert signed == round(snapshot.temp_outdoor_c * 10)
        assert hot_water == round(reading.tank_temp_c * 10)
        assert state == 3
        assert client.read_input_registers(507, 1) is None  # undefined: exception 2
        assert client.last_except == 2
    finally:
        client.close()


def _write_all(
    site: Site, store: Store, asset_id: str, writes: list[tuple[str, float | bool]]
) -> list[WriteOutcome]:
    async def scenario() -> list[WriteOutcome]:
        async with DevicePoller(site, None, device_ids=[asset_id]) as poller:
            writer = SetpointWriter(site, store, "system:test", poller=poller)
            return [await writer.write(asset_id, point, value) for point, value in writes]

    return list(run(scenario()))


def test_sunspec_battery_write_clamps_reads_back_enables_and_reverts(
    running: Simulated, sqlite_store: Store
) -> None:
    site = running.district.site
    rated_w = site.asset(SUNSPEC_BATTERY).params.discharge_max_kw * 1000  # type: ignore[union-attr]
    setpoint, enable = _write_all(
        site, sqlite_store, SUNSPEC_BATTERY, [("WSet", 20_000.0), ("WSetEna", 1.0)]
    )
    assert setpoint.status is WriteStatus.CLAMPED  # to the DER's rated discharge power (702)
    assert setpoint.written == pytest.approx(rated_w)
    assert setpoint.read_back == pytest.approx(rated_w)
    assert enable.status is WriteStatus.OK
    assert [f.point for f in setpoint.feeds] == ["WSetRvrtTms", "CtrlHb"]
    reading = running.snapshot().batteries[SUNSPEC_BATTERY]
    assert str(reading.mode) == "remote"
    assert reading.setpoint_kw == pytest.approx(-rated_w / 1000)  # discharging
    # reversion: WSetRvrtTms (the endpoint's watchdog) passes without a rewrite
    assert wait_until(lambda: str(running.snapshot().batteries[SUNSPEC_BATTERY].mode) == "local")
    assert read_device(running, SUNSPEC_BATTERY)["WSetRvrtRem"] == 0


def test_sunspec_battery_setpoint_waits_for_the_enable_switch(running: Simulated) -> None:
    site = running.district.site
    disabled, written = _write_all(
        site,
        None,  # type: ignore[arg-type]
        SUNSPEC_BATTERY,
        [("WSetEna", 0.0), ("WSet", -1000.0)],
    )
    assert disabled.confirmed
    assert written.status is WriteStatus.OK
    assert str(running.snapshot().batteries[SUNSPEC_BATTERY].mode) == "local"
    assert read_device(running, SUNSPEC_BATTERY)["WSet"] == -1000  # held while disabled
    _write_all(site, None, SUNSPEC_BATTERY, [("WSetEna", 1.0)])  # type: ignore[arg-type]
    reading = running.snapshot().batteries[SUNSPEC_BATTERY]
    assert reading.setpoint_kw == pytest.approx(1.0)  # charging 1 kW
    _write_all(site, None, SUNSPEC_BATTERY, [("WSetEna", 0.0)])  # type: ignore[arg-type]
    assert str(running.snapshot().batteries[SUNSPEC_BATTERY].mode) == "local"


def test_sma_battery_dispatch_writes_setpoint_then_802_and_release_writes_803(
    running: Simulated, sqlite_store: Store
) -> None:
    site = running.district.site
    register_map = running.district.register_map(SMA_BATTERY)
    charge = device_writes(
        site, register_map, DeviceCommand(SMA_BATTERY, CommandKind.BATTERY_POWER_KW, 50.0)
    )
    assert [(w.point, w.value) for w in charge] == [
        ("WCtlComCfg_WSpt", -50_000.0),
        ("WCtlComCfg_WCtlComAct", 802.0),
    ]
    outcomes = _write_all(site, sqlite_store, SMA_BATTERY, [(w.point, w.value) for w in charge])
    assert outcomes[0].status is WriteStatus.CLAMPED  # the map's register limit
    assert outcomes[0].read_back == pytest.approx(-10_000)
    assert outcomes[1].read_back == 802
    reading = running.snapshot().batteries[SMA_BATTERY]
    rated_kw = site.asset(SMA_BATTERY).params.charge_max_kw  # type: ignore[union-attr]
    assert reading.setpoint_kw == pytest.approx(rated_kw)  # the device clamps to its rating
    release = device_writes(
        site, register_map, DeviceCommand(SMA_BATTERY, CommandKind.RELEASE_TO_LOCAL, None)
    )
    assert [(w.point, w.value) for w in release] == [("WCtlComCfg_WCtlComAct", 803.0)]
    (released,) = _write_all(site, sqlite_store, SMA_BATTERY, [(release[0].point, 803.0)])
    assert released.read_back == 803
    assert str(running.snapshot().batteries[SMA_BATTERY].mode) == "local"


def test_flow_battery_write_clamps_to_the_device_limit_and_reverts(
    running: Simulated, sqlite_store: Store
) -> None:
    site = running.district.site
    rated_kw = site.asset(FLOW_BATTERY).params.charge_max_kw  # type: ignore[union-attr]
    (outcome,) = _write_all(site, sqlite_store, FLOW_BATTERY, [("power_setpoint_kw", 150.0)])
    assert outcome.status is WriteStatus.CLAMPED
    assert outcome.read_back == pytest.approx(rated_kw)
    assert str(running.snapshot().batteries[FLOW_BATTERY].mode) == "remote"
    assert wait_until(lambda: str(running.snapshot().batteries[FLOW_BATTERY].mode) == "local")


@pytest.mark.parametrize(
    ("state", "contacts"), [(1, (0, 1)), (2, (0, 0)), (3, (1, 0)), (4, (1, 1))]
)
def test_stiebel_sg_ready_states_through_its_two_inputs(
    running: Simulated, sqlite_store: Store, state: int, contacts: tuple[int, int]
) -> None:
    site = running.district.site
    register_map = running.district.register_map(STIEBEL_HP)
    writes = device_writes(
        site, register_map, DeviceCommand(STIEBEL_HP, CommandKind.SG_READY_STATE, float(state))
    )
    assert writes[-1].point == "sg_ready_on"
    outcomes = _write_all(site, sqlite_store, STIEBEL_HP, [(w.point, w.value) for w in writes])
    assert all(o.confirmed for o in outcomes), [(o.point, o.status, o.detail) for o in outcomes]
    values = read_device(running, STIEBEL_HP)
    assert (values["sg_ready_input_1"], values["sg_ready_input_2"]) == contacts
    assert running.snapshot().heat_pumps[STIEBEL_HP].sg_ready_state == state
    assert wait_until(lambda: read_device(running, STIEBEL_HP)["sg_ready_state"] == state, 2)


@pytest.mark.slow
def test_stiebel_sg_ready_has_no_reversion_and_release_switches_it_off(
    running: Simulated, sqlite_store: Store
) -> None:
    site = running.district.site
    register_map = running.district.register_map(STIEBEL_HP)
    command = DeviceCommand(STIEBEL_HP, CommandKind.SG_READY_STATE, 4.0)
    writes = device_writes(site, register_map, command)
    _write_all(site, sqlite_store, STIEBEL_HP, [(w.point, w.value) for w in writes])
    endpoint_watchdog_s = site.asset(STIEBEL_HP).device.watchdog_s  # type: ignore[union-attr]
    start = running.snapshot().time
    assert wait_until(
        lambda: running.snapshot().time > start + dt.timedelta(seconds=endpoint_watchdog_s + 5)
    )
    assert running.snapshot().heat_pumps[STIEBEL_HP].sg_ready_state == 4  # the ISG keeps it
    release = device_writes(
        site, register_map, DeviceCommand(STIEBEL_HP, CommandKind.RELEASE_TO_LOCAL, None)
    )
    assert [(w.point, w.value) for w in release] == [("sg_ready_on", 0.0)]
    _write_all(site, sqlite_store, STIEBEL_HP, [("sg_ready_on", 0.0)])
    assert str(running.snapshot().heat_pumps[STIEBEL_HP].mode) == "local"


def test_a_shipped_map_loads_by_name(vendor: Simulated) -> None:
    for name in DEVICE_MAPS:
        assert load_register_map(name).points
