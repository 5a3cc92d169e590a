"""The forecast-and-optimize job: the shared PlanningCycle wrapped with the store.

Once per planning period (control.plan_interval_min, aligned to the quarter hours of the site
clock) `LivePlanner.run(now)`:

1. skips when a plan was already made in this period (the job may fire more often than that, and
   after a restart it must not plan twice): idempotent through the plans table alone, unless
   day-ahead prices for slots that plan had to forecast have been published since;
2. reads the fresh measured state (stale devices fall back to their configured state, and a stale
   grid meter stops the cycle: nothing is known at the connection point);
3. takes the weather forecast (live: energy.control.weather's fallback chain), the day-ahead
   prices (live: the store, forecast beyond the published slots, energy.control.prices) and the
   grid operator's limits in force (energy.control.grid_signals; a change re-plans at once),
   plans with PlanningCycle (forecasts, tariff, one warm HiGHS solve) and stores the forecast
   it used (issue time and model version) and the plan as proposed, its summary saying where
   weather, prices and limits came from;
4. applies the release policy (energy.control.release). The dispatch job activates approved plans
   (`promote_approved`), whoever approved them: one place makes plans active, so an automatic and
   an operator's approval cannot race to supersede the same plan.

Forecasting bootstrap (docs/operations.md): on a fresh store there is no measured history, so the
live loop forecasts with `ProfileForecaster`, the configured district's standard profiles (BDEW
H25 household load, degree-hour space heat, hot water, pvlib PV on the DWD test reference year),
scaled to each house's configured annual figures. It needs no history and is ready in seconds.
The `retrain` job (energy.control.retrain) trains a `forecasting.ForecastService` once the store
holds enough measured history and hands it to `use_forecaster`; should it fail on an issue, that
plan falls back to the bootstrap (alarm `forecast_fallback`).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from energy.alarm_texts import alarm_text
from energy.control.grid_signals import GridSignals, combined_limits, reported_caps
from energy.control.history import store_history
from energy.control.planning import ExternalLimits, Forecaster, PlanningCycle, PlanningInputError
from energy.control.prices import DayAheadPrices
from energy.control.release import ReleaseDecision, apply_release_policy
from energy.control.state import SiteState, read_site_state
from energy.control.weather import WeatherChain
from energy.grid_limits import LimitsInForce
from energy.physics.profiles import ProfileModel, district_profiles
from energy.prices import PriceFeedError
from energy.site import Site
from energy.store.alarms import Severity, clear_alarm, raise_alarm
from energy.store.engine import Store
from energy.store.forecasts import read_forecast_in_force, write_forecasts
from energy.store.plans import (
    PlanRecord,
    PlanState,
    activate_plan,
    get_plan,
    list_plans,
    save_plan,
)
from energy.timegrid import SLOT, SLOT_MINUTES, floor_slot
from energy.weather import WeatherFeed
from forecasting.nowcast import Nowcast
from optimizer import DispatchResult
from optimizer.comparison import compare_with_local_control

__all__ = [
    "BOOTSTRAP_MODEL_VERSION",
    "LivePlanner",
    "PlanOutcome",
    "ProfileForecaster",
    "dimming_limits",
    "period_start",
    "promote_approved",
]

log = logging.getLogger(__name__)

BOOTSTRAP_MODEL_VERSION = "profile-bootstrap"


class ProfileForecaster:
    """Forecasts from the site's standard profiles (no history needed; see module docstring).

    Household load is the BDEW H25 standard profile (whatever household model the simulator
    runs): a fresh site knows its houses' annual figures, not their habits. seed selects the
    profiles' day-to-day noise; a seed other than the simulator's makes the forecast one plausible
    realisation of the district rather than its exact future.
    """

    profile_model = ProfileModel(household_load="h25")

    def __init__(self, site: Site, horizon_slots: int, seed: int = 1):
        self.site = site
        self.horizon_slots = horizon_slots
        self.seed = seed

    def predict(
        self, issue_time: pd.Timestamp, history: pd.DataFrame, weather_forecast: pd.DataFrame
    ) -> pd.DataFrame:
        start = floor_slot(issue_time)
        end = start + self.horizon_slots * SLOT
        profiles = district_profiles(
            self.site, start, end, seed=self.seed, model=self.profile_model
        )
        columns = [c for c in profiles.columns if c.endswith((":load_kw", ":heat_demand_kw"))]
        columns += [c for c in profiles.columns if c.endswith(":pv_kw")]
        long = profiles[columns].melt(ignore_index=False, var_name="target", value_name="value")
        long = long.rename_axis("valid_time").reset_index()
        long["quantile"] = 0.5
        long["model_version"] = BOOTSTRAP_MODEL_VERSION
        long["issue_time"] = pd.Timestamp(issue_time)
        return long[["target", "model_version", "issue_time", "valid_time", "quantile", "value"]]


def dimming_limits(site: Site, state: SiteState) -> ExternalLimits | None:
    """The grid operator's §14a EnWG dimming caps the heat pumps report (0 = no cap): the
    limits of a site without grid_signals."""
    return combined_limits(site, None, LimitsInForce(), reported_caps(site, state))


def period_start(now: dt.datetime, plan_interval_min: int) -> dt.datetime:
    """Start of the planning period containing now (periods align to the UTC hour)."""
    slot = floor_slot(now).to_pydatetime()
    step = plan_interval_min // SLOT_MINUTES
    index = (slot.minute // SLOT_MINUTES) // step * step
    return slot.replace(minute=index * SLOT_MINUTES)


@dataclass(frozen=True)
class PlanOutcome:
    """What one run of the planning job did."""

    plan: PlanRecord | None
    skipped: str = ""
    release: ReleaseDecision | None = None
    seconds: float = 0.0


class LivePlanner:
    """PlanningCycle with store I/O, the release policy and activation (module docstring)."""

    def __init__(
        self,
        site: Site,
        store: Store,
        cycle: PlanningCycle,
        weather: WeatherFeed,
        stale_after_s: float,
        prices: DayAheadPrices | None = None,
        grid_signals: GridSignals | None = None,
    ):
        """prices: the live day-ahead prices (None: the tariff's price file, as simulated);
        grid_signals: the grid operator's limits (None: only the caps heat pumps report)."""
        self.site = site
        self.store = store
        self.cycle = cycle
        self.weather = weather
        self.stale_after_s = stale_after_s
        self.prices = prices
        self.grid_signals = grid_signals
        #: the forecaster that needs no history, used when a trained one cannot forecast
        self.bootstrap = cycle.forecaster
        self.history_days: int | None = None

    def use_forecaster(
        self, forecaster: Forecaster, history_days: int, nowcast: Nowcast | None = None
    ) -> None:
        """Forecast with a trained forecaster from now on, fed the last history_days measured,
        corrected by its nowcast (`ForecastService.nowcast()`) against the stored forecasts."""
        self.cycle.forecaster = forecaster
        self.cycle.nowcast = nowcast
        self.history_days = history_days

    def _in_force(self, issue: pd.Timestamp) -> pd.DataFrame | None:
        """The stored forecasts the slots of the nowcast's lookback were planned with."""
        nowcast = self.cycle.nowcast
        if nowcast is None:
            return None
        start = floor_slot(issue)
        return read_forecast_in_force(
            self.store,
            list(nowcast.corrections),
            start - nowcast.lookback_slots * SLOT,
            start,
        )

    def _history(self, now: dt.datetime) -> pd.DataFrame:
        if self.history_days is None:
            return pd.DataFrame()
        end = floor_slot(now).to_pydatetime()
        return store_history(self.store, self.site, end - dt.timedelta(days=self.history_days), end)

    def _plan(self, issue: pd.Timestamp, state: SiteState, weather: pd.DataFrame) -> DispatchResult:
        """Plan with the current forecaster; a trained one that fails yields to the bootstrap."""
        limits = (
            self.grid_signals.external_limits(state)
            if self.grid_signals is not None
            else dimming_limits(self.site, state)
        )
        optimizer_state = state.dispatch_state(self.site)
        trained = self.cycle.forecaster is not self.bootstrap
        try:
            result = self.cycle.plan(
                issue,
                optimizer_state,
                self._history(issue.to_pydatetime()),
                weather,
                limits,
                self._in_force(issue) if trained else None,
            )
        except (PlanningInputError, ValueError, KeyError) as exc:
            if not trained:
                raise
            raise_alarm(
                self.store,
                self.site.id,
                "forecast_fallback",
                "plan",
                Severity.WARNING,
                alarm_text("plan.forecast_fallback", error=str(exc)),
                issue.to_pydatetime(),
            )
            trained_forecaster = self.cycle.forecaster
            self.cycle.forecaster = self.bootstrap
            try:
                return self.cycle.plan(issue, optimizer_state, pd.DataFrame(), weather, limits)
            finally:
                self.cycle.forecaster = trained_forecaster
        if trained:
            clear_alarm(
                self.store, self.site.id, "forecast_fallback", "plan", issue.to_pydatetime()
            )
        return result

    def _site_inputs(self) -> dict[str, list[float | None]]:
        """The plan's site-wide inputs per slot (what it was made with, for review and audit)."""
        inputs = self.cycle.last_inputs
        if inputs is None:
            return {}
        return {
            name: [round(float(v), 6) if np.isfinite(v) else None for v in getattr(inputs, name)]
            for name in ("temp_outdoor_c", "price_import_eur_per_kwh", "price_export_eur_per_kwh")
        }

    def _local_control(self, state: SiteState, result: DispatchResult) -> dict[str, Any] | None:
        """The plan against local control with the same inputs (optimizer.comparison); None when
        it cannot be computed: the plan is never held back for its explanation."""
        inputs = self.cycle.last_inputs
        if inputs is None:
            return None
        planning_state = self.cycle.planning_state(state.dispatch_state(self.site))
        try:
            return compare_with_local_control(self.site, inputs, planning_state, result)
        except (ValueError, KeyError) as exc:
            log.warning("plan: no comparison with local control: %s", exc)
            return None

    def _weather_origin(self, issue: pd.Timestamp) -> dict[str, Any]:
        """Where this plan's weather came from (the fallback chain knows the step it took)."""
        if isinstance(self.weather, WeatherChain) and self.weather.last is not None:
            return self.weather.last.as_dict()
        return {"step": "feed", "source": self.weather.name, "issue_time": issue.isoformat()}

    def already_planned(self, now: dt.datetime) -> PlanRecord | None:
        """The plan made in this period, unless day-ahead prices for slots it planned on
        forecast prices have been published since."""
        newest = list_plans(self.store, self.site.id, limit=1)
        start = period_start(now, self.site.config.control.plan_interval_min)
        if newest and start <= newest[0].created_at <= now:
            if self._prices_arrived(newest[0], now) or self._limits_changed(newest[0]):
                return None
            return newest[0]
        return None

    def _limits_in_force(self) -> dict[str, Any]:
        in_force = self.grid_signals.in_force if self.grid_signals else LimitsInForce()
        return in_force.as_dict()

    def _limits_changed(self, plan: PlanRecord) -> bool:
        """The grid operator's limits changed since the plan was made: plan again at once."""
        if self.grid_signals is None:
            return False
        return plan.summary.get("grid_limits") != self._limits_in_force()

    def _prices_arrived(self, plan: PlanRecord, now: dt.datetime) -> bool:
        if self.prices is None:
            return False
        recorded = (plan.summary.get("prices") or {}).get("published_until")
        current = self.prices.published_until(now)
        if current is None:
            return False
        if recorded is None:
            return True
        planned_until = dt.datetime.fromisoformat(recorded)
        return current > planned_until and planned_until < plan.horizon_end

    def _market_prices(self, issue: pd.Timestamp) -> dict[str, Any]:
        """Hand the cycle the live day-ahead prices; say what the plan used."""
        if self.prices is None:
            return {"source": "tariff file"}
        now = issue.to_pydatetime()
        try:
            market = self.prices.market(self.cycle.horizon(issue), now)
        except PriceFeedError as exc:
            raise_alarm(
                self.store,
                self.site.id,
                "prices_missing",
                "plan",
                Severity.CRITICAL,
                alarm_text("plan.tariff_prices", error=str(exc)),
                now,
            )
            self.cycle.market_prices = None
            return {"source": "tariff file", "reason": str(exc)}
        clear_alarm(self.store, self.site.id, "prices_missing", "plan", now)
        self.cycle.market_prices = market.price_eur_per_mwh
        return {"source": "store", **market.as_summary()}

    def run(self, now: dt.datetime) -> PlanOutcome:
        """Plan once for the period containing now (see module docstring)."""
        existing = self.already_planned(now)
        if existing is not None:
            return PlanOutcome(None, alarm_text("job.plan_made", version=existing.version))
        started = time.perf_counter()
        state = read_site_state(self.store, self.site, now, self.stale_after_s)
        if state.site_inputs_stale:
            raise RuntimeError(
                f"cannot plan at {now.isoformat()}: {state.stale['grid.meter']} "
                "(the grid connection point is unknown)"
            )
        issue = pd.Timestamp(now)
        weather = self.weather.forecast(issue, self.cycle.horizon_slots * SLOT)
        prices = self._market_prices(issue)
        result = self._plan(issue, state, weather)
        forecast = self.cycle.last_forecast
        if forecast is not None and not forecast.empty:
            # the forecast behind the plan, with its issue time and model version
            write_forecasts(self.store, forecast.dropna(subset=["value"]))
        summary = result.summary.to_json()
        summary["stale_inputs"] = dict(state.stale)
        summary["weather"] = self._weather_origin(issue)
        summary["prices"] = prices
        summary["grid_limits"] = self._limits_in_force()
        summary["inputs"] = self._site_inputs()
        summary["local_control"] = self._local_control(state, result)
        values = result.plan[["asset_id", "quantity", "slot_start", "value"]]
        values = values[np.isfinite(values["value"].to_numpy(dtype=float))]
        plan = save_plan(
            self.store,
            self.site.id,
            values,
            created_at=now,
            horizon_start=result.index[0].to_pydatetime(),
            horizon_end=(result.index[-1] + SLOT).to_pydatetime(),
            slot_minutes=SLOT_MINUTES,
            solver_status=result.status.value,
            termination=summary.get("model_status"),
            objective_eur=summary.get("objective_eur"),
            mip_gap=summary.get("mip_gap"),
            fallback=result.stage.value if result.status.value == "fallback" else "none",
            build_seconds=summary.get("build_seconds"),
            solve_seconds=summary.get("solve_seconds"),
            extract_seconds=summary.get("extract_seconds"),
            summary=summary,
        )
        decision = apply_release_policy(self.store, self.site, plan, now)
        if decision.approve:
            plan = get_plan(self.store, plan.id)
        self._solver_alarm(result.status.value, summary, plan, now)
        elapsed = time.perf_counter() - started
        log.info(
            "plan v%d (%s, %s) in %.2f s: %s",
            plan.version,
            plan.solver_status,
            plan.state.value,
            elapsed,
            decision.reason,
        )
        return PlanOutcome(plan, release=decision, seconds=elapsed)

    def _solver_alarm(
        self, status: str, summary: dict[str, Any], plan: PlanRecord, now: dt.datetime
    ) -> None:
        """Safety rule 4: a solver failure is visible with its reason; the running plan stays."""
        if status != "fallback":
            clear_alarm(self.store, self.site.id, "solver_fallback", "plan", now)
            return
        steps = "; ".join(
            f"{s.get('stage')} {s.get('outcome')}: {s.get('reason')}"
            for s in summary.get("fallback", [])
        )
        raise_alarm(
            self.store,
            self.site.id,
            "solver_fallback",
            "plan",
            Severity.WARNING,
            alarm_text("plan.fallback", version=plan.version, steps=steps),
            now,
        )


def promote_approved(store: Store, site: Site, now: dt.datetime) -> PlanRecord | None:
    """Activate the newest approved plan covering now when it is newer than the active one.

    Operators approve plans through the web interface; the dispatch job makes them active.
    """
    plans = list_plans(store, site.id, states=[PlanState.APPROVED, PlanState.ACTIVE], limit=5)
    for plan in plans:
        if plan.state is PlanState.ACTIVE:
            return None
        if plan.covers(now):
            return activate_plan(store, plan.id, now)
    return None
