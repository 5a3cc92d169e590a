"""PlanningCycle: where each optimizer input comes from, and what it refuses."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from energy.control.planning import ExternalLimits, PlanningCycle, PlanningInputError
from energy.control.runtime import default_planner, reference_year_weather
from energy.control.timing import LoopTiming
from energy.physics.profiles import district_profiles
from energy.site import Site
from energy.store import Store
from energy.tariff import tariff_series
from energy.timegrid import SLOT, slot_grid
from forecasting.nowcast import Nowcast, ResidualCorrection
from optimizer import DispatchOptimizer, DispatchState, PlanStatus
from optimizer.plant import Plant

ISSUE = pd.Timestamp("2026-03-10T11:07:00Z")
HORIZON = 8


@pytest.fixture(scope="module")
def optimizer(site: Site) -> DispatchOptimizer:
    return DispatchOptimizer(site, horizon_slots=HORIZON)


@pytest.fixture(scope="module")
def realised(site: Site) -> pd.DataFrame:
    start = ISSUE.floor("D")
    return district_profiles(site, start, start + pd.Timedelta(days=1))


class FakeForecaster:
    """Returns the realised values times `factor` as the median, with spread quantiles around,
    and remembers what it was asked."""

    def __init__(
        self, realised: pd.DataFrame, targets: list[str], factor: float = 1.0, offset: float = 0.0
    ):
        loads = [c for c in realised.columns if c.endswith(":load_kw")]
        self.realised = realised.assign(**{"district:load_kw": realised[loads].sum(axis=1)})
        self.targets, self.factor, self.offset = targets, factor, offset
        self.calls: list[tuple[pd.Timestamp, pd.DataFrame, pd.DataFrame]] = []

    def predict(
        self, issue_time: pd.Timestamp, history: pd.DataFrame, weather_forecast: pd.DataFrame
    ) -> pd.DataFrame:
        self.calls.append((issue_time, history, weather_forecast))
        valid = slot_grid(issue_time, issue_time + 2 * HORIZON * SLOT)
        rows = []
        for target in self.targets:
            median = self.realised[target].reindex(valid).to_numpy() * self.factor + self.offset
            for quantile, shift in ((0.1, -5.0), (0.5, 0.0), (0.9, 5.0)):
                rows.append(
                    pd.DataFrame(
                        {
                            "target": target,
                            "model_version": "fake",
                            "issue_time": issue_time,
                            "valid_time": valid,
                            "quantile": quantile,
                            "value": median + shift,
                        }
                    )
                )
        return pd.concat(rows, ignore_index=True)


def targets(site: Site) -> list[str]:
    plant = Plant.from_site(site)
    return (
        [f"{h}:load_kw" for h in plant.houses]
        + [f"{pv.id}:pv_kw" for pv in plant.pvs]
        + [f"{h}:heat_demand_kw" for h in plant.tank_houses]
        + ["district:load_kw"]
    )


def test_perfect_foresight_takes_the_realised_future_and_the_tariff(
    site: Site, optimizer: DispatchOptimizer, realised: pd.DataFrame
) -> None:
    cycle = PlanningCycle(site, optimizer, None)
    inputs = cycle.inputs(ISSUE, realised, realised)
    index = slot_grid(ISSUE.floor("15min"), ISSUE.floor("15min") + HORIZON * SLOT)
    assert inputs.index.equals(index)
    np.testing.assert_allclose(
        inputs.load_kw["house-01"], realised["house-01:load_kw"].reindex(index)
    )
    np.testing.assert_allclose(
        inputs.pv_kw["house-03.pv"], realised["house-03.pv:pv_kw"].reindex(index)
    )
    np.testing.assert_allclose(inputs.temp_outdoor_c, realised["temp_outdoor_c"].reindex(index))
    tariff = tariff_series(site.config, index)
    np.testing.assert_allclose(
        inputs.price_import_eur_per_kwh, tariff.price_import_eur_per_kwh.to_numpy()
    )
    np.testing.assert_allclose(inputs.co2_g_per_kwh, tariff.co2_g_per_kwh.to_numpy())
    assert inputs.power_cap_kw == {}


def test_forecast_median_is_planned_and_clipped_at_zero(
    site: Site, optimizer: DispatchOptimizer, realised: pd.DataFrame
) -> None:
    forecaster = FakeForecaster(realised, targets(site), factor=0.5, offset=-0.2)
    cycle = PlanningCycle(site, optimizer, forecaster)
    history = realised.loc[: ISSUE - SLOT]
    inputs = cycle.inputs(ISSUE, history, realised)
    index = inputs.index
    np.testing.assert_allclose(
        inputs.heat_demand_kw["house-02"],
        np.clip(0.5 * realised["house-02:heat_demand_kw"].reindex(index) - 0.2, 0.0, None),
    )
    pv = realised["house-01.pv:pv_kw"].reindex(index).to_numpy()
    np.testing.assert_allclose(inputs.pv_kw["house-01.pv"], np.clip(0.5 * pv - 0.2, 0.0, None))
    assert (inputs.pv_kw["house-01.pv"] >= 0).all()
    issue, given_history, _ = forecaster.calls[-1]
    assert issue == index[0]
    assert given_history.index[-1] < index[0], "the forecaster sees no future"
    assert cycle.last_forecast is not None


def test_nowcast_corrects_the_first_slots_by_the_errors_against_the_forecast_in_force(
    site: Site, optimizer: DispatchOptimizer, realised: pd.DataFrame
) -> None:
    forecaster = FakeForecaster(realised, targets(site))
    correction = ResidualCorrection(gains=(0.5, 0.25), smoothing_half_life_slots=0.05)
    cycle = PlanningCycle(
        site, optimizer, forecaster, nowcast=Nowcast({"house-01:load_kw": correction})
    )
    start = ISSUE.floor("15min")
    history = realised.loc[: start - SLOT]
    # the last slot was planned with 1 kW less than was measured
    in_force = history[["house-01:load_kw", "house-02:load_kw"]].iloc[-3:].copy()
    in_force["house-01:load_kw"] -= 1.0
    plain = cycle.inputs(ISSUE, history, realised)
    corrected = cycle.inputs(ISSUE, history, realised, forecast_in_force=in_force)
    shift = corrected.load_kw["house-01"] - plain.load_kw["house-01"]
    np.testing.assert_allclose(shift, [0.5, 0.25] + [0.0] * (HORIZON - 2), atol=1e-3)
    np.testing.assert_array_equal(corrected.load_kw["house-02"], plain.load_kw["house-02"])
    # errors older than the lookback, or no history, correct nothing
    stale = in_force.shift(-8, freq=SLOT)
    unchanged = cycle.inputs(ISSUE, history, realised, forecast_in_force=stale)
    np.testing.assert_array_equal(unchanged.load_kw["house-01"], plain.load_kw["house-01"])
    empty = cycle.inputs(ISSUE, pd.DataFrame(), realised, forecast_in_force=in_force)
    np.testing.assert_array_equal(empty.load_kw["house-01"], plain.load_kw["house-01"])


def test_planning_every_slot_keeps_a_bounded_cache(
    site: Site, optimizer: DispatchOptimizer, realised: pd.DataFrame
) -> None:
    forecaster = FakeForecaster(realised, targets(site))
    cycle = PlanningCycle(site, optimizer, forecaster)
    for k in range(6):  # the live loop plans every quarter hour, for months
        cycle.inputs(ISSUE + k * SLOT, realised, realised)
    assert len(cycle._blocks) <= 3  # forecast, weather forecast, tariff: one entry each


def test_missing_forecast_target_and_weather_gaps_are_refused(
    site: Site, optimizer: DispatchOptimizer, realised: pd.DataFrame
) -> None:
    partial = FakeForecaster(realised, [t for t in targets(site) if t != "house-04:load_kw"])
    with pytest.raises(PlanningInputError, match="house-04:load_kw"):
        PlanningCycle(site, optimizer, partial).inputs(ISSUE, realised, realised)
    cycle = PlanningCycle(site, optimizer, None)
    short_weather = realised.loc[: ISSUE + 2 * SLOT]
    with pytest.raises(PlanningInputError, match="temp_outdoor_c"):
        cycle.inputs(ISSUE, realised, short_weather)
    with pytest.raises(PlanningInputError, match="perfect foresight"):
        cycle.inputs(ISSUE, realised.loc[: ISSUE + SLOT], realised)


def test_dimming_caps_apply_while_in_force(
    site: Site, optimizer: DispatchOptimizer, realised: pd.DataFrame
) -> None:
    cycle = PlanningCycle(site, optimizer, None)
    until = ISSUE.floor("15min") + 3 * SLOT
    limits = ExternalLimits(
        heat_pump_cap_kw={"house-01.hp": 1.0}, ev_charge_cap_kw={"carport-ev": 4.2}, until=until
    )
    inputs = cycle.inputs(ISSUE, realised, realised, limits)
    hp_max = site.config.houses[0].heat_pump.electric_max_kw  # type: ignore[union-attr]
    np.testing.assert_allclose(
        inputs.power_cap_kw["house-01.hp"], [1.0] * 3 + [hp_max] * (HORIZON - 3)
    )
    ev_max = site.config.ev_chargers[0].charge_max_kw
    np.testing.assert_allclose(
        inputs.power_cap_kw["carport-ev"], [4.2] * 3 + [ev_max] * (HORIZON - 3)
    )
    result = cycle.plan(ISSUE, DispatchState.initial(site), realised, realised, limits)
    assert result.status == PlanStatus.OPTIMAL
    assert (result.values[("house-01.hp", "power_kw")][:3] <= 1.0 + 1e-6).all()
    assert (result.values[("carport-ev", "power_kw")][:3] <= 4.2 + 1e-6).all()


def test_plan_solves_from_the_measured_state(
    site: Site, optimizer: DispatchOptimizer, realised: pd.DataFrame
) -> None:
    cycle = PlanningCycle(site, optimizer, None)
    result = cycle.plan(ISSUE, DispatchState.initial(site), realised, realised)
    assert result.status == PlanStatus.OPTIMAL
    assert len(result.index) == HORIZON
    assert result.index[0] == ISSUE.floor("15min")


def test_horizon_must_match_the_optimizer(site: Site, optimizer: DispatchOptimizer) -> None:
    with pytest.raises(ValueError, match="horizon"):
        PlanningCycle(site, optimizer, None, horizon_slots=HORIZON + 1)


def test_external_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="heat_pump_cap_kw"):
        ExternalLimits(heat_pump_cap_kw={"house-01.hp": -1.0})
    with pytest.raises(ValueError, match="feed_in_limit_kw"):
        ExternalLimits(feed_in_limit_kw=float("nan"))


def test_comfort_reserve_tightens_only_the_lower_end_of_the_tank_band(
    site: Site, realised: pd.DataFrame
) -> None:
    """The planner keeps tanks tank_reserve_k above their minimum, but still plans them up to
    temp_max_c, where the real tank stops (not up to temp_max_c + reserve)."""
    plant = Plant.from_site(site)
    optimizer = DispatchOptimizer(site, horizon_slots=HORIZON)
    cycle = PlanningCycle(site, optimizer, None, tank_reserve_k=2.0)
    measured = DispatchState.initial(site)
    assert cycle.planning_state(measured).tank_temp_c == measured.tank_temp_c
    assert cycle.planning_state(measured).tank_reserve_k == 2.0

    # a tank measured at its minimum is planned back above the reserve
    cold = replace(
        measured, tank_temp_c={hp.tank_id: hp.tank.temp_min_c for hp in plant.heat_pumps}
    )
    result = cycle.plan(ISSUE, cold, realised, realised)
    for hp in plant.heat_pumps:
        temps = result.values[(hp.tank_id, "temp_end_c")]
        assert temps[-1] >= hp.tank.temp_min_c + 2.0 - 1e-6

    # free electricity: every tank is filled to its real top, and no further
    free = cycle.inputs(ISSUE, realised, realised)
    free = replace(
        free,
        price_import_eur_per_kwh=np.full(HORIZON, -0.5),
        price_export_eur_per_kwh=np.full(HORIZON, -0.6),
    )
    full = optimizer.solve(free, cycle.planning_state(measured))
    for hp in plant.heat_pumps:
        temps = full.values[(hp.tank_id, "temp_end_c")]
        assert temps.max() == pytest.approx(hp.tank.temp_max_c, abs=1e-6)


def test_the_live_planner_gives_the_solver_the_configured_time(site: Site, store: Store) -> None:
    """A district of hundreds of houses plans by configuration alone: its first plan takes
    minutes, which control.plan_time_limit_s grants."""
    control = site.config.control.model_copy(update={"plan_time_limit_s": 240.0})
    config = site.config.model_copy(update={"control": control})
    large = Site.from_config(config)
    feed, _ = reference_year_weather(large)
    planner = default_planner(large, store, LoopTiming.for_site(large), feed)
    assert planner.cycle.optimizer.options.time_limit_s == 240.0
    assert planner.cycle.optimizer.horizon_slots == control.horizon_slots
