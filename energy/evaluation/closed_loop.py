"""The closed loop: the live loop's planning and command code driving the simulated district.

Per 15-minute slot t, exactly as the live loop does, with only the clock and device I/O replaced:

1. read the state at t from the simulator's snapshot (`dispatch_state_from_snapshot`);
2. plan with the shared `PlanningCycle` (mpc: the latest issued forecast and weather forecast;
   perfect: the realised future; history is what was measured before t);
3. turn the plan's first slot into device commands with the shared `commands_for_slot`;
4. write them to the simulated devices and advance the physics to t + 15 min (at `step_s`),
   after every step moving the batteries on setpoints for the measured grid exchange with the
   shared `DistrictBalancer`, as the live dispatcher does every cycle;
5. record the meters of the slot.

The rule policy writes nothing: every device runs its own local mode (batteries in
self-consumption, heat pumps on their thermostats), which is how the district runs without the
platform. rule-tuned is the same with a commissioning engineer's thermostat setpoint and the EV
chargers charging in the cheapest quarter hours before each departure
(`energy.evaluation.timed_charging`), what their apps do at a dynamic tariff.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import pandas as pd

from energy.control.balancing import DistrictBalancer
from energy.control.capabilities import grid_target_batteries
from energy.control.commands import (
    CommandKind,
    DeviceCommand,
    commands_for_slot,
    plan_values_at,
)
from energy.control.planning import Forecaster, PlanningCycle
from energy.evaluation.devices import apply_commands
from energy.evaluation.forecasts import (
    ForecastOracle,
    IssuedForecasts,
    LatestForecast,
    train_forecaster,
)
from energy.evaluation.oracle import LongView
from energy.evaluation.snapshot_state import dispatch_state_from_snapshot
from energy.evaluation.timed_charging import PriceTimedCharging
from energy.evaluation.tracking import TRACKED_KINDS, PlanTracker
from energy.evaluation.valuation import VALUATION_HORIZON_SLOTS, Continuation
from energy.physics.district import GRID_METER_ID, DistrictSimulator
from energy.physics.profiles import district_profiles
from energy.physics.readings import DistrictSnapshot
from energy.site import Site
from energy.timegrid import SLOT, SLOT_HOURS, SLOT_MINUTES, as_utc, slot_grid
from forecasting.config import ForecastConfig
from optimizer import DispatchOptimizer, OptimizerOptions
from optimizer.plant import Plant

__all__ = ["EvaluationOptions", "Policy", "PolicyRun", "run_policy"]

logger = logging.getLogger(__name__)

#: Slot-energy columns recorded per slot, from the simulator's cumulative counters (kWh, K h).
ENERGY_COLUMNS = (
    "grid_import_kwh",
    "grid_export_kwh",
    "load_kwh",
    "pv_kwh",
    "hp_electric_kwh",
    "heat_delivered_kwh",
    "battery_charged_kwh",
    "battery_discharged_kwh",
    "comfort_violation_kh",
    "unserved_heat_kwh",
    "ev_charging_kwh",
    "ev_short_kwh",
)


class Policy(StrEnum):
    """rule: the devices' own controllers as shipped; rule-tuned: the same with the thermostat
    setpoint a commissioning sweep chose (see `energy.evaluation.tuning`) and price-timed EV
    charging (`energy.evaluation.timed_charging`); mpc: the platform;
    perfect-forecast: the same rolling MPC fed the realised future (a forecast experiment, not a
    bound); oracle: the same every-slot MPC fed the realised future, valuing the energy left in
    store at its horizon's end as a week-long perfect-foresight plan does (the reference for what
    is possible; `energy.evaluation.oracle`)."""

    RULE = "rule"
    RULE_TUNED = "rule-tuned"
    MPC = "mpc"
    PERFECT_FORECAST = "perfect-forecast"
    ORACLE = "oracle"

    @classmethod
    def _missing_(cls, value: object) -> Policy | None:
        if value == "perfect":
            warnings.warn(
                "policy 'perfect' is now 'perfect-forecast' (a rolling MPC fed the realised "
                "future, not a bound); use 'oracle' for the whole-period reference",
                FutureWarning,
                stacklevel=2,
            )
            return cls.PERFECT_FORECAST
        return None

    @property
    def plans(self) -> bool:
        """Whether the policy runs the optimizer (the rule policies plan nothing)."""
        return self not in (Policy.RULE, Policy.RULE_TUNED)


@dataclass(frozen=True)
class EvaluationOptions:
    """How the closed loop runs; defaults are those of the year benchmark.

    horizon_slots: the optimizer's horizon (re-planned every slot); step_s: physics step;
    seed: seed of the simulated world (profiles) and of the weather-forecast error;
    forecast_every_slots: the MPC's forecast cadence (1 = a fresh forecast every slot; default
    6-hourly, the update cadence of the weather models that feed it: every feature lag is at
    least 48 h, so between weather updates a new issue repeats the last);
    training_days: history before the start the MPC's forecaster is trained on;
    command_timeout_s: watchdog period of written setpoints (None: two slots);
    oracle: a diagnostic `ForecastOracle` (mpc only): realised values instead of some forecasts;
    oracle_horizon_slots, oracle_replan_slots: the oracle's long view (`energy.evaluation.oracle`):
    how far it plans ahead (at least a week) and how often that plan is made anew from the
    measured state (the oracle itself re-plans every slot, like mpc);
    bound: also compute the relaxation's lower bound (`energy.evaluation.bound`);
    valuation_horizon_slots: how far after the period the energy left in store is valued by a
    perfect-foresight plan (`energy.evaluation.valuation`);
    balancing: between plans, the district balancing loop (`energy.control.balancing`) after
    every physics step, as the live dispatcher runs it every dispatch cycle (planning policies;
    the site's `control.balancing` and `control.balancing_gain` apply).
    """

    horizon_slots: int = 96
    step_s: float = 60.0
    seed: int = 0
    forecast_every_slots: int = 24
    training_days: int = 365
    forecast_config: ForecastConfig = field(default_factory=lambda: ForecastConfig(quantiles=[0.5]))
    optimizer_options: OptimizerOptions | None = None
    command_timeout_s: float | None = None
    oracle: ForecastOracle | None = None
    oracle_horizon_slots: int = 7 * 96
    oracle_replan_slots: int = 96
    bound: bool = True
    valuation_horizon_slots: int = VALUATION_HORIZON_SLOTS
    balancing: bool = True

    def __post_init__(self) -> None:
        problems = []
        if self.horizon_slots < 1:
            problems.append(f"horizon_slots: expected >= 1; found {self.horizon_slots}")
        if not self.step_s > 0:
            problems.append(f"step_s: expected > 0; found {self.step_s}")
        if self.forecast_every_slots < 1:
            problems.append(
                f"forecast_every_slots: expected >= 1; found {self.forecast_every_slots}"
            )
        reach = self.forecast_every_slots - 1 + self.horizon_slots
        if reach > self.forecast_config.horizon_slots:
            problems.append(
                f"forecast cadence {self.forecast_every_slots} slots + planning horizon "
                f"{self.horizon_slots} slots: expected at most the forecast horizon "
                f"({self.forecast_config.horizon_slots} slots) so that the latest forecast "
                f"covers every plan; found {reach}"
            )
        if self.oracle_horizon_slots < 7 * 96:
            problems.append(
                f"oracle_horizon_slots: expected >= {7 * 96} (a week); "
                f"found {self.oracle_horizon_slots}"
            )
        if not 1 <= self.oracle_replan_slots <= self.oracle_horizon_slots:
            problems.append(
                f"oracle_replan_slots: expected 1..oracle_horizon_slots; "
                f"found {self.oracle_replan_slots}"
            )
        if self.valuation_horizon_slots < 1:
            problems.append(
                f"valuation_horizon_slots: expected >= 1; found {self.valuation_horizon_slots}"
            )
        if self.training_days < 14:
            problems.append(f"training_days: expected >= 14; found {self.training_days}")
        if problems:
            raise ValueError("invalid EvaluationOptions: " + "; ".join(problems))

    @property
    def timeout_s(self) -> float:
        if self.command_timeout_s is not None:
            return self.command_timeout_s
        return 2.0 * SLOT.total_seconds()


@dataclass
class PolicyRun:
    """One policy over the period: per-slot records and what the run cost."""

    policy: Policy
    slots: pd.DataFrame
    batteries: dict[str, dict[str, float]]
    stored_energy_change_kwh: dict[str, float]
    #: what the change in stored energy saves after the period (`energy.evaluation.valuation`)
    stored_energy_value_eur: float
    plan_stages: dict[str, int]
    timing: dict[str, float]
    forecast_issues: int = 0
    notes: list[str] = field(default_factory=list)
    #: anti-legionella programs per tank: {"completed": n, "missed": n}
    legionella: dict[str, dict[str, int]] = field(default_factory=dict)


def _counters(snapshot: DistrictSnapshot) -> np.ndarray:
    grid = snapshot.meters[GRID_METER_ID]
    batteries = snapshot.batteries.values()
    return np.array(
        [
            grid.import_kwh,
            grid.export_kwh,
            sum(h.load_kwh for h in snapshot.houses.values()),
            sum(p.energy_kwh for p in snapshot.pv.values()),
            sum(h.electric_kwh for h in snapshot.heat_pumps.values()),
            sum(h.heat_kwh for h in snapshot.heat_pumps.values()),
            sum(b.charged_kwh for b in batteries),
            sum(b.discharged_kwh for b in batteries),
            sum(t.comfort_violation_kh for t in snapshot.tanks.values()),
            sum(t.unserved_heat_kwh for t in snapshot.tanks.values()),
            sum(c.energy_kwh for c in snapshot.ev_chargers.values()),
            sum(c.short_kwh for c in snapshot.ev_chargers.values()),
        ]
    )


def _stored(snapshot: DistrictSnapshot) -> dict[str, float]:
    return {
        "batteries": sum(b.energy_kwh - b.initial_energy_kwh for b in snapshot.batteries.values()),
        "tanks": sum(t.stored_kwh - t.initial_stored_kwh for t in snapshot.tanks.values()),
    }


def _planning_cycle(
    site: Site,
    policy: Policy,
    options: EvaluationOptions,
    start: pd.Timestamp,
    realised: pd.DataFrame,
    progress: Callable[[str], None] | None,
) -> tuple[PlanningCycle, IssuedForecasts | None]:
    optimizer_options = options.optimizer_options or OptimizerOptions()
    horizon = options.horizon_slots
    optimizer = DispatchOptimizer(site, horizon, optimizer_options.replace(horizon_slots=horizon))
    if policy in (Policy.PERFECT_FORECAST, Policy.ORACLE):
        return PlanningCycle(site, optimizer, None), None
    service = train_forecaster(
        site, realised.loc[: start - SLOT], options.forecast_config, progress
    )
    issued = IssuedForecasts(service, realised, options.forecast_every_slots)
    forecaster: Forecaster = LatestForecast(issued)
    if options.oracle is not None:
        forecaster = options.oracle.wrap(forecaster, realised)
    cycle = PlanningCycle(site, optimizer, forecaster, nowcast=service.nowcast())
    return cycle, issued


def run_policy(
    site: Site,
    policy: Policy | str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    options: EvaluationOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
    status: Callable[[str], None] | None = None,
    continuation: Continuation | None = None,
) -> PolicyRun:
    """Run one policy in closed loop over the slots of [start, end) (UTC slot boundaries).

    rule-tuned runs the local controllers of `site` as given: `evaluate` hands it the site with
    the setpoint its sweep chose (`energy.evaluation.tuning.tune_thermostat`).

    progress(done, total) is called after every slot; status(text) for set-up steps;
    continuation: what values the energy left in store (`energy.evaluation.valuation`; None:
    made here), shared by the runs of one evaluation so that its reference is solved once.
    """
    policy = Policy(policy)
    options = options or EvaluationOptions()
    start, end = as_utc(start), as_utc(end)
    slots = slot_grid(start, end)
    if len(slots) == 0:
        raise ValueError(f"evaluation period {start.isoformat()}..{end.isoformat()} is empty")
    began, began_cpu = time.perf_counter(), time.process_time()
    reach = end + max(options.horizon_slots, options.valuation_horizon_slots) * SLOT
    first = start
    if policy == Policy.ORACLE:
        reach = max(
            reach, end + (options.oracle_horizon_slots + options.oracle_replan_slots) * SLOT
        )
    if policy == Policy.MPC:
        # the forecaster learns on the days before the period and needs their lags at issue time
        reach = max(reach, end + options.forecast_config.horizon_slots * SLOT)
        first = start - pd.Timedelta(days=options.training_days)
    realised = district_profiles(site, first, reach, options.seed)
    cycle: PlanningCycle | None = None
    issued: IssuedForecasts | None = None
    long_view: LongView | None = None
    if policy.plans:
        if status is not None:
            status(f"{policy.value}: building the optimizer and forecaster")
        cycle, issued = _planning_cycle(site, policy, options, start, realised, status)
    if policy == Policy.ORACLE:
        long_view = LongView(
            site,
            options.oracle_horizon_slots,
            options.oracle_replan_slots,
            options.optimizer_options or OptimizerOptions(),
            valued_until=end + options.valuation_horizon_slots * SLOT,
        )
    timed_charging = None
    if policy == Policy.RULE_TUNED and site.config.ev_chargers:
        timed_charging = PriceTimedCharging(site, slot_grid(start, reach))
    set_up = time.perf_counter() - began
    set_up_cpu = time.process_time() - began_cpu

    simulator = DistrictSimulator(
        site, start, options.seed, options.step_s, profiles=realised.loc[start : end - SLOT]
    )
    plant = Plant.from_site(site)
    grid_targets = grid_target_batteries(site)
    control = site.config.control
    balancer = (
        DistrictBalancer(plant, control.balancing_gain)
        if cycle is not None and options.balancing and control.balancing
        else None
    )
    tracker = PlanTracker(plant)
    records = np.zeros((len(slots), len(ENERGY_COLUMNS)))
    planned = np.full((len(slots), len(TRACKED_KINDS)), np.nan)
    metered = np.zeros((len(slots), len(TRACKED_KINDS)))
    stages: list[str] = []
    plan_seconds = physics_seconds = 0.0
    month_peak_kw: dict[tuple[int, int], float] = {}
    tz = site.tz
    snapshot = simulator.snapshot()
    initial_state = dispatch_state_from_snapshot(snapshot)
    before = _counters(snapshot)
    metered_before = tracker.counters_kwh(snapshot)
    weather = realised
    for k, t in enumerate(slots):
        if cycle is not None:
            tick = time.perf_counter()
            local = t.tz_convert(tz)
            state = dispatch_state_from_snapshot(
                snapshot, month_peak_kw.get((local.year, local.month), 0.0)
            )
            in_force = None
            stored_value = None
            if issued is not None:
                _, weather = issued.at(t)
                history = realised.loc[: t - SLOT]
                if cycle.nowcast is not None:
                    in_force = issued.in_force(t, cycle.nowcast.lookback_slots)
            else:
                history = realised
            if long_view is not None:
                horizon_end = t + options.horizon_slots * SLOT
                stored_value = long_view.values_at(t, horizon_end, state, realised)
            result = cycle.plan(
                t,
                state,
                history,
                weather,
                forecast_in_force=in_force,
                storage_value_eur_per_kwh=stored_value,
            )
            stages.append(result.stage.value)
            slot_values = plan_values_at(result, t)
            planned[k] = tracker.planned_kwh(slot_values)
            commands = commands_for_slot(
                site,
                result,
                t,
                state=state,
                plant=plant,
                hedge_forecast_errors=issued is not None,
                grid_target_batteries=grid_targets,
            )
            apply_commands(simulator, commands, options.timeout_s)
            plan_seconds += time.perf_counter() - tick
        if timed_charging is not None:
            apply_commands(simulator, timed_charging.commands(k, snapshot), options.timeout_s)
        tick = time.perf_counter()
        if balancer is not None:
            _advance_balanced(simulator, balancer, commands, slot_values, t + SLOT, options)
        else:
            simulator.advance_to(t + SLOT)
        snapshot = simulator.snapshot()
        after = _counters(snapshot)
        physics_seconds += time.perf_counter() - tick
        records[k] = after - before
        before = after
        metered_after = tracker.counters_kwh(snapshot)
        metered[k] = metered_after - metered_before
        metered_before = metered_after
        local = t.tz_convert(tz)
        key = (local.year, local.month)
        month_peak_kw[key] = max(month_peak_kw.get(key, 0.0), records[k, 0] / SLOT_HOURS)
        if progress is not None:
            progress(k + 1, len(slots))

    final = snapshot
    if status is not None:
        status(f"{policy.value}: valuing the energy left in store")
    if continuation is None:
        continuation = Continuation(
            site, end, realised, options.valuation_horizon_slots, options.optimizer_options
        )
    stored_value_eur = continuation.value_eur(initial_state, dispatch_state_from_snapshot(final))
    capacity = {b.id: b.config.capacity_kwh for b in plant.batteries}
    frame = pd.DataFrame(records, index=slots, columns=list(ENERGY_COLUMNS))
    frame.index.name = "slot_start"
    pv_columns = [c for c in realised.columns if c.endswith(".pv:pv_kw")]
    frame["pv_available_kwh"] = realised.loc[slots, pv_columns].sum(axis=1) * SLOT_HOURS
    if stages:
        frame["plan_stage"] = stages
        for j, kind in enumerate(TRACKED_KINDS):
            frame[f"planned_{kind}_kwh"] = planned[:, j]
            frame[f"metered_{kind}_kwh"] = metered[:, j]
    wall = time.perf_counter() - began
    cpu = time.process_time() - began_cpu
    forecast_seconds = issued.seconds if issued is not None else 0.0
    timing = {
        "wall_seconds": wall,
        "set_up_seconds": set_up,
        "cpu_seconds": cpu,
        "set_up_cpu_seconds": set_up_cpu,
        "loop_cpu_ms_per_slot": 1000 * (cpu - set_up_cpu) / len(slots),
        "plan_and_dispatch_seconds": plan_seconds - forecast_seconds,
        "forecast_seconds": forecast_seconds,
        "physics_seconds": physics_seconds,
        "slots": float(len(slots)),
        "step_s": options.step_s,
        "seconds_per_slot": wall / len(slots),
    }
    logger.info(
        "%s: %d slots in %.1f s (plan %.1f s, forecasts %.1f s, physics %.1f s)",
        policy.value,
        len(slots),
        wall,
        timing["plan_and_dispatch_seconds"],
        forecast_seconds,
        physics_seconds,
    )
    return PolicyRun(
        policy=policy,
        slots=frame,
        batteries={
            a: {
                "capacity_kwh": capacity[a],
                "charged_kwh": b.charged_kwh,
                "discharged_kwh": b.discharged_kwh,
            }
            for a, b in final.batteries.items()
        },
        stored_energy_change_kwh=_stored(final),
        stored_energy_value_eur=stored_value_eur,
        plan_stages={str(k): int(v) for k, v in pd.Series(stages).value_counts().items()},
        timing=timing,
        forecast_issues=issued.issues if issued is not None else 0,
        notes=_notes(policy, options, timed_charging is not None),
        legionella={
            a: {"completed": t.legionella_completed, "missed": t.legionella_missed}
            for a, t in final.tanks.items()
        },
    )


def _advance_balanced(
    simulator: DistrictSimulator,
    balancer: DistrictBalancer,
    commands: list[DeviceCommand],
    values: dict[tuple[str, str], float] | None,
    end: pd.Timestamp,
    options: EvaluationOptions,
) -> None:
    """Advance to `end` one physics step at a time; after each, the balancer moves the battery
    setpoints for the grid exchange the step measured, and the changed ones are written."""
    step = pd.Timedelta(seconds=options.step_s)
    written = {c.asset_id: c.value for c in commands if c.kind is CommandKind.BATTERY_POWER_KW}
    while (now := simulator.now) < end:
        simulator.advance_to(min(now + step, end))
        if simulator.now >= end:
            return
        adjusted = balancer.adjust(
            commands, values, simulator.now, simulator.grid_power_kw, simulator.battery_soc_frac()
        )
        changed = [
            c
            for c in adjusted
            if c.kind is CommandKind.BATTERY_POWER_KW and c.value != written.get(c.asset_id)
        ]
        if changed:
            apply_commands(simulator, changed, options.timeout_s)
            written.update((c.asset_id, c.value) for c in changed)


def _notes(policy: Policy, options: EvaluationOptions, timed_charging: bool) -> list[str]:
    if timed_charging:
        return [
            "batteries in self-consumption, heat pumps on their thermostats, EV chargers charging "
            "in the cheapest quarter hours before each departure"
        ]
    if not policy.plans:
        return ["no commands: batteries in self-consumption, heat pumps on their thermostats"]
    notes = [
        f"re-planned every {SLOT_MINUTES} min over {options.horizon_slots} slots from the "
        "simulated state"
    ]
    if policy == Policy.ORACLE:
        notes.append(
            f"energy left in store at the horizon's end valued by a perfect-foresight plan over "
            f"{options.oracle_horizon_slots} slots, made anew every "
            f"{options.oracle_replan_slots * SLOT_MINUTES} min"
        )
    if policy == Policy.MPC:
        notes.append(
            f"forecasts issued every {options.forecast_every_slots * SLOT_MINUTES} min; "
            f"forecaster trained on the {options.training_days} days before the period"
        )
    else:
        notes.append("realised loads, PV, heat demand and temperature as the forecast")
    return notes
