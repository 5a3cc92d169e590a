"""SunSpec discovery against a modbus-tk server serving a register image that pysunspec2 (the
SunSpec Alliance's library) rendered, cross-checked with pysunspec2's own Modbus client."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sunspec2.device import Device
from sunspec2.modbus.client import SunSpecModbusClientDeviceTCP
from test_peer_server_support import TkServer, sunspec_test_image

from connectors.modbus_adapter import ModbusExceptionResponse, ModbusTimeout
from connectors.sunspec_discovery import SunSpecDevice, SunSpecError, discover, scan

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:modbus_tk")


@pytest.fixture(scope="module", params=[40000, 50000, 0])
def served(request: pytest.FixtureRequest) -> Iterator[tuple[TkServer, int]]:
    base = request.param
    with TkServer(size=65535) as server:
        image = sunspec_test_image(base)
        server.set("holding", base, list(image.values()))
        yield server, base


def _scan(port: int) -> SunSpecDevice:
    return asyncio.run(scan("127.0.0.1", port, 1, timeout_s=1.0))


def test_finds_the_marker_and_walks_the_chain(served: tuple[TkServer, int]) -> None:
    server, base = served
    device = _scan(server.port)
    assert device.base_address == base
    assert [m.id for m in device.models] == [1, 103, 160, 64999]
    assert [m.address for m in device.models] == [base + 2, base + 70, base + 122, base + 172]
    assert device.model(64999).known is False
    assert device.model(64999).points == ()


def test_points_are_scaled_with_their_units(served: tuple[TkServer, int]) -> None:
    server, _ = served
    device = _scan(server.port)
    common = device.model(1)
    assert common.point("Mn").value == "Klimaviertel"
    assert common.point("SN").value == "KV-0042"
    inverter = device.model(103)
    assert inverter.name == "inverter_three_phase"
    assert inverter.point("A").value == pytest.approx(12.34)
    assert inverter.point("A").unit == "A"
    assert inverter.point("W").value == 5120
    assert inverter.point("W").unit == "W"
    assert inverter.point("Hz").value == pytest.approx(50.02)
    assert inverter.point("WH").value == 1234560
    assert inverter.point("TmpCab").value == pytest.approx(25.1)
    assert inverter.point("PhVphA").value is None, "not implemented is None, not 0xFFFF"
    mppt = device.model(160)
    assert mppt.point("module[2].IDStr").value == "West"
    assert mppt.point("module[1].DCV").value == pytest.approx(350.1)
    assert mppt.point("module[2].DCA").value == pytest.approx(3.0)


def test_agrees_with_pysunspec2_client(served: tuple[TkServer, int]) -> None:
    server, _ = served
    ours = _scan(server.port)
    theirs = SunSpecModbusClientDeviceTCP(slave_id=1, ipaddr="127.0.0.1", ipport=server.port)
    try:
        theirs.scan()
        for model_id in (1, 103):
            reference = theirs.models[model_id][0]
            for name, point in reference.points.items():
                if name in ("ID", "L") or point.pdef["type"] in ("pad",):
                    continue
                expected = point.cvalue
                got = ours.model(model_id).point(name).value
                if isinstance(expected, float):
                    assert got == pytest.approx(expected), (model_id, name)
                else:
                    assert got == expected, (model_id, name)
        module = theirs.models[160][0].groups["module"][1]
        assert ours.model(160).point("module[2].DCV").value == pytest.approx(module.DCV.cvalue)
    finally:
        theirs.close()


def test_json_document_lists_models_with_points(served: tuple[TkServer, int]) -> None:
    server, _ = served
    doc = _scan(server.port).as_json()
    assert [m["id"] for m in doc] == [1, 103, 160, 64999]
    watts = next(p for p in doc[1]["points"] if p["name"] == "W")
    assert watts == {"name": "W", "value": 5120, "unit": "W"}
    assert set(doc[0]) >= {"id", "name", "points"}


def test_no_marker_is_a_clear_error() -> None:
    async def read(address: int, count: int) -> list[int]:
        return [0] * count

    with pytest.raises(SunSpecError, match=r"no 'SunS' marker.*40000.*50000"):
        asyncio.run(discover(read))


def test_chain_without_end_marker_is_refused() -> None:
    async def read(address: int, count: int) -> list[int]:
        if address == 40000:
            return [0x5375, 0x6E53]
        return [64999, 0][:count] if count == 2 else [0] * count

    with pytest.raises(SunSpecError, match="no end marker"):
        asyncio.run(discover(read))


def test_silent_or_refusing_bases_are_skipped() -> None:
    image = sunspec_test_image(0)

    async def read(address: int, count: int) -> list[int]:
        if address == 40000:
            raise ModbusTimeout("no response", "test")
        if address == 50000:
            raise ModbusExceptionResponse(2, 3, "test")
        return [image[a] for a in range(address, address + count)]

    device = asyncio.run(discover(read))
    assert device.base_address == 0
    assert device.model(103).point("W").value == 5120


def _model_values(model_id: int) -> st.SearchStrategy[dict[str, Any]]:
    """Random raw values for every numeric point of a model (not-implemented markers excluded)."""
    from sunspec2.device import get_model_def

    ranges = {
        "uint16": (0, 0xFFFE),
        "enum16": (0, 0xFFFE),
        "int16": (-0x7FFF, 0x7FFF),
        "sunssf": (-4, 4),
        "acc32": (0, 0xFFFFFFFE),
        "uint32": (0, 0xFFFFFFFE),
        "bitfield32": (0, 0x7FFFFFFF),
    }
    fields = {
        p["name"]: st.integers(*ranges[p["type"]])
        for p in get_model_def(model_id)["group"]["points"]
        if p["name"] not in ("ID", "L") and p["type"] in ranges
    }
    return st.fixed_dictionaries(fields)


@settings(max_examples=40, deadline=None)
@given(values=_model_values(103))
def test_property_scaled_values_agree_with_pysunspec2(values: dict[str, Any]) -> None:
    reference = Device()
    reference._set_dict({"name": "x", "models": [{"ID": 103, "L": 50, **values}]})
    data = reference.get_mb()
    registers = [0x5375, 0x6E53] + [
        int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)
    ]
    registers += [0xFFFF, 0]

    async def read(address: int, count: int) -> list[int]:
        if address < 40000:
            return [0] * count
        return registers[address - 40000 : address - 40000 + count]

    ours = asyncio.run(discover(read)).model(103)
    expected_model = reference.models[103][0]
    for name in values:
        expected = expected_model.points[name].cvalue
        got = ours.point(name).value
        if isinstance(expected, float):
            assert got == pytest.approx(expected, rel=1e-9), name
        else:
            assert got == expected, name
