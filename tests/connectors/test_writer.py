"""The setpoint write path against a modbus-tk server (an independent Modbus stack) and a scripted
raw server: refusal, clamp (map, device and caller limits), ramp, read-back, watchdog, heartbeat,
minimum switching time, and the record of every attempt."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_peer_server_support import (
    ANSWER,
    DROP,
    Request,
    ScriptedServer,
    TkServer,
    endpoint,
    free_port,
    reference_registers,
    register_map,
)

from connectors.poller import DevicePoller, DeviceSpec
from connectors.writer import SetpointWriter, WriteRefusedError, WriteStatus
from energy.site import Site
from energy.store import Store
from energy.store.audit import read_audit
from energy.store.setpoints import read_setpoint_writes

BATTERY = "house-01.battery"
HEAT_PUMP = "house-01.hp"

BATTERY_POINTS: list[dict[str, Any]] = [
    {"name": "soc_pct", "address": 0, "dtype": "uint16", "scale": 0.1, "unit": "%"},
    {"name": "charge_limit_w", "address": 1, "dtype": "uint16", "unit": "W"},
    {
        "name": "power_setpoint_w",
        "address": 2,
        "dtype": "int32",
        "unit": "W",
        "access": "rw",
        "min": -5000,
        "max": 5000,
        "max_point": "charge_limit_w",
    },
    {
        "name": "target_soc_pct",
        "address": 4,
        "dtype": "uint16",
        "scale": 0.1,
        "access": "rw",
        "min": 10,
        "max": 95,
        "ramp_per_s": 0.5,
    },
    {
        "name": "temp_limit_c",
        "address": 5,
        "dtype": "float32",
        "word_order": "little",
        "access": "rw",
        "min": 20,
        "max": 60,
    },
    {"name": "watchdog_s", "address": 7, "dtype": "uint16", "access": "rw", "min": 10, "max": 600},
    {"name": "enable", "table": "coil", "address": 0, "dtype": "bool", "access": "rw"},
]


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:modbus_tk")


@pytest.fixture(scope="module")
def tk_server() -> Iterator[TkServer]:
    with TkServer() as server:
        yield server


@pytest.fixture
def tk(tk_server: TkServer) -> TkServer:
    """The module's modbus-tk server with a fresh register image."""
    for table in ("holding", "input", "coil", "discrete_input"):
        tk_server.set(table, 0, [0] * 100)
    tk_server.set("holding", 0, [500, 5000, 0, 0, 500])
    return tk_server


def _writer(
    site: Site,
    store: Store | None,
    port: int,
    *,
    asset_id: str = BATTERY,
    points: list[dict[str, Any]] | None = None,
    clock: Clock | None = None,
    audit: bool = False,
    **header: Any,
) -> SetpointWriter:
    rm = register_map(points or BATTERY_POINTS, **header)
    poller = DevicePoller(
        devices=[DeviceSpec(asset_id, endpoint(port, watchdog_s=120), rm)], site_id=site.id
    )
    return SetpointWriter(site, store, "cli:test", poller=poller, audit=audit, now=clock or Clock())


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_write_within_limits_is_ok_recorded_and_encoded_to_the_bit(
    site: Site, store: Store, tk: TkServer
) -> None:
    async def scenario() -> Any:
        writer = _writer(site, store, tk.port)
        outcome = await writer.write(BATTERY, "power_setpoint_w", -2500)
        await writer._poller.close()  # type: ignore[union-attr]
        return outcome

    outcome = _run(scenario())
    assert outcome.status is WriteStatus.OK
    assert (outcome.requested, outcome.clamped, outcome.written, outcome.read_back) == (
        -2500,
        -2500,
        -2500,
        -2500,
    )
    assert tk.get("holding", 2, 2) == reference_registers("int32", -2500)
    (row,) = read_setpoint_writes(store, site.id, asset_id=BATTERY, point="power_setpoint_w")
    assert (row.outcome, row.written, row.read_back, row.actor) == ("ok", -2500, -2500, "cli:test")


def test_device_reported_limit_tightens_the_map_limit(site: Site, tk: TkServer) -> None:
    tk.set("holding", 1, [3000])

    async def scenario() -> Any:
        writer = _writer(site, None, tk.port)
        try:
            return await writer.write(BATTERY, "power_setpoint_w", 4500)
        finally:
            await writer._poller.close()  # type: ignore[union-attr]

    outcome = _run(scenario())
    assert outcome.status is WriteStatus.CLAMPED
    assert outcome.limits == (-5000, 3000)
    assert outcome.written == 3000
    assert tk.get("holding", 2, 2) == reference_registers("int32", 3000)
    assert "clamped" in outcome.detail


def test_map_limit_and_caller_limit_clamp(site: Site, tk: TkServer) -> None:
    async def scenario() -> list[Any]:
        writer = _writer(site, None, tk.port)
        try:
            low = await writer.write(BATTERY, "power_setpoint_w", -9000)
            dimmed = await writer.write(BATTERY, "power_setpoint_w", 4000, limits=(None, 4200 / 2))
            return [low, dimmed]
        finally:
            await writer._poller.close()  # type: ignore[union-attr]

    low, dimmed = _run(scenario())
    assert (low.status, low.written) == (WriteStatus.CLAMPED, -5000)
    assert (dimmed.status, dimmed.written) == (WriteStatus.CLAMPED, 2100)


def test_read_only_point_is_refused_without_bus_traffic(site: Site, sqlite_store: Store) -> None:
    async def scenario() -> ScriptedServer:
        server = await ScriptedServer().start()
        writer = _writer(site, sqlite_store, server.port)
        try:
            with pytest.raises(WriteRefusedError, match=r"soc_pct.*read-only"):
                await writer.write(BATTERY, "soc_pct", 50)
            with pytest.raises(WriteRefusedError, match="no point 'nonsense'"):
                await writer.write(BATTERY, "nonsense", 1)
            with pytest.raises(WriteRefusedError, match="finite"):
                await writer.write(BATTERY, "power_setpoint_w", float("nan"))
        finally:
            await writer._poller.close()  # type: ignore[union-attr]
            await server.stop()
        return server

    server = _run(scenario())
    assert server.requests == []
    assert server.connections == 0
    rows = read_setpoint_writes(sqlite_store, site.id)
    assert sorted((r.point, r.outcome) for r in rows) == [
        ("nonsense", "refused_not_writable"),
        ("power_setpoint_w", "refused_invalid"),
        ("soc_pct", "refused_not_writable"),
    ]


def test_unknown_device_is_refused_and_recorded(site: Site, sqlite_store: Store) -> None:
    writer = SetpointWriter(site, sqlite_store, "cli:test")
    with pytest.raises(WriteRefusedError, match="no Modbus device"):
        _run(writer.write("house-99.battery", "power_setpoint_w", 1))
    (row,) = read_setpoint_writes(sqlite_store, site.id)
    assert (row.asset_id, row.outcome) == ("house-99.battery", "refused_not_writable")


def test_ramp_from_device_value_then_from_last_write(
    site: Site, sqlite_store: Store, tk: TkServer
) -> None:
    clock = Clock()

    async def scenario() -> list[Any]:
        writer = _writer(site, sqlite_store, tk.port, clock=clock)
        try:
            first = await writer.write(BATTERY, "target_soc_pct", 90)  # device holds 50.0 %
            clock.now += dt.timedelta(seconds=20)
            second = await writer.write(BATTERY, "target_soc_pct", 90)
            return [first, second]
        finally:
            await writer._poller.close()  # type: ignore[union-attr]

    first, second = _run(scenario())
    # 0.5 %/s over the default 5 s window from the device's 50 %, then 20 s from the last write
    assert (first.status, first.written) == (WriteStatus.CLAMPED, 52.5)
    assert (second.status, second.written) == (WriteStatus.CLAMPED, 62.5)
    assert "ramp" in second.detail
    assert tk.get("holding", 4, 1) == [625]


def test_ramp_reference_survives_a_restart_through_the_store(
    site: Site, sqlite_store: Store, tk: TkServer
) -> None:
    clock = Clock()

    async def write_once(value: float) -> Any:
        writer = _writer(site, sqlite_store, tk.port, clock=clock)
        try:
            return await writer.write(BATTERY, "target_soc_pct", value)
        finally:
            await writer._poller.close()  # type: ignore[union-attr]

    _run(write_once(51))
    tk.set("holding", 4, [900])  # someone else moved it; the ramp still starts at our last write
    clock.now += dt.timedelta(seconds=2)
    outcome = _run(write_once(80))
    assert outcome.written == 52.0


def test_float_word_order_and_coil_round_trip(site: Site, tk: TkServer) -> None:
    async def scenario() -> list[Any]:
        writer = _writer(site, None, tk.port)
        try:
            temp = await writer.write(BATTERY, "temp_limit_c", 42.25)
            on = await writer.write(BATTERY, "enable", True)
            return [temp, on]
        finally:
            await writer._poller.close()  # type: ignore[union-attr]

    temp, on = _run(scenario())
    assert temp.status is WriteStatus.OK
    assert tk.get("holding", 5, 2) == reference_registers("float32", 42.25, word_order="little")
    assert (on.status, on.read_back) == (WriteStatus.OK, 1.0)
    assert tk.get("coil", 0, 1) == [1]


def test_watchdog_is_fed_after_a_confirmed_write(
    site: Site, sqlite_store: Store, tk: TkServer
) -> None:
    async def scenario() -> Any:
        writer = _writer(site, sqlite_store, tk.port, watchdog_point="watchdog_s")
        try:
            return await writer.write(BATTERY, "power_setpoint_w", 100)
        finally:
            await writer._poller.close()  # type: ignore[union-attr]

    outcome = _run(scenario())
    (feed,) = outcome.feeds
    assert (feed.point, feed.status) == ("watchdog_s", WriteStatus.OK)
    assert tk.get("holding", 7, 1) == [120]
    points = {r.point for r in read_setpoint_writes(sqlite_store, site.id)}
    assert points == {"power_setpoint_w", "watchdog_s"}


@pytest.mark.parametrize(("held", "beats"), [(0, [1, 2, 3, 1]), (2, [3, 1, 2, 3])])
def test_heartbeat_counts_up_from_the_device_value_wraps_and_timeout_is_set_once(
    site: Site, tk: TkServer, held: int, beats: list[int]
) -> None:
    beat = {"name": "beat", "address": 8, "dtype": "uint16", "access": "rw", "min": 1, "max": 3}
    points = [*BATTERY_POINTS, beat]
    tk.set("holding", 8, [held])

    async def scenario() -> list[list[tuple[str, float | None]]]:
        writer = _writer(
            site, None, tk.port, points=points, heartbeat_point="beat", watchdog_point="watchdog_s"
        )
        try:
            rounds = []
            for _ in range(4):
                feeds = await writer.feed_watchdog(BATTERY)
                assert all(f.status is WriteStatus.OK for f in feeds)
                rounds.append([(f.point, f.read_back) for f in feeds])
            return rounds
        finally:
            await writer._poller.close()  # type: ignore[union-attr]

    assert _run(scenario()) == [
        [("watchdog_s", 120), ("beat", beats[0])],
        [("beat", beats[1])],
        [("beat", beats[2])],
        [("beat", beats[3])],
    ]


HEAT_PUMP_POINTS: list[dict[str, Any]] = [
    {"name": "power_setpoint_w", "address": 0, "dtype": "uint16", "access": "rw", "min": 0,
     "max": 3000, "quantity": "setpoint_kw", "quantity_factor": 0.001},
    {"name": "sg_ready_state", "address": 1, "dtype": "uint16", "access": "rw", "min": 1,
     "max": 4, "quantity": "sg_ready_state"},
    {"name": "control_mode", "address": 2, "dtype": "uint16", "access": "rw", "min": 0,
     "max": 1, "quantity": "mode"},
]  # fmt: skip


def test_heat_pump_minimum_on_and_off_time_count_from_the_switch(site: Site, tk: TkServer) -> None:
    clock = Clock()
    hp = site.asset(HEAT_PUMP).params
    assert hp.min_on_minutes == hp.min_off_minutes == 20  # type: ignore[union-attr]
    steps = [  # (minutes since start, value) -> expected status
        (0, 1500, WriteStatus.OK),  # switch on
        (1, 1600, WriteStatus.OK),  # a change while on is no switch
        (10, 0, WriteStatus.HELD),  # off only 10 min after switching on
        (19, 1800, WriteStatus.OK),  # rewrites do not restart the clock ...
        (20.5, 0, WriteStatus.OK),  # ... so off is allowed 20 min after switching on
        (25, 1500, WriteStatus.HELD),  # on again only after 20 min off
        (41, 1500, WriteStatus.OK),
    ]

    async def scenario() -> list[Any]:
        writer = _writer(
            site, None, tk.port, asset_id=HEAT_PUMP, points=HEAT_PUMP_POINTS, clock=clock
        )
        start = clock.now
        outcomes = []
        try:
            for minutes, value, _ in steps:
                clock.now = start + dt.timedelta(minutes=minutes)
                outcomes.append(await writer.write(HEAT_PUMP, "power_setpoint_w", value))
            return outcomes
        finally:
            await writer._poller.close()  # type: ignore[union-attr]

    outcomes = _run(scenario())
    assert [o.status for o in outcomes] == [status for _, _, status in steps]
    assert "minimum on time 20 min" in outcomes[2].detail
    assert "minimum off time 20 min" in outcomes[5].detail
    assert tk.get("holding", 0, 1) == [1500]


def test_sg_ready_lock_is_off_and_release_is_never_held(site: Site, tk: TkServer) -> None:
    clock = Clock()

    async def scenario() -> list[Any]:
        writer = _writer(
            site, None, tk.port, asset_id=HEAT_PUMP, points=HEAT_PUMP_POINTS, clock=clock
        )
        try:
            outcomes = [
                await writer.write(HEAT_PUMP, "sg_ready_state", 3),
                await writer.write(HEAT_PUMP, "control_mode", 1),
            ]
            clock.now += dt.timedelta(minutes=1)
            outcomes += [
                await writer.write(HEAT_PUMP, "sg_ready_state", 4),  # still on
                await writer.write(HEAT_PUMP, "sg_ready_state", 1),  # lock = off: too soon
                await writer.write(HEAT_PUMP, "control_mode", 0),  # release: never held
            ]
            return outcomes
        finally:
            await writer._poller.close()  # type: ignore[union-attr]

    statuses = [o.status for o in _run(scenario())]
    assert statuses == [WriteStatus.OK] * 3 + [WriteStatus.HELD, WriteStatus.OK]
    assert tk.get("holding", 1, 2) == [4, 0]


def _image() -> dict[int, int]:
    """Register image of the scripted battery: SoC 50 %, device charge limit 5000 W."""
    return {**{a: 0 for a in range(10)}, 0: 500, 1: 5000}


class ForgetfulServer(ScriptedServer):
    """Acknowledges writes of multiple registers without storing them."""

    def _answer(self, function: int, address: int, count: int, pdu: bytes) -> bytes:
        if function == 16:
            return pdu[:5]
        return super()._answer(function, address, count, pdu)


def test_device_that_ignores_writes_is_a_mismatch(site: Site, sqlite_store: Store) -> None:
    async def scenario() -> Any:
        server = await ForgetfulServer(holding=_image()).start()
        writer = _writer(site, sqlite_store, server.port)
        try:
            return await writer.write(BATTERY, "power_setpoint_w", 1200)
        finally:
            await writer._poller.close()  # type: ignore[union-attr]
            await server.stop()

    outcome = _run(scenario())
    assert outcome.status is WriteStatus.MISMATCH
    assert (outcome.written, outcome.read_back) == (1200, 0)
    (row,) = read_setpoint_writes(sqlite_store, site.id)
    assert row.outcome == "mismatch"


def test_read_back_lost_is_unconfirmed_not_ok(site: Site) -> None:
    writes: list[Request] = []

    def drop_reads_after_a_write(request: Request, n: int) -> str:
        if request.function == 16:
            writes.append(request)
            return ANSWER
        return DROP if writes else ANSWER

    async def scenario() -> Any:
        server = await ScriptedServer(holding=_image(), script=drop_reads_after_a_write).start()
        writer = _writer(site, None, server.port)
        try:
            return await writer.write(BATTERY, "power_setpoint_w", 700)
        finally:
            await writer._poller.close()  # type: ignore[union-attr]
            await server.stop()

    outcome = _run(scenario())
    assert outcome.status is WriteStatus.UNCONFIRMED
    assert outcome.written == 700
    assert outcome.read_back is None
    assert len(writes) == 1


def test_dead_device_is_a_device_error_not_an_exception(site: Site, sqlite_store: Store) -> None:
    async def scenario() -> Any:
        writer = _writer(site, sqlite_store, free_port())
        try:
            return await writer.write(BATTERY, "power_setpoint_w", 10)
        finally:
            await writer._poller.close()  # type: ignore[union-attr]

    outcome = _run(scenario())
    assert outcome.status is WriteStatus.DEVICE_ERROR
    assert "cannot connect" in outcome.detail
    assert outcome.written is None


def test_commissioning_write_goes_to_the_audit_log(site: Site, store: Store, tk: TkServer) -> None:
    async def scenario() -> Any:
        writer = _writer(site, store, tk.port, audit=True)
        try:
            return await writer.write(BATTERY, "power_setpoint_w", 250)
        finally:
            await writer._poller.close()  # type: ignore[union-attr]

    _run(scenario())
    (entry,) = read_audit(store, action="setpoint.write")
    assert entry["actor"] == "cli:test"
    assert entry["target"] == f"{BATTERY}.power_setpoint_w"
    assert entry["detail"]["status"] == "ok"
    assert entry["detail"]["read_back"] == 250


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    requested=st.floats(-1e6, 1e6, allow_nan=False),
    device_max=st.integers(0, 5000),
    caller_high=st.none() | st.floats(-6000, 5000),
)
def test_property_what_reaches_the_device_is_within_every_limit(
    site: Site, tk: TkServer, requested: float, device_max: int, caller_high: float | None
) -> None:
    tk.set("holding", 1, [device_max])
    tk.set("holding", 2, reference_registers("int32", 0))

    async def scenario() -> Any:
        writer = _writer(site, None, tk.port)
        try:
            return await writer.write(
                BATTERY, "power_setpoint_w", requested, limits=(None, caller_high)
            )
        finally:
            await writer._poller.close()  # type: ignore[union-attr]

    outcome = _run(scenario())
    high = min(device_max, 5000, caller_high if caller_high is not None else math.inf)
    if high < -5000:
        assert outcome.status is WriteStatus.DEVICE_ERROR, "contradicting limits: nothing written"
        assert tk.get("holding", 2, 2) == reference_registers("int32", 0)
        return
    assert outcome.confirmed
    assert outcome.written is not None
    assert -5000 - 0.5 <= outcome.written <= high + 0.5  # int32 register: nearest whole watt
    assert (outcome.status is WriteStatus.OK) == (-5000 <= requested <= high)
    raw = tk.get("holding", 2, 2)
    assert raw == reference_registers("int32", round(outcome.written))
