"""The dispatcher: the active plan's slot to register writes, stale refusal, local release,
external limits, operator overrides and the alarms that say why."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.registermap import SG_READY_CONTACTS, load_register_map
from connectors.writer import WriteStatus
from energy.control.commands import CommandKind, DeviceCommand
from energy.control.dispatch import Dispatcher, device_writes
from energy.quality import Quality
from energy.site import AssetKind, Site
from energy.store import Store
from energy.store.alarms import list_alarms
from energy.store.controls import AssetMode, OverrideKind, add_override, set_asset_mode
from energy.store.measurements import write_measurements
from energy.store.plans import PlanState, activate_plan, decide_plan, get_plan, save_plan
from optimizer.plant import Plant

NOW = dt.datetime(2026, 6, 1, 12, 5, tzinfo=dt.UTC)
SLOTS = pd.date_range("2026-06-01T12:00Z", periods=8, freq="15min")
PLAN_KW = {
    "house-01.battery": 1.5,
    "house-06.battery": -2.0,
    "house-07.battery": -1.0,
    "house-01.hp": 2.0,
    "house-02.hp": 3.2,
    "carport-ev": 3.7,
}


#: What balancing reads from a plan: the SMA battery's energy is worth more to the plan than a
#: kWh imported now.
BALANCING_VALUES = {
    ("house-07.battery", "stored_value_eur_per_kwh"): 0.50,
    ("grid", "import_weight_per_kwh"): 0.30,
    ("grid", "export_credit_per_kwh"): 0.08,
}


def _release_point(site: Site, asset_id: str) -> str:
    register_map = load_register_map(site.asset(asset_id).device.register_map, asset_id)  # type: ignore[union-attr]
    (write,) = device_writes(
        site, register_map, DeviceCommand(asset_id, CommandKind.RELEASE_TO_LOCAL, None)
    )
    return write.point


def _plan(
    store: Store,
    site: Site,
    activate: bool = True,
    approve: bool = True,
    extra: dict[tuple[str, str], float] | None = None,
) -> int:
    """The plan of PLAN_KW in every slot, with `extra` (asset, quantity) values as well."""
    rows = [(a, "power_kw", s, v) for a, v in PLAN_KW.items() for s in SLOTS]
    rows += [(a, q, s, v) for (a, q), v in (extra or {}).items() for s in SLOTS]
    # the district imports 20 kW, house 6 has no planned load: its battery's discharge is not
    # self-consumption
    rows += [("grid", "import_kw", s, 20.0) for s in SLOTS]
    values = pd.DataFrame(rows, columns=["asset_id", "quantity", "slot_start", "value"])
    plan = save_plan(
        store,
        site.id,
        values,
        created_at=SLOTS[0].to_pydatetime(),
        horizon_start=SLOTS[0].to_pydatetime(),
        horizon_end=(SLOTS[-1] + pd.Timedelta("15min")).to_pydatetime(),
        slot_minutes=15,
        solver_status="optimal",
    )
    if approve:
        decide_plan(store, plan.id, True, "operator", NOW)
    if activate:
        activate_plan(store, plan.id, NOW)
    return plan.id


def _dispatch(site: Site, store: Store, writer: Any, now: dt.datetime = NOW):
    dispatcher = Dispatcher(site, store, writer, stale_after_s=30)  # type: ignore[arg-type]
    return dispatcher, asyncio.run(dispatcher.dispatch_once(now))


def _alarms(store: Store, site: Site) -> dict[tuple[str, str], dict]:
    return {(a["code"], a["source"]): a for a in list_alarms(store, site.id)}


def test_the_plan_slot_is_written_in_each_device_unit(
    store: Store, site: Site, writer: Any, measure: Callable[..., None]
) -> None:
    measure(NOW - dt.timedelta(seconds=5))
    _plan(store, site)
    _, report = _dispatch(site, store, writer)
    assert report.plan is not None
    assert not report.failed
    assert not report.stale
    # charging from the grid: the planned power
    assert writer.points("house-01.battery") == {"power_setpoint_w": pytest.approx(1500.0)}
    # a discharging redox-flow home battery behind the flow battery map (float kW), which offers
    # grid-target mode: it holds its house's planned exchange, an export of 2 kW (no load or PV
    # planned in this house)
    assert writer.points("house-06.battery") == {"grid_target_kw": pytest.approx(-2.0)}
    # the SMA map has no grid target: the planned power as a setpoint (discharge positive)
    assert writer.points("house-07.battery")["WCtlComCfg_WSpt"] == pytest.approx(1000.0)
    assert writer.points("house-01.hp") == {"power_setpoint_w": pytest.approx(2000.0)}
    assert writer.points("house-02.hp") == {"sg_ready_state": 4.0}  # SG Ready: full power
    # a battery whose plan is plain self-consumption is left to its local mode (house 4: the
    # SunSpec storage map, released through WSetEna)
    assert writer.points("house-04.battery") == {_release_point(site, "house-04.battery"): 0.0}
    # the EV charger gets the planned charging power as its limit
    assert writer.points("carport-ev") == {"charge_limit_w": pytest.approx(3700.0)}
    # no curtailment planned: PV stays in maximum power point tracking (local)
    assert writer.points("house-01.pv") == {_release_point(site, "house-01.pv"): 0.0}
    assert ("no_valid_plan", "dispatch") not in _alarms(store, site)


def test_without_a_plan_every_device_is_released_once_and_an_alarm_raised(
    store: Store, site: Site, writer: Any, measure: Callable[..., None]
) -> None:
    measure(NOW - dt.timedelta(seconds=5))
    dispatcher, report = _dispatch(site, store, writer)
    controllable = {
        a.id
        for a in site.devices()
        if a.kind in (AssetKind.BATTERY, AssetKind.HEAT_PUMP, AssetKind.PV, AssetKind.EV_CHARGER)
    }
    assert set(report.released) == controllable
    assert writer.points("house-06.battery") == {"remote_enable": False}
    assert writer.points("carport-ev") == {"control_mode": 0.0}
    assert writer.points("house-01.battery") == {"control_mode": 0.0}
    alarm = _alarms(store, site)[("no_valid_plan", "dispatch")]
    assert "released to local mode" in alarm["message"]
    # released devices are not written again every cycle
    before = len(writer.writes)
    asyncio.run(dispatcher.dispatch_once(NOW + dt.timedelta(seconds=5)))
    assert len(writer.writes) == before


def test_a_plan_past_its_horizon_never_runs(
    store: Store, site: Site, writer: Any, measure: Callable[..., None]
) -> None:
    plan_id = _plan(store, site)
    later = SLOTS[-1].to_pydatetime() + dt.timedelta(minutes=20)
    measure(later - dt.timedelta(seconds=5))
    _, report = _dispatch(site, store, writer, now=later)
    assert report.plan is None
    assert get_plan(store, plan_id).state is PlanState.EXPIRED
    assert (
        writer.points("house-01.battery").keys().isdisjoint({"power_setpoint_w", "grid_target_w"})
    )


def test_an_operator_approved_plan_becomes_active_at_the_next_cycle(
    store: Store, site: Site, writer: Any, measure: Callable[..., None]
) -> None:
    measure(NOW - dt.timedelta(seconds=5))
    plan_id = _plan(store, site, activate=False)
    _, report = _dispatch(site, store, writer)
    assert report.plan is not None
    assert report.plan.id == plan_id
    assert get_plan(store, plan_id).state is PlanState.ACTIVE


def test_a_proposed_or_rejected_plan_never_dispatches(
    store: Store, site: Site, writer: Any, measure: Callable[..., None]
) -> None:
    measure(NOW - dt.timedelta(seconds=5))
    proposed = _plan(store, site, activate=False, approve=False)
    _, report = _dispatch(site, store, writer)
    assert report.plan is None
    decide_plan(store, proposed, False, "operator", NOW)
    _, report = _dispatch(site, store, writer)
    assert report.plan is None
    assert (
        writer.points("house-01.battery").keys().isdisjoint({"power_setpoint_w", "grid_target_w"})
    )


def test_stale_inputs_release_that_device_and_raise_a_critical_alarm(
    store: Store, site: Site, writer: Any, measure: Callable[..., None]
) -> None:
    measure(NOW - dt.timedelta(seconds=5), quality={"house-01.battery": Quality.STALE})
    _plan(store, site)
    dispatcher, report = _dispatch(site, store, writer)
    assert "house-01.battery" in report.stale
    assert writer.points("house-01.battery") == {"control_mode": 0.0}
    assert writer.points("house-06.battery") == {"grid_target_kw": pytest.approx(-2.0)}
    alarm = _alarms(store, site)[("stale_input", "house-01.battery")]
    assert alarm["severity"] == "critical"
    assert "STALE" in alarm["message"]
    # fresh again: controlled again, alarm cleared
    measure(NOW + dt.timedelta(seconds=1))
    asyncio.run(dispatcher.dispatch_once(NOW + dt.timedelta(seconds=5)))
    assert writer.points("house-01.battery")["power_setpoint_w"] == pytest.approx(1500.0)
    assert ("stale_input", "house-01.battery") not in _alarms(store, site)


def test_a_stale_grid_meter_releases_everything(
    store: Store, site: Site, writer: Any, measure: Callable[..., None]
) -> None:
    measure(NOW - dt.timedelta(seconds=5), quality={"grid.meter": Quality.STALE})
    _plan(store, site)
    _, report = _dispatch(site, store, writer)
    assert not any(p.startswith("power_setpoint") for _, p, _, _ in writer.writes)
    assert ("stale_input", "grid.meter") in _alarms(store, site)
    assert "house-01.hp" in report.released


def test_grid_operator_dimming_caps_the_heat_pump_over_the_plan(
    store: Store, site: Site, writer: Any, measure: Callable[..., None]
) -> None:
    # section 14a EnWG: the heat pump reports a 1.2 kW cap; the plan wants 2.0 kW
    measure(NOW - dt.timedelta(seconds=5), extra={("house-01.hp", "dimming_cap_kw"): 1.2})
    _plan(store, site)
    _dispatch(site, store, writer)
    assert writer.points("house-01.hp")["power_setpoint_w"] <= 1200.0


def test_overrides_and_manual_mode_take_precedence_over_the_plan(
    store: Store, site: Site, writer: Any, measure: Callable[..., None]
) -> None:
    measure(NOW - dt.timedelta(seconds=5))
    _plan(store, site)
    expires = NOW + dt.timedelta(hours=1)
    add_override(
        store, site.id, "house-01.battery", OverrideKind.SETPOINT, -2.0, expires, "op", NOW
    )
    add_override(store, site.id, "house-06.battery", OverrideKind.LOCAL, None, expires, "op", NOW)
    add_override(store, site.id, "carport-ev", OverrideKind.SETPOINT, 30.0, expires, "op", NOW)
    set_asset_mode(store, site.id, "house-01.hp", AssetMode.MANUAL, "op", NOW)
    _dispatch(site, store, writer)
    assert writer.points("house-01.battery") == {"power_setpoint_w": pytest.approx(-2000.0)}
    assert writer.points("house-06.battery") == {"remote_enable": False}
    # an override above the charger's rating is clamped to it
    assert writer.points("carport-ev") == {"charge_limit_w": pytest.approx(11000.0)}
    assert writer.points("house-01.hp") == {}  # manual: the platform leaves it alone


def test_a_failed_write_raises_an_alarm_naming_the_device(
    store: Store, site: Site, writer: Any, measure: Callable[..., None]
) -> None:
    measure(NOW - dt.timedelta(seconds=5))
    _plan(store, site)
    writer.fail["house-01.battery"] = WriteStatus.DEVICE_ERROR
    dispatcher, report = _dispatch(site, store, writer)
    assert "house-01.battery" in report.failed
    alarm = _alarms(store, site)[("write_failed", "house-01.battery")]
    assert "device_error" in alarm["message"]
    writer.fail.clear()
    asyncio.run(dispatcher.dispatch_once(NOW + dt.timedelta(seconds=5)))
    assert ("write_failed", "house-01.battery") not in _alarms(store, site)


def test_release_all_hands_back_every_device(site: Site, store: Store, writer: Any) -> None:
    dispatcher = Dispatcher(site, store, writer, stale_after_s=30)  # type: ignore[arg-type]
    problems = asyncio.run(dispatcher.release_all("shutdown"))
    assert problems == {}
    released = {a for a, _, _, _ in writer.writes}
    assert "house-07.hp" in released
    assert "house-06.battery" in released
    assert "carport-ev" in released
    assert len(dispatcher.last_outcomes) == len(released)


def test_an_unchanged_setpoint_held_in_remote_mode_is_renewed_by_the_watchdog_feed(
    store: Store, site: Site, writer: Any, measure: Callable[..., None]
) -> None:
    remote = {("house-01.battery", "mode"): 1.0}
    measure(NOW - dt.timedelta(seconds=5), extra=remote)
    _plan(store, site)
    dispatcher, _ = _dispatch(site, store, writer)
    setpoints = len([w for w in writer.writes if w[0] == "house-01.battery"])
    measure(NOW + dt.timedelta(seconds=3), extra=remote)
    asyncio.run(dispatcher.dispatch_once(NOW + dt.timedelta(seconds=5)))
    assert len([w for w in writer.writes if w[0] == "house-01.battery"]) == setpoints
    assert writer.feeds.count("house-01.battery") == 1
    # the device fell back to local mode: the setpoint is written again at once
    measure(NOW + dt.timedelta(seconds=8), extra={("house-01.battery", "mode"): 0.0})
    asyncio.run(dispatcher.dispatch_once(NOW + dt.timedelta(seconds=10)))
    assert len([w for w in writer.writes if w[0] == "house-01.battery"]) == setpoints + 1
    # and in any case after REWRITE_AFTER_S
    measure(NOW + dt.timedelta(seconds=12), extra=remote)
    asyncio.run(dispatcher.dispatch_once(NOW + dt.timedelta(seconds=15)))
    assert writer.feeds.count("house-01.battery") == 2
    measure(NOW + dt.timedelta(seconds=80), extra=remote)
    asyncio.run(dispatcher.dispatch_once(NOW + dt.timedelta(seconds=85)))
    assert len([w for w in writer.writes if w[0] == "house-01.battery"]) == setpoints + 2


def _writes(site: Site, map_name: str, command: DeviceCommand) -> list[tuple[str, float | bool]]:
    return [(w.point, w.value) for w in device_writes(site, load_register_map(map_name), command)]


def test_a_grid_target_goes_to_its_point_and_a_map_without_one_refuses_it(site: Site) -> None:
    target = DeviceCommand("house-01.battery", CommandKind.BATTERY_GRID_TARGET_KW, -1.5)
    assert _writes(site, "battery_generic.yaml", target) == [("grid_target_w", -1500.0)]
    assert _writes(site, "flow_battery_generic.yaml", target) == [("grid_target_kw", -1.5)]
    with pytest.raises(ValueError, match=r"sma_storage.*no writable point with quantity 'grid_tar"):
        _writes(site, "sma_storage.yaml", target)


def test_vendor_maps_get_their_enable_switch_after_the_setpoint_and_release_through_it(
    site: Site,
) -> None:
    battery = "house-04.battery"
    charge = DeviceCommand(battery, CommandKind.BATTERY_POWER_KW, 2.0)
    release = DeviceCommand(battery, CommandKind.RELEASE_TO_LOCAL, None)
    # SunSpec counts generation positive: charging 2 kW is WSet -2000 W
    assert _writes(site, "sunspec_battery.yaml", charge) == [("WSet", -2000.0), ("WSetEna", 1.0)]
    assert _writes(site, "sunspec_battery.yaml", release) == [("WSetEna", 0.0)]
    assert _writes(site, "sma_storage.yaml", charge) == [
        ("WCtlComCfg_WSpt", -2000.0),
        ("WCtlComCfg_WCtlComAct", 802.0),
    ]
    assert _writes(site, "sma_storage.yaml", release) == [("WCtlComCfg_WCtlComAct", 803.0)]


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (1, [("sg_ready_input_1", 0.0), ("sg_ready_input_2", 1.0)]),
        (2, [("sg_ready_input_2", 0.0), ("sg_ready_input_1", 0.0)]),
        (3, [("sg_ready_input_2", 0.0), ("sg_ready_input_1", 1.0)]),
        (4, [("sg_ready_input_1", 1.0), ("sg_ready_input_2", 1.0)]),
    ],
)
def test_sg_ready_contacts_open_before_they_close_then_sg_ready_is_switched_on(
    site: Site, state: int, expected: list[tuple[str, float]]
) -> None:
    command = DeviceCommand("house-02.hp", CommandKind.SG_READY_STATE, float(state))
    assert _writes(site, "stiebel_isg_heatpump.yaml", command) == [*expected, ("sg_ready_on", 1.0)]


def test_an_sg_ready_state_outside_1_to_4_is_refused(site: Site) -> None:
    command = DeviceCommand("house-02.hp", CommandKind.SG_READY_STATE, 5.0)
    with pytest.raises(ValueError, match=r"SG Ready state must be 1\.\.4; found 5"):
        _writes(site, "stiebel_isg_heatpump.yaml", command)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(start=st.integers(1, 4), target=st.integers(1, 4))
def test_property_contact_writes_never_pass_through_an_unasked_lock_or_forced_run(
    site: Site, start: int, target: int
) -> None:
    register_map = load_register_map("stiebel_isg_heatpump.yaml")
    from_contacts = {contacts: state for state, contacts in SG_READY_CONTACTS.items()}
    closed = dict(
        zip(("sg_ready_contact_a", "sg_ready_contact_b"), SG_READY_CONTACTS[start], strict=True)
    )
    command = DeviceCommand("house-02.hp", CommandKind.SG_READY_STATE, float(target))
    for write in device_writes(site, register_map, command):
        quantity = register_map.point(write.point).quantity
        if quantity not in closed:
            continue
        closed[quantity] = bool(write.value)
        seen = from_contacts[(closed["sg_ready_contact_a"], closed["sg_ready_contact_b"])]
        assert seen in {start, target, 2, 3}  # normal or recommended on in between
    assert from_contacts[(closed["sg_ready_contact_a"], closed["sg_ready_contact_b"])] == target


@pytest.mark.parametrize(
    ("now", "alarmed"),
    [
        (dt.datetime(2026, 6, 1, 23, 30, tzinfo=dt.UTC), False),  # 01:30 local: asleep
        (NOW, True),  # 14:05 local in June: an inverter silent at noon is a fault
    ],
)
def test_a_silent_inverter_is_critical_by_day_and_asleep_at_night(
    store: Store,
    site: Site,
    writer: Any,
    measure: Callable[..., None],
    now: dt.datetime,
    alarmed: bool,
) -> None:
    measure(now - dt.timedelta(seconds=5), quality={"house-01.pv": Quality.STALE})
    _, report = _dispatch(site, store, writer, now)
    assert "house-01.pv" in report.stale  # never controlled while silent, either way
    alarms = _alarms(store, site)
    assert (("stale_input", "house-01.pv") in alarms) is alarmed
    if alarmed:
        assert alarms[("stale_input", "house-01.pv")]["severity"] == "critical"


def test_a_battery_on_a_setpoint_takes_the_districts_deviation_where_the_plan_values_it(
    store: Store, site: Site, writer: Any, measure: Callable[..., None]
) -> None:
    """Balancing: the grid meter reads 1 kW against the 20 kW the plan imports; the SMA battery
    (a power setpoint, discharging 1 kW) holds energy the plan values above the import price, so
    it charges from what the district no longer imports, by the configured gain's share."""
    measure(NOW - dt.timedelta(seconds=5))
    _plan(store, site, extra=BALANCING_VALUES)
    _, report = _dispatch(site, store, writer)
    assert not report.failed
    battery = next(b for b in Plant.from_site(site).batteries if b.id == "house-07.battery")
    gain = site.config.control.balancing_gain
    expected_kw = min(-1.0 + gain * (20.0 - 1.0), battery.config.charge_max_kw)
    # the SMA map's setpoint is discharge positive, in W
    assert writer.points("house-07.battery")["WCtlComCfg_WSpt"] == pytest.approx(
        -1000.0 * expected_kw
    )
    # the battery charging from the grid at its planned power has no stored value: not moved
    assert writer.points("house-01.battery") == {"power_setpoint_w": pytest.approx(1500.0)}


def test_a_balanced_move_within_the_deadband_is_not_written_again(
    store: Store, site: Site, writer: Any, measure: Callable[..., None]
) -> None:
    """Each write is a row of the setpoint log: a move smaller than control.balancing_deadband_kw
    keeps the setpoint written (its watchdog is fed), a larger one is written."""

    def grid_meter(time: dt.datetime, kw: float) -> None:
        frame = pd.DataFrame(
            [("grid.meter", "power_kw", time, kw, int(Quality.GOOD))],
            columns=["asset_id", "quantity", "time", "value", "quality"],
        )
        frame["time"] = pd.to_datetime(frame["time"], utc=True)
        write_measurements(store, site.id, frame)

    measure(NOW - dt.timedelta(seconds=5), extra={("house-07.battery", "mode"): 1.0})
    grid_meter(NOW - dt.timedelta(seconds=4), 20.0)  # on plan
    _plan(store, site, extra=BALANCING_VALUES)
    assert site.config.control.balancing_gain == 0.5
    assert site.config.control.balancing_deadband_kw == 0.2
    dispatcher = Dispatcher(site, store, writer, stale_after_s=30)  # type: ignore[arg-type]

    def setpoint_writes() -> list[float | bool]:
        return [v for a, p, v, _ in writer.writes if a == "house-07.battery" and p.endswith("WSpt")]

    asyncio.run(dispatcher.dispatch_once(NOW))
    assert setpoint_writes() == [pytest.approx(1000.0)]  # the plan's 1 kW discharge
    # 0.2 kW less import than planned: half of it is a 0.1 kW move, inside the deadband
    grid_meter(NOW + dt.timedelta(seconds=1), 19.8)
    asyncio.run(dispatcher.dispatch_once(NOW + dt.timedelta(seconds=5)))
    assert setpoint_writes() == [pytest.approx(1000.0)]
    assert "house-07.battery" in writer.feeds
    # 1 kW less: the move grows to 0.6 kW, which is written
    grid_meter(NOW + dt.timedelta(seconds=6), 19.0)
    asyncio.run(dispatcher.dispatch_once(NOW + dt.timedelta(seconds=10)))
    assert setpoint_writes() == [pytest.approx(1000.0), pytest.approx(400.0)]
