"""The poller end to end against modbus-tk (an independent Modbus stack): every data type, word and
byte order and scale (fixed and SunSpec scale factor) decoded from registers an independent
reference encoder produced; requests planned into blocks; one connection per device across cycles;
results stored in bulk."""

from __future__ import annotations

import asyncio
import math
import struct
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_peer_server_support import (
    ScriptedServer,
    TkServer,
    endpoint,
    reference_registers,
    register_map,
)

from connectors.poller import DevicePoller, DeviceSpec, PollResult, measurements_frame
from connectors.registermap import plan_reads
from energy.quality import Quality
from energy.site import Site
from energy.store import Store
from energy.store.measurements import latest_measurements

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:modbus_tk")

INT_RANGES = {
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
}
SIZES = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "int64": 4, "uint64": 4}
SIZES.update({"float32": 2, "float64": 4})
ORDERS = [("big", "big"), ("little", "big"), ("big", "little"), ("little", "little")]


@pytest.fixture(scope="module")
def tk() -> Iterator[TkServer]:
    with TkServer(size=2000) as server:
        yield server


def _poll(specs: list[DeviceSpec], store: Store | None = None, cycles: int = 1) -> list[PollResult]:
    async def scenario() -> list[PollResult]:
        async with DevicePoller(devices=specs, store=store, site_id="klimaviertel-sodingen") as p:
            return [await p.poll_once() for _ in range(cycles)]

    return asyncio.run(scenario())


def _layout() -> tuple[list[dict[str, Any]], dict[str, tuple[str, int, list[int]]], dict[str, Any]]:
    """Points of every numeric type in every order, in holding and input tables, with the
    registers (by the reference encoder) and the expected decoded values."""
    points: list[dict[str, Any]] = []
    registers: dict[str, tuple[str, int, list[int]]] = {}
    expected: dict[str, Any] = {}
    address = {"holding": 0, "input": 0}
    samples = {
        "int16": -12345,
        "uint16": 54321,
        "int32": -2_000_000_001,
        "uint32": 4_000_000_001,
        "int64": -(2**62) - 7,
        "uint64": 2**64 - 3,
        "float32": -1234.5,
        "float64": 6.02214076e23,
    }
    for dtype, raw in samples.items():
        for table in ("holding", "input"):
            for word_order, byte_order in ORDERS:
                name = f"{table}_{dtype}_{word_order[0]}{byte_order[0]}"
                at = address[table]
                points.append(
                    {
                        "name": name,
                        "table": table,
                        "address": at,
                        "dtype": dtype,
                        "word_order": word_order,
                        "byte_order": byte_order,
                    }
                )
                regs = reference_registers(dtype, raw, word_order=word_order, byte_order=byte_order)
                registers[name] = (table, at, regs)
                expected[name] = raw
                address[table] += SIZES[dtype]
    at = address["holding"]
    points += [
        {"name": "text", "address": at, "dtype": "string", "length": 5},
        {"name": "text_swapped", "address": at + 5, "dtype": "string", "length": 3,
         "byte_order": "little"},
        {"name": "tenths", "address": at + 8, "dtype": "int16", "scale": 0.1, "unit": "degC"},
        {"name": "with_sf", "address": at + 9, "dtype": "uint16", "scale_factor": "sf"},
        {"name": "sf", "address": at + 10, "dtype": "int16"},
        {"name": "relay", "table": "coil", "address": 5, "dtype": "bool"},
        {"name": "alarm", "table": "discrete_input", "address": 7, "dtype": "bool"},
    ]  # fmt: skip
    registers.update(
        {
            "text": ("holding", at, reference_registers("string", "KV-Test01", length=5)),
            "text_swapped": (
                "holding",
                at + 5,
                reference_registers("string", "Hzg", length=3, byte_order="little"),
            ),
            "tenths": ("holding", at + 8, reference_registers("int16", -215)),
            "with_sf": ("holding", at + 9, reference_registers("uint16", 4711)),
            "sf": ("holding", at + 10, reference_registers("int16", -2)),
            "relay": ("coil", 5, [1]),
            "alarm": ("discrete_input", 7, [1]),
        }
    )
    expected.update(
        {"text": "KV-Test01", "text_swapped": "Hzg", "tenths": -21.5, "with_sf": 47.11, "sf": -2}
    )
    expected.update({"relay": True, "alarm": True})
    return points, registers, expected


@pytest.mark.parametrize("per_request", [125, 16])
def test_every_data_type_order_and_scale_decodes_end_to_end(tk: TkServer, per_request: int) -> None:
    points, registers, expected = _layout()
    for table, address, regs in registers.values():
        tk.set(table, address, regs)
    rm = register_map(points, max_registers_per_request=per_request)
    (result,) = _poll([DeviceSpec("dev", endpoint(tk.port), rm)])
    reading = result.devices["dev"]
    assert reading.ok
    for name, value in expected.items():
        got = reading.values[name]
        assert got.quality is Quality.GOOD, (name, got.reason)
        if isinstance(value, float) and name.endswith(("ll", "lb", "bl", "bb")):
            width = "f" if "float32" in name else "d"
            assert got.value == struct.unpack(width, struct.pack(width, value))[0], name
        elif isinstance(value, float):
            assert got.value == pytest.approx(value), name
        else:
            assert got.value == value, name
    # contiguous points in as few requests as the per-request limit allows: 91 holding and 80
    # input registers, one coil, one discrete input
    plan = plan_reads(rm)
    assert reading.requests == len(plan)
    assert all(b.count <= per_request for b in plan if b.table in ("holding", "input"))
    if per_request == 125:
        assert len(plan) == 4
    else:
        assert len(plan) >= math.ceil(91 / 16) + math.ceil(80 / 16) + 2


int_case = st.sampled_from(sorted(INT_RANGES)).flatmap(
    lambda dtype: st.tuples(st.just(dtype), st.integers(*INT_RANGES[dtype]))
)
float_case = st.tuples(st.just("float32"), st.floats(width=32, allow_nan=False)) | st.tuples(
    st.just("float64"), st.floats(allow_nan=False)
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    case=int_case | float_case,
    order=st.sampled_from(ORDERS),
    table=st.sampled_from(["holding", "input"]),
    scale=st.sampled_from([1.0, 0.1, 0.01, 10.0]),
)
def test_property_any_value_round_trips_through_a_foreign_server(
    tk: TkServer, case: tuple[str, float], order: tuple[str, str], table: str, scale: float
) -> None:
    dtype, raw = case
    word_order, byte_order = order
    regs = reference_registers(dtype, raw, word_order=word_order, byte_order=byte_order)
    tk.set(table, 100, regs)
    rm = register_map(
        [{"name": "p", "table": table, "address": 100, "dtype": dtype, "scale": scale,
          "word_order": word_order, "byte_order": byte_order}]
    )  # fmt: skip
    (result,) = _poll([DeviceSpec("dev", endpoint(tk.port), rm)])
    got = result.devices["dev"].values["p"]
    if dtype.startswith("float") and not math.isfinite(raw * scale):
        assert got.quality is Quality.INVALID
        return
    assert got.quality is Quality.GOOD
    assert got.value == pytest.approx(raw * scale, rel=1e-12, abs=1e-300)


def test_results_go_to_the_store_with_units_and_platform_quantities(
    tk: TkServer, site: Site, store: Store
) -> None:
    tk.set("holding", 0, [*reference_registers("int32", -2500), 873])
    rm = register_map(
        [
            {"name": "power_w", "address": 0, "dtype": "int32", "unit": "W",
             "quantity": "power_kw", "quantity_factor": 0.001},
            {"name": "soc", "address": 2, "dtype": "uint16", "scale": 0.1, "unit": "%",
             "quantity": "soc_frac", "quantity_factor": 0.01},
        ]
    )  # fmt: skip
    (result,) = _poll([DeviceSpec("house-01.battery", endpoint(tk.port), rm)], store=store)
    assert result.stored_rows == 4
    latest = latest_measurements(store, site.id).set_index("quantity")
    assert latest.loc["power_w", "value"] == -2500
    assert latest.loc["power_w", "unit"] == "W"
    assert latest.loc["power_kw", "value"] == pytest.approx(-2.5)
    assert latest.loc["soc_frac", "value"] == pytest.approx(0.873)
    assert set(latest["quality"]) == {int(Quality.GOOD)}
    assert set(latest["asset_id"]) == {"house-01.battery"}


def test_connection_is_kept_across_cycles() -> None:
    async def scenario() -> tuple[ScriptedServer, list[PollResult]]:
        server = await ScriptedServer(holding={0: 1, 1: 2}).start()
        rm = register_map([{"name": "a", "address": 0}, {"name": "b", "address": 1}])
        try:
            async with DevicePoller(
                devices=[DeviceSpec("dev", endpoint(server.port), rm)], site_id="s"
            ) as poller:
                results = [await poller.poll_once() for _ in range(3)]
        finally:
            await server.stop()
        return server, results

    server, results = asyncio.run(scenario())
    assert server.connections == 1
    assert len(server.requests) == 3
    assert all(r.devices["dev"].values["b"].value == 2 for r in results)


def test_frame_holds_numeric_values_read_this_cycle(tk: TkServer) -> None:
    points, registers, _ = _layout()
    rm = register_map(points)
    for table, address, regs in registers.values():
        tk.set(table, address, regs)
    (result,) = _poll([DeviceSpec("dev", endpoint(tk.port), rm)])
    frame = measurements_frame(result)
    assert "text" not in set(frame["quantity"]), "strings are not measurements"
    assert len(frame) == len(points) - 2
    assert frame["time"].dt.tz is not None


def test_a_store_outage_is_reported_not_raised(tk: TkServer, sqlite_store: Store) -> None:
    tk.set("holding", 0, [42])
    rm = register_map([{"name": "v", "address": 0}])
    with sqlite_store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE measurements")  # the store breaks under the poller
    (result,) = _poll([DeviceSpec("house-01.meter", endpoint(tk.port), rm)], store=sqlite_store)
    assert result.devices["house-01.meter"].values["v"].value == 42
    assert result.stored_rows == 0
    assert result.store_error is not None
    assert "measurements" in result.store_error
