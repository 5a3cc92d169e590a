"""Register maps: validation errors that name file, device and point; read planning; shipped maps."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from connectors.registermap import (
    REGISTERMAP_DIR,
    Point,
    RegisterMap,
    RegisterMapError,
    RegisterTable,
    load_register_map,
    plan_reads,
)
from connectors.sunspec_models import chain_layout, model_points
from energy.site import load_site

SHIPPED = sorted(p.name for p in REGISTERMAP_DIR.glob("*.yaml"))


def write_map(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "vendor.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_maps_load_and_plan(name):
    register_map = load_register_map(name)
    blocks = plan_reads(register_map)
    planned = [p.name for b in blocks for p in b.points]
    assert sorted(planned) == sorted(p.name for p in register_map.points)
    assert all(b.count <= register_map.max_registers_per_request for b in blocks)


def test_every_map_the_site_names_exists():
    for asset in load_site().devices():
        assert asset.device is not None
        load_register_map(asset.device.register_map, device=asset.id)


@pytest.mark.parametrize("name", [n for n in SHIPPED if n.startswith("sunspec_")])
def test_sunspec_map_addresses_agree_with_the_sunspec_model_definitions(name):
    register_map = load_register_map(name)
    layout = chain_layout(register_map.sunspec_models)
    expected: dict[str, tuple[int, int]] = {}
    for model_id, base in layout.items():
        for p in model_points(model_id).values():
            # a name two models share (W_SF of 701 and 702) carries the later model's id
            name = p.name if p.name not in expected else f"{p.name}_{model_id}"
            expected[name] = (base + p.offset, p.size)
    for point in register_map.points:
        assert point.name in expected, f"{point.name} is not a point of {layout}"
        assert (point.address, point.count) == expected[point.name], point.name


def test_all_problems_are_reported_at_once_naming_file_device_and_point(tmp_path):
    path = write_map(
        tmp_path,
        {
            "name": "vendor",
            "max_registers_per_request": 500,
            "points": [
                {"name": "soc", "address": 0, "dtype": "uint16"},
                {"name": "setpoint", "address": 1, "dtype": "int32", "access": "rw"},
                {"name": "mode", "address": 0, "dtype": "uint16"},
                {"name": "label", "address": 10, "dtype": "string"},
                {"name": "power", "address": 20, "dtype": "int16", "scale_factor": "P_SF"},
                {"name": "temp", "address": 30, "dtype": "int16", "colour": "red"},
            ],
        },
    )
    with pytest.raises(RegisterMapError) as info:
        load_register_map(path, device="house-03.battery")
    issues = info.value.issues
    by_point = {i.point: i for i in issues}
    assert {"setpoint", "mode", "label", "power", "temp"} <= set(by_point)
    assert "min and max" in by_point["setpoint"].expected
    assert "overlaps point 'soc'" in by_point["mode"].expected
    assert "needs length" in by_point["label"].expected
    assert "unknown point 'P_SF'" in by_point["power"].expected
    assert by_point["temp"].found == "unknown key 'colour'"
    assert any(i.key_path == "max_registers_per_request" for i in issues)
    text = str(info.value)
    assert str(path) in text
    assert "device house-03.battery" in text
    assert "point setpoint" in text
    assert all(i.file == str(path) and i.device == "house-03.battery" for i in issues)


def test_missing_file_names_the_device(tmp_path):
    with pytest.raises(RegisterMapError, match=r"device grid\.meter") as info:
        load_register_map(tmp_path / "nope.yaml", device="grid.meter")
    assert "nope.yaml" in str(info.value)


def test_bare_names_resolve_in_the_registermap_directory():
    assert load_register_map("battery_generic.yaml").name == "battery_generic"


def test_point_defaults_apply_to_every_point(tmp_path):
    path = write_map(
        tmp_path,
        {
            "name": "v",
            "point_defaults": {"word_order": "little", "table": "input"},
            "points": [
                {"name": "a", "address": 0, "dtype": "int32"},
                {"name": "b", "address": 2, "dtype": "int32", "word_order": "big"},
            ],
        },
    )
    m = load_register_map(path)
    assert m.point("a").word_order == "little"
    assert m.point("b").word_order == "big"
    assert {p.table for p in m.points} == {RegisterTable.INPUT}


@pytest.mark.parametrize(
    ("point", "message"),
    [
        ({"dtype": "bool"}, "bool belongs to coil"),
        ({"table": "coil", "dtype": "uint16"}, "bool belongs to coil"),
        ({"table": "input", "access": "rw", "min": 0, "max": 1}, "only holding registers"),
        ({"dtype": "int32", "length": 4}, "does not match dtype"),
        ({"scale": 0.1, "scale_factor": "x"}, "either scale or scale_factor"),
        ({"address": 65535, "dtype": "int32"}, "exceeds 65535"),
        ({"min": 5, "max": 1}, "must not exceed max"),
    ],
)
def test_inconsistent_points_are_refused(point, message):
    with pytest.raises(ValueError, match=message):
        Point(name="p", address=point.pop("address", 0), **point)


def test_watchdog_and_heartbeat_points_must_be_writable():
    with pytest.raises(ValueError, match="watchdog_point must be writable"):
        RegisterMap(name="m", watchdog_point="w", points=[Point(name="w", address=0)])


def test_plan_reads_keeps_values_with_their_scale_factor():
    m = load_register_map("sunspec_inverter.yaml")
    for block in plan_reads(m):
        names = {p.name for p in block.points}
        for p in block.points:
            if p.scale_factor is not None:
                assert p.scale_factor in names, (p.name, block)


def test_plan_reads_respects_gaps_when_the_device_refuses_them():
    points = [Point(name=f"p{a}", address=a) for a in (0, 1, 5)]
    assert len(plan_reads(RegisterMap(name="m", points=points))) == 1
    assert len(plan_reads(RegisterMap(name="m", max_gap_registers=0, points=points))) == 2
    assert len(plan_reads(RegisterMap(name="m", max_gap_registers=3, points=points))) == 1


@st.composite
def maps(draw):
    addresses = sorted(draw(st.sets(st.integers(0, 2000), min_size=1, max_size=40)))
    points = []
    reach = -1
    for i, a in enumerate(addresses):
        if a <= reach:
            continue
        dtype = draw(st.sampled_from(["uint16", "int32", "float64"]))
        p = Point(name=f"p{i}", address=a, dtype=dtype)
        points.append(p)
        reach = p.end - 1
    limit = draw(st.integers(4, 125))
    gap = draw(st.one_of(st.none(), st.integers(0, 50)))
    return RegisterMap(
        name="m", max_registers_per_request=limit, max_gap_registers=gap, points=points
    )


@given(maps())
def test_plan_reads_covers_every_point_once_within_the_limits(m):
    blocks = plan_reads(m)
    seen = [p.name for b in blocks for p in b.points]
    assert sorted(seen) == sorted(p.name for p in m.points)
    for b in blocks:
        assert b.count <= m.max_registers_per_request
        assert all(b.address <= p.address and p.end <= b.end for p in b.points)
        ordered = sorted(b.points, key=lambda p: p.address)
        if m.max_gap_registers is not None:
            for before, after in itertools.pairwise(ordered):
                assert after.address - before.end <= m.max_gap_registers
    # greedy is optimal without scale factors: no two neighbouring blocks could be merged
    for before, after in itertools.pairwise(blocks):
        gap = after.address - before.end
        merged = after.end - before.address
        assert merged > m.max_registers_per_request or (
            m.max_gap_registers is not None and gap > m.max_gap_registers
        )


def test_planning_a_subset_pulls_in_its_scale_factors():
    m = load_register_map("sunspec_meter.yaml")
    blocks = plan_reads(m, [m.point("W"), m.point("TotWhImp")])
    assert {p.name for b in blocks for p in b.points} == {"W", "W_SF", "TotWhImp", "TotWh_SF"}
    assert len(blocks) == 1
    assert (blocks[0].address, blocks[0].count) == (40088, 40125 - 40088)


def test_switch_points_write_their_codes_and_read_them_back() -> None:
    sma = load_register_map("sma_storage.yaml").point("WCtlComCfg_WCtlComAct")
    assert (sma.switch_value(True), sma.switch_value(False)) == (802, 803)
    assert sma.is_on(802)
    assert not sma.is_on(803)
    plain = load_register_map("sunspec_battery.yaml").point("WSetEna")
    assert (plain.switch_value(True), plain.switch_value(False)) == (1.0, 0.0)
    coil = load_register_map("flow_battery_generic.yaml").point("remote_enable")
    assert coil.switch_value(False) is False


def test_on_value_without_off_value_is_refused() -> None:
    with pytest.raises(ValueError, match="give both on_value and off_value"):
        Point(name="ena", address=0, access="rw", min=0, max=1000, on_value=802)
