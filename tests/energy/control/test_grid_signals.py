"""The grid operator's limits in the control loop: the control box's failsafe, the share of a
dimming limit per device, the optimizer's grid bounds per slot and the clamped commands."""

from __future__ import annotations

import asyncio
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from connectors.device_client import DeviceError, PointReading
from energy.config import (
    CONTROL_BOX_ID,
    ControlBoxConfig,
    ControlBoxContact,
    DeviceEndpoint,
    GridSignalsConfig,
)
from energy.control.commands import CommandKind, commands_for_slot
from energy.control.grid_signals import GridSignals, combined_limits
from energy.control.planning import ExternalLimits
from energy.grid_limits import GridLimit, LimitKind, LimitsInForce
from energy.quality import Quality
from energy.site import Site
from energy.store import Store
from energy.store.alarms import list_alarms
from energy.store.audit import read_audit

T0 = dt.datetime(2026, 1, 15, 10, 0, tzinfo=dt.UTC)


class FakeBox:
    """Stands in for the control box's DeviceClient: contacts closed, or silent."""

    def __init__(self) -> None:
        self.closed: dict[str, bool] = {"di_1": False, "di_2": False}
        self.silent = False

    async def read_points(self, names: list[str]) -> dict[str, PointReading]:
        if self.silent:
            raise DeviceError(CONTROL_BOX_ID, "timed out")
        return {n: PointReading(self.closed[n], Quality.GOOD, T0) for n in names}

    async def close(self) -> None:
        return None


def signalled(site: Site, failsafe_h: float = 2.0) -> Site:
    box = ControlBoxConfig(
        device=DeviceEndpoint(port=15190, register_map="wago_750_352_io.yaml"),
        contacts=[
            ControlBoxContact(point="di_1", dimming_kw=20.0),
            ControlBoxContact(point="di_2", feed_in_kw=5.0),
        ],
    )
    signals = GridSignalsConfig(failsafe_h=failsafe_h, control_box=box)
    return Site.from_config(site.config.model_copy(update={"grid_signals": signals}))


def test_a_silent_control_box_keeps_its_last_limits_for_the_failsafe_then_lifts_them(
    store: Store, site: Site
) -> None:
    box = FakeBox()
    signals = GridSignals(signalled(site, failsafe_h=1.5), store, box)  # type: ignore[arg-type]

    def at(minutes: float) -> LimitsInForce:
        return asyncio.run(signals.refresh(T0 + dt.timedelta(minutes=minutes)))

    assert not at(0).any
    box.closed = {"di_1": True, "di_2": True}
    closed = at(1)
    assert closed.dimming == GridLimit(LimitKind.DIMMING, 20.0, "control_box:di_1")
    assert closed.feed_in == GridLimit(LimitKind.FEED_IN, 5.0, "control_box:di_2")
    box.silent = True
    kept = at(60)
    end = T0 + dt.timedelta(minutes=1 + 90)
    assert kept.dimming == GridLimit(LimitKind.DIMMING, 20.0, "control_box:di_1", end)
    (alarm,) = [a for a in list_alarms(store, site.id) if a["code"] == "grid_signal_lost"]
    assert "until" in alarm["message"]
    assert at(91).dimming is None  # the failsafe ended at minute 91
    box.silent = False
    box.closed = {"di_1": False, "di_2": False}
    assert not at(95).any
    assert not [
        a for a in list_alarms(store, site.id, open_only=True) if a["code"] == "grid_signal_lost"
    ]
    changes = [e for e in read_audit(store) if e["action"] == "grid_limit.in_force"]
    # closed, failsafe end attached, lifted after the failsafe
    assert len(changes) == 3


def test_a_box_that_never_answered_puts_no_limit_in_force(store: Store, site: Site) -> None:
    box = FakeBox()
    box.silent = True
    signals = GridSignals(signalled(site), store, box)  # type: ignore[arg-type]
    assert not asyncio.run(signals.refresh(T0)).any
    assert not signals.changed


def test_the_dimming_limit_is_shared_and_merged_with_the_caps_heat_pumps_report(
    community_site: Site,
) -> None:
    site = community_site
    config = GridSignalsConfig()
    in_force = LimitsInForce(dimming=GridLimit(LimitKind.DIMMING, 0.0, "api:dso#1"))
    limits = combined_limits(site, config, in_force, {"house-01.hp": 1.5})
    assert limits is not None
    # every heat pump of the default site is rated below 4.2 kW: only the reported cap binds
    assert limits.heat_pump_cap_kw["house-01.hp"] == 1.5
    assert limits.heat_pump_cap_kw["house-06.hp"] == pytest.approx(3.4)
    assert limits.battery_charge_cap_kw["quartier-flow"] == pytest.approx(4.2)
    # house 4's redox-flow battery is rated 2 kW, below the 4.2 kW share
    assert limits.battery_charge_cap_kw["house-04.battery"] == pytest.approx(2.0)
    # the carport's 11 kW charger keeps the 4.2 kW every controllable device keeps
    assert limits.ev_charge_cap_kw == {"carport-ev": pytest.approx(4.2)}
    expected = (
        sum(limits.battery_charge_cap_kw.values())
        + 4.2
        + sum(
            min(float(a.params_dict()["electric_max_kw"]), 4.2)
            for a in site.assets
            if a.id.endswith(".hp")
        )
    )
    assert limits.dimming_kw == pytest.approx(expected)
    assert limits.until is None
    assert combined_limits(site, config, LimitsInForce(), {}) is None


def test_the_optimizer_bounds_follow_the_limits_while_in_force() -> None:
    index = pd.date_range("2026-01-15T10:00Z", periods=4, freq="15min")
    limits = ExternalLimits(dimming_kw=10.0, feed_in_limit_kw=3.0, until=index[2])
    imports, exports = limits.grid_bounds_over(index, np.array([1.0, 2.0, 3.0, 4.0]))
    assert imports is not None
    assert exports is not None
    np.testing.assert_allclose(imports, [11.0, 12.0, np.inf, np.inf])
    np.testing.assert_allclose(exports, [3.0, 3.0, np.inf, np.inf])


def test_a_charging_battery_is_clamped_to_its_share_and_discharging_is_not(
    community_site: Site,
) -> None:
    site = community_site  # house 1's battery is rated 5 kW, above its 4.2 kW share
    slot = pd.Timestamp("2026-01-15T10:00Z")
    rows = [
        ("house-01.battery", "power_kw", slot, 6.0),
        ("quartier-flow", "power_kw", slot, -10.0),
        ("grid", "import_kw", slot, 30.0),
    ]
    plan = pd.DataFrame(rows, columns=["asset_id", "quantity", "slot_start", "value"])
    limits = ExternalLimits(battery_charge_cap_kw={"house-01.battery": 4.2, "quartier-flow": 4.2})
    commands = {
        c.asset_id: c
        for c in commands_for_slot(site, plan, slot, external_limits=limits)
        if c.kind is CommandKind.BATTERY_POWER_KW
    }
    assert (commands["house-01.battery"].value, commands["house-01.battery"].source) == (
        4.2,
        "limit",
    )
    assert (commands["quartier-flow"].value, commands["quartier-flow"].source) == (-10.0, "plan")


def test_a_restart_while_the_box_is_silent_keeps_the_limits_applied_before(
    store: Store, site: Site
) -> None:
    box = FakeBox()
    box.closed = {"di_1": True, "di_2": False}
    signalled_site = signalled(site, failsafe_h=2.0)
    before = GridSignals(signalled_site, store, box)  # type: ignore[arg-type]
    assert asyncio.run(before.refresh(T0)).dimming is not None
    box.silent = True
    restarted = GridSignals(signalled_site, store, box)  # type: ignore[arg-type]
    start = T0 + dt.timedelta(minutes=10)
    kept = asyncio.run(restarted.refresh(start)).dimming
    assert kept == GridLimit(
        LimitKind.DIMMING, 20.0, "control_box:di_1", start + dt.timedelta(hours=2)
    )
    # a second restart inside that failsafe does not prolong it
    again = GridSignals(signalled_site, store, box)  # type: ignore[arg-type]
    later = asyncio.run(again.refresh(start + dt.timedelta(hours=1))).dimming
    assert later is not None
    assert later.until == start + dt.timedelta(hours=2)
    assert asyncio.run(again.refresh(start + dt.timedelta(hours=2))).dimming is None
