"""District balancing: the batteries on power setpoints take the deviation from the planned grid
exchange, cheapest first, where the plan's stored-energy values say it pays."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy.control.balancing import SOC_MARGIN_FRAC, DistrictBalancer
from energy.control.commands import CommandKind, DeviceCommand
from energy.site import Site
from optimizer import GRID_ID
from optimizer.plant import BatteryUnit, Plant

NOW = pd.Timestamp("2026-07-02T21:03Z")
IMPORT_PRICE, EXPORT_PRICE = 0.30, 0.08


@pytest.fixture
def plant(site: Site) -> Plant:
    return Plant.from_site(site)


def _two(plant: Plant) -> tuple[BatteryUnit, BatteryUnit]:
    first, second = plant.batteries[0], plant.batteries[1]
    return first, second


def _values(
    planned_grid_kw: float, stored: dict[str, float], *, import_price: float = IMPORT_PRICE
) -> dict[tuple[str, str], float]:
    values = {
        (GRID_ID, "import_kw"): max(planned_grid_kw, 0.0),
        (GRID_ID, "export_kw"): max(-planned_grid_kw, 0.0),
        (GRID_ID, "import_weight_per_kwh"): import_price,
        (GRID_ID, "export_credit_per_kwh"): EXPORT_PRICE,
    }
    values.update({(a, "stored_value_eur_per_kwh"): v for a, v in stored.items()})
    return values


def _setpoints(commands: list[DeviceCommand]) -> dict[str, float]:
    return {
        c.asset_id: c.value
        for c in commands
        if c.kind is CommandKind.BATTERY_POWER_KW and c.value is not None
    }


def _discharge_cost(battery: BatteryUnit, stored: float) -> float:
    c = battery.config
    return stored / c.discharge_efficiency_frac + c.cycle_cost_eur_per_kwh


def test_no_deviation_keeps_the_plan(plant: Plant) -> None:
    a, b = _two(plant)
    commands = [
        DeviceCommand(a.id, CommandKind.BATTERY_POWER_KW, 0.0),
        DeviceCommand(b.id, CommandKind.BATTERY_POWER_KW, -1.0),
    ]
    balancer = DistrictBalancer(plant, 1.0)
    out = balancer.adjust(commands, _values(2.0, {a.id: 0.1, b.id: 0.1}), NOW, 2.0, {})
    assert out == commands
    assert balancer.move_kw == 0.0


def test_more_import_than_planned_is_taken_by_the_cheapest_battery_first(plant: Plant) -> None:
    a, b = _two(plant)
    # a's energy is worth less to the plan than b's: a goes first
    stored = {a.id: 0.05, b.id: 0.15}
    assert _discharge_cost(a, 0.05) < _discharge_cost(b, 0.15) < IMPORT_PRICE
    commands = [
        DeviceCommand(a.id, CommandKind.BATTERY_POWER_KW, 0.0),
        DeviceCommand(b.id, CommandKind.BATTERY_POWER_KW, 0.0),
    ]
    deviation = a.config.discharge_max_kw + 0.5
    balancer = DistrictBalancer(plant, 1.0)
    out = _setpoints(
        balancer.adjust(
            commands, _values(1.0, stored), NOW, 1.0 + deviation, {a.id: 0.5, b.id: 0.5}
        )
    )
    assert out[a.id] == pytest.approx(-a.config.discharge_max_kw)
    assert out[b.id] == pytest.approx(-0.5)
    assert balancer.move_kw == pytest.approx(deviation)


def test_a_battery_dearer_than_the_import_price_is_not_moved(plant: Plant) -> None:
    a, b = _two(plant)
    # b's energy is kept for the evening peak: a kWh from it costs more than importing now
    stored = {a.id: 0.05, b.id: 0.40}
    assert _discharge_cost(b, 0.40) > IMPORT_PRICE
    commands = [
        DeviceCommand(a.id, CommandKind.BATTERY_POWER_KW, -a.config.discharge_max_kw),
        DeviceCommand(b.id, CommandKind.BATTERY_POWER_KW, 0.0),
    ]
    out = _setpoints(
        DistrictBalancer(plant, 1.0).adjust(
            commands, _values(1.0, stored), NOW, 3.0, {a.id: 0.5, b.id: 0.5}
        )
    )
    # a is at its discharge limit already, b may not go: the deviation stays on the grid
    assert out == {a.id: -a.config.discharge_max_kw, b.id: 0.0}


def test_surplus_goes_into_a_battery_only_where_its_energy_is_worth_more_than_export(
    plant: Plant,
) -> None:
    a, b = _two(plant)
    commands = [
        DeviceCommand(a.id, CommandKind.BATTERY_POWER_KW, 0.0),
        DeviceCommand(b.id, CommandKind.BATTERY_POWER_KW, 0.0),
    ]
    # the district exports 2 kW more than planned; a's energy is worth little (below export)
    stored = {a.id: 0.01, b.id: 0.20}
    out = _setpoints(
        DistrictBalancer(plant, 1.0).adjust(
            commands, _values(-1.0, stored), NOW, -3.0, {a.id: 0.5, b.id: 0.5}
        )
    )
    assert out[a.id] == 0.0
    assert out[b.id] == pytest.approx(2.0)


def test_less_import_than_planned_is_not_charged_from_the_grid(plant: Plant) -> None:
    a, _ = _two(plant)
    commands = [DeviceCommand(a.id, CommandKind.BATTERY_POWER_KW, 0.0)]
    out = DistrictBalancer(plant, 1.0).adjust(
        commands, _values(3.0, {a.id: 0.20}), NOW, 1.0, {a.id: 0.5}
    )
    # a kWh into a is worth 0.20 x efficiency, less than the 0.30 import it would cost
    assert out == commands


def test_grid_targets_local_mode_overrides_and_limits_are_left_alone(plant: Plant) -> None:
    a, b = _two(plant)
    c = plant.batteries[2]
    commands = [
        DeviceCommand(a.id, CommandKind.BATTERY_GRID_TARGET_KW, 0.5),
        DeviceCommand(b.id, CommandKind.RELEASE_TO_LOCAL, None, "plan"),
        DeviceCommand(c.id, CommandKind.BATTERY_POWER_KW, 0.0, "override"),
    ]
    stored = {x.id: 0.01 for x in (a, b, c)}
    out = DistrictBalancer(plant, 1.0).adjust(commands, _values(1.0, stored), NOW, 5.0, {})
    assert out == commands


def test_a_plan_without_duals_and_an_empty_battery_are_not_balanced(plant: Plant) -> None:
    a, b = _two(plant)
    commands = [
        DeviceCommand(a.id, CommandKind.BATTERY_POWER_KW, 0.0),
        DeviceCommand(b.id, CommandKind.BATTERY_POWER_KW, 0.0),
    ]
    balancer = DistrictBalancer(plant, 1.0)
    empty = b.energy_min_kwh / b.config.capacity_kwh + SOC_MARGIN_FRAC / 2
    out = balancer.adjust(commands, _values(1.0, {b.id: 0.01}), NOW, 4.0, {a.id: 0.5, b.id: empty})
    assert out == commands  # a has no stored value (no duals), b is at the bottom of its band
    assert balancer.adjust(commands, None, NOW, 4.0, {a.id: 0.5}) == commands


def test_the_move_is_held_while_the_grid_follows_the_plan_and_a_new_slot_starts_afresh(
    plant: Plant,
) -> None:
    a, _ = _two(plant)
    commands = [DeviceCommand(a.id, CommandKind.BATTERY_POWER_KW, 0.0)]
    values = _values(1.0, {a.id: 0.05})
    balancer = DistrictBalancer(plant, 1.0)
    first = _setpoints(balancer.adjust(commands, values, NOW, 2.0, {a.id: 0.5}))
    assert first[a.id] == pytest.approx(-1.0)
    # the next cycle measures the exchange back on plan: the move stays
    held = _setpoints(
        balancer.adjust(commands, values, NOW + pd.Timedelta("1min"), 1.0, {a.id: 0.5})
    )
    assert held[a.id] == pytest.approx(-1.0)
    later = NOW + pd.Timedelta("15min")
    assert balancer.adjust(commands, values, later, 1.0, {a.id: 0.5}) == commands


def test_a_gain_below_one_moves_part_of_the_deviation_and_a_charge_cap_holds(
    plant: Plant,
) -> None:
    a, _ = _two(plant)
    commands = [DeviceCommand(a.id, CommandKind.BATTERY_POWER_KW, 0.0)]
    values = _values(-1.0, {a.id: 0.20})
    half = DistrictBalancer(plant, gain=0.5)
    out = _setpoints(half.adjust(commands, values, NOW, -3.0, {a.id: 0.5}))
    assert out[a.id] == pytest.approx(1.0)
    capped = _setpoints(
        DistrictBalancer(plant, 1.0).adjust(commands, values, NOW, -5.0, {a.id: 0.5}, {a.id: 0.7})
    )
    assert capped[a.id] == pytest.approx(0.7)
    with pytest.raises(ValueError, match="gain"):
        DistrictBalancer(plant, gain=0.0)


@settings(max_examples=200, deadline=None)
@given(
    planned=st.floats(-20, 20),
    measured=st.floats(-20, 20),
    stored=st.lists(st.floats(0.0, 0.6), min_size=3, max_size=3),
    setpoints=st.lists(st.floats(-1.0, 1.0), min_size=3, max_size=3),
    socs=st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3),
)
def test_property_moves_stay_within_ratings_and_go_the_deviations_way(
    site: Site,
    planned: float,
    measured: float,
    stored: list[float],
    setpoints: list[float],
    socs: list[float],
) -> None:
    plant = Plant.from_site(site)
    batteries = plant.batteries[:3]
    commands = [
        DeviceCommand(b.id, CommandKind.BATTERY_POWER_KW, p)
        for b, p in zip(batteries, setpoints, strict=True)
    ]
    balancer = DistrictBalancer(plant, 1.0)
    values = _values(planned, {b.id: v for b, v in zip(batteries, stored, strict=True)})
    soc = {b.id: s for b, s in zip(batteries, socs, strict=True)}
    out = _setpoints(balancer.adjust(commands, values, NOW, measured, soc))
    deviation = measured - planned
    moved = 0.0
    for battery, before in zip(batteries, setpoints, strict=True):
        after = out[battery.id]
        assert -battery.config.discharge_max_kw - 1e-9 <= after
        assert after <= max(before, battery.config.charge_max_kw) + 1e-9
        # never against the deviation: more import than planned only ever discharges more
        assert (after - before) * deviation <= 1e-9
        moved += before - after
    assert abs(moved) <= abs(deviation) + 1e-9
    assert math.isclose(balancer.move_kw, moved, abs_tol=1e-9)
