"""One simulated device's register image, without a network: reads, validated writes, scale factors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.codec import decode, encode
from connectors.modbus_server import ModbusServerError
from connectors.registermap import DataType, RegisterTable, load_register_map
from connectors.simulated import DeviceFaults
from connectors.simulated.device import SimulatedDevice
from connectors.sunspec_models import sunspec_image

MAPS = ["battery_generic.yaml", "heatpump_generic.yaml", "flow_battery_generic.yaml"]


def device(name: str, written: list | None = None) -> SimulatedDevice:
    register_map = load_register_map(name)
    fixed = None
    if register_map.sunspec_models:
        fixed = sunspec_image([(m, {}) for m in register_map.sunspec_models])

    def on_write(_: SimulatedDevice, values: dict) -> None:
        if written is not None:
            written.append(values)

    return SimulatedDevice("asset", register_map, fixed_holding=fixed, on_write=on_write)


@st.composite
def writes(draw):
    name = draw(st.sampled_from(MAPS))
    register_map = load_register_map(name)
    point = draw(
        st.sampled_from([p for p in register_map.writable() if p.dtype is not DataType.BOOL])
    )
    inside = draw(st.booleans())
    assert point.min is not None
    assert point.max is not None
    if inside:
        value = draw(st.floats(point.min, point.max, allow_nan=False))
    else:
        value = draw(
            st.one_of(
                st.floats(point.max + 1, point.max + 1e4), st.floats(point.min - 1e4, point.min - 1)
            )
        )
    return name, point, value, inside


@given(writes())
def test_writes_inside_the_limits_land_and_others_answer_exception_3(case):
    name, point, value, inside = case
    written: list = []
    dev = device(name, written)
    try:
        registers = encode(point, value, check_limits=False)
    except ValueError:
        return  # not even representable in the registers: nothing a client could send
    raw_value = decode(point, registers)
    assert isinstance(raw_value, int | float)
    in_range = point.min <= raw_value <= point.max
    if in_range:
        dev.write(point.table, point.address, registers)
        assert written == [{point.name: raw_value}]
        assert dev.value(point.name) == raw_value
    else:
        with pytest.raises(ModbusServerError) as info:
            dev.write(point.table, point.address, registers)
        assert info.value.code == 3
        assert written == []
    assert inside or not in_range or raw_value in (point.min, point.max)


def test_read_only_and_undefined_addresses_answer_exception_2():
    dev = device("battery_generic.yaml")
    soc = dev.register_map.point("soc")
    for table, address, values in (
        (RegisterTable.HOLDING, soc.address, [1]),
        (RegisterTable.HOLDING, 1099, [1, 0]),  # first address undefined
        (RegisterTable.HOLDING, 1101, [0]),  # half of an int32 setpoint
    ):
        with pytest.raises(ModbusServerError) as info:
            dev.write(table, address, values)
        assert info.value.code == 2
    with pytest.raises(ModbusServerError) as info:
        dev.read(RegisterTable.HOLDING, 1012, 5)  # runs past the last point
    assert info.value.code == 2


def test_a_refused_command_leaves_the_registers_unchanged():
    dev = device("heatpump_generic.yaml")

    def refuse(_: SimulatedDevice, values: dict) -> None:
        raise ModbusServerError(4, "not with this control")

    dev.on_write = refuse
    point = dev.register_map.point("sg_ready_state")
    before = dev.read(point.table, point.address, 1)
    with pytest.raises(ModbusServerError):
        dev.write(point.table, point.address, [3])
    assert dev.read(point.table, point.address, 1) == before


@given(st.floats(-32000.0, 32000.0, allow_nan=False))
def test_scale_factors_keep_read_only_values_within_one_step(power_w):
    dev = device("sunspec_meter.yaml")
    dev.update({"W": power_w})
    sf = dev.value("W_SF")
    assert isinstance(sf, int)
    assert dev.value("W") == pytest.approx(power_w, abs=10.0**sf / 2 + 1e-9)


def test_writable_scale_factors_are_fixed_by_the_limits():
    dev = device("sunspec_inverter.yaml")
    assert dev.value("WMaxLimPct_SF") == -2  # 100.00 % fits a uint16, 100.000 % does not
    dev.update({"WMaxLimPct": 42.5, "W": 30000.0})
    assert dev.value("WMaxLimPct_SF") == -2
    assert dev.value("WMaxLimPct") == pytest.approx(42.5)


def test_frozen_devices_ignore_updates_and_fault_values_win():
    dev = device("battery_generic.yaml")
    dev.update({"soc": 40.0})
    dev.set_faults(DeviceFaults(values={"soc": 250.0}))
    dev.update({"soc": 41.0})
    assert dev.value("soc") == pytest.approx(250.0)
    dev.set_faults(DeviceFaults(frozen=True))
    dev.update({"soc": 42.0})
    assert dev.value("soc") == pytest.approx(250.0)
    dev.set_faults(DeviceFaults())
    dev.update({"soc": 43.0})
    assert dev.value("soc") == pytest.approx(43.0)


def test_unavailable_values_are_not_implemented_on_sunspec_and_zero_elsewhere():
    meter = device("sunspec_meter.yaml")
    meter.update({"W": None})
    assert meter.value("W") is None
    battery = device("battery_generic.yaml")
    battery.update({"power_w": None})
    assert battery.value("power_w") == 0


def test_a_partial_update_keeps_the_other_users_of_a_scale_factor_right():
    dev = device("sunspec_meter.yaml")
    dev.update({"TotWhImp": 12.34, "TotWhExp": 5.0})
    assert dev.value("TotWh_SF") == -2
    dev.update({"TotWhImp": 50_000_000.0})  # 5e9 raw at 10^-2 overflows a uint32
    assert dev.value("TotWh_SF") == -1
    assert dev.value("TotWhImp") == pytest.approx(50_000_000.0)
    assert dev.value("TotWhExp") == pytest.approx(5.0)
    dev.update({"PhV": 231.0})  # another group: this one stays as it is
    assert dev.value("TotWh_SF") == -1
