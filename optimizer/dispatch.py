"""The dispatch optimizer: one built model, re-solved every control cycle, never without a plan.

`DispatchOptimizer(site, horizon_slots)` builds the Pyomo model and loads it into HiGHS once;
`solve(inputs, state)` pushes the new inputs into the loaded model and re-solves warm. If the solve
fails, the fallback chain is: the MILP, its LP relaxation, the previous plan shifted in time, and
finally the rule-based plan. Each step taken is logged with its reason and recorded in the result's
summary (`fallback`).
"""

from __future__ import annotations

import gc
import logging
import time
from typing import Any

import numpy as np
import numpy.typing as npt

from energy.site import Site
from energy.timegrid import SLOT, SLOT_HOURS
from optimizer.highs_backend import HighsBackend, RunOutcome, SolverError
from optimizer.inputs import DispatchInputs, DispatchState
from optimizer.model import (
    Coefficients,
    CopLinearisation,
    DispatchModel,
    build_model,
    coefficients,
    direction_rows_needed,
)
from optimizer.options import OptimizerOptions
from optimizer.plant import Plant, sg_ready_levels_kw
from optimizer.result import (
    GRID_ID,
    DispatchResult,
    DispatchSummary,
    FallbackStep,
    PlanStatus,
    PlanValues,
    SolveStage,
    evaluate_plan,
)
from optimizer.rounding import round_heat_pump_schedule
from optimizer.rules import rule_based_values, shifted_values

__all__ = ["DispatchOptimizer", "rule_based_plan"]

logger = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float64]


#: A Pyomo model is held in reference cycles, so only a full garbage collection frees it. One
#: walks every object of the process (about 0.07 s here, most of a small district's load time);
#: from this size on, the model it frees (hundreds of MB at a few hundred houses) is worth it at
#: once: the solve that follows needs the memory.
COLLECT_AFTER_LOAD_FROM_COLUMNS = 100_000


class DispatchOptimizer:
    """Plans batteries and heat pumps of a site over a rolling horizon of `horizon_slots` slots.

    Build once, call `solve` every cycle; not thread-safe (one instance per worker).
    """

    def __init__(
        self, site: Site, horizon_slots: int | None = None, options: OptimizerOptions | None = None
    ):
        options = options or OptimizerOptions()
        if horizon_slots is not None and horizon_slots != options.horizon_slots:
            options = options.replace(horizon_slots=horizon_slots)
        self.site = site
        self.options = options
        self.plant = Plant.from_site(site)
        started = time.perf_counter()
        built_model = build_model(site.config, self.plant, options)
        built = time.perf_counter()
        self.backend = HighsBackend(built_model)
        self.model: DispatchModel = built_model.released()
        del built_model
        if self.backend.n_cols >= COLLECT_AFTER_LOAD_FROM_COLUMNS:
            gc.collect()
        loaded = time.perf_counter()
        self.model_build_seconds = built - started
        self.model_load_seconds = loaded - built
        self._unreported_build_seconds = loaded - started
        self._battery_capacity_kwh = np.array(
            [unit.config.capacity_kwh for unit in self.plant.batteries], dtype=float
        )
        self._tank_temp_min_c = np.array(
            [pump.tank.temp_min_c for pump in self.plant.heat_pumps], dtype=float
        )
        self._tank_kwh_per_k = np.array(
            [pump.capacity_kwh_per_k for pump in self.plant.heat_pumps], dtype=float
        )
        #: the latest plan made by the solver (shifted in time if a later solve fails)
        self.previous: DispatchResult | None = None
        #: where the COP of the latest plan was linearised
        self.linearisation: CopLinearisation | None = None
        #: the raw HiGHS outcome behind the latest plan (None for plans made without a solver)
        self.last_outcome: RunOutcome | None = None
        logger.info(
            "dispatch model for %s: %d slots, %d columns, %d rows, built in %.3f s and "
            "loaded into HiGHS in %.3f s",
            site.id,
            options.horizon_slots,
            self.backend.n_cols,
            self.backend.n_rows,
            self.model_build_seconds,
            self.model_load_seconds,
        )

    @property
    def horizon_slots(self) -> int:
        return self.options.horizon_slots

    def solve(
        self,
        inputs: DispatchInputs,
        state: DispatchState | None = None,
        linearisation: CopLinearisation | None = None,
    ) -> DispatchResult:
        """Plan the horizon of `inputs` from `state` (None: the configuration's initial state).

        The tank-dependent COP is linearised around `linearisation` if given, else around the
        previous plan shifted to this start, else (a cold start) around the measured tank
        temperatures and then `cop_linearisation_passes - 1` more times around the plan just made.
        `self.linearisation` holds the point of the latest plan.

        Raises InputError for inputs or state that do not fit the site; any solver trouble
        yields a fallback plan instead of an exception.
        """
        started = time.perf_counter()
        inputs.check(self.plant, self.horizon_slots)
        state = (state or DispatchState()).completed(self.site)
        state.check(self.plant)
        if linearisation is None:
            linearisation = self._linearisation_from_previous(inputs, state)
        self.backend.shift_basis(self._slots_since_previous(inputs) or 0)
        passes = 1 if linearisation is not None else self.options.cop_linearisation_passes
        coeffs = coefficients(self.model, inputs, state, linearisation)
        self.linearisation = coeffs.linearisation
        steps: list[FallbackStep] = []
        outcome: RunOutcome | None = None
        stage = SolveStage.RULE_BASED
        update_seconds = 0.0
        try:
            for _ in range(passes):
                if outcome is not None:
                    # a cold start: linearise again around the plan just made
                    relinearised = _linearisation_of(
                        self.plant, inputs, state, self._extract(outcome, coeffs), 0
                    )
                    coeffs = coefficients(self.model, inputs, state, relinearised)
                    self.linearisation = relinearised
                tick = time.perf_counter()
                self._update(coeffs)
                update_seconds += time.perf_counter() - tick
                if self.backend.is_mip and self.model.static_integer_vars:
                    self._offer_start(coeffs, state)
                outcome = self.backend.run()
                if outcome.is_mip:
                    outcome = self.backend.polish(outcome)
            assert outcome is not None
            stage = SolveStage.MILP if outcome.is_mip else SolveStage.LP
        except Exception as exc:  # never without a plan: every failure moves down the chain
            failed = SolveStage.MILP if self.backend.is_mip else SolveStage.LP
            steps.append(_failed(failed, exc))
            if failed == SolveStage.MILP:
                try:
                    outcome = self.backend.run(relax=True)
                    stage = SolveStage.LP_RELAXATION
                    steps.append(
                        FallbackStep(
                            stage,
                            "used",
                            "solved the LP relaxation: heat "
                            "pump power may lie below its minimum or between "
                            "SG Ready levels",
                        )
                    )
                except Exception as relax_exc:
                    steps.append(_failed(SolveStage.LP_RELAXATION, relax_exc))
        solve_done = time.perf_counter()
        if outcome is not None:
            values = self._extract(outcome, coeffs)
        else:
            values, stage = self._without_solver(inputs, state, steps)
        result = self._result(
            inputs,
            state,
            values,
            stage,
            outcome,
            steps,
            coeffs,
            started=started,
            update_seconds=update_seconds,
            solve_done=solve_done,
        )
        if outcome is not None:
            # the plan a later failure falls back to: the last one a solver made
            self.previous = result
        self.last_outcome = outcome
        return result

    def storage_values(self) -> dict[str, FloatArray] | None:
        """What one more kWh in each battery and tank at the end of each slot of the latest
        solve is worth (objective units per kWh, >= 0), from the duals of their balance rows;
        None where the latest plan has no duals (a MILP, or no solve)."""
        outcome = self.last_outcome
        if outcome is None or outcome.row_duals is None:
            return None
        out: dict[str, FloatArray] = {}
        for row, units in (
            ("bat_bal", [b.id for b in self.plant.batteries]),
            ("tank_bal", [p.tank_id for p in self.plant.heat_pumps]),
        ):
            if units:
                out.update(zip(units, self._store_values(outcome.row_duals, row), strict=True))
        return out

    def _store_values(self, row_duals: FloatArray, row: str) -> FloatArray:
        """Per store of the balance rows `row` (one row per store and slot) and slot, what one
        more kWh at the slot's end is worth: it lowers the objective by the row's dual."""
        duals = row_duals[self.backend.rows_of(row)].reshape(-1, self.horizon_slots)
        return np.maximum(-duals, 0.0)

    # ------------------------------------------------------------------ steps
    def _slots_since_previous(self, inputs: DispatchInputs) -> int | None:
        """How many slots this horizon starts after the previous solver plan's, where that plan
        covers this start (None: no such plan, or it starts later or ended before)."""
        previous = self.previous
        if previous is None or inputs.n_slots < 2:
            return None
        shift = (inputs.index[0] - previous.index[0]) / (inputs.index[1] - inputs.index[0])
        if shift != int(shift) or not 0 <= shift < len(previous.index):
            return None
        return int(shift)

    def _linearisation_from_previous(
        self, inputs: DispatchInputs, state: DispatchState
    ) -> CopLinearisation | None:
        """The previous solver plan shifted to this horizon's start, where it covers that start
        (None: no such plan, or it starts later or ended before)."""
        shift = self._slots_since_previous(inputs)
        if shift is None or self.previous is None or not self.plant.heat_pumps:
            return None
        return _linearisation_of(self.plant, inputs, state, self.previous.values, shift)

    def _update(self, coeffs: Coefficients) -> None:
        backend = self.backend
        backend.push(coeffs.params)
        nb = len(self.plant.batteries)
        backend.set_integer("z", np.repeat(coeffs.integer_battery_slots[None, :], nb, axis=0))
        backend.set_integer("g", coeffs.integer_grid_slots)
        for row, needed in direction_rows_needed(self.model, coeffs).items():
            backend.set_rows_active(row, needed)

    def _offer_start(self, coeffs: Coefficients, state: DispatchState) -> None:
        """Give the MILP a start rounded from its LP relaxation (see optimizer.rounding); a
        failure here only costs the start, never the solve."""
        try:
            relaxed = self.backend.run(relax=True)
            n = self.horizon_slots
            hp = relaxed.col_values[self.backend.columns_of("hp")].reshape(-1, n)
            on = []
            sg = []
            for h, pump in enumerate(self.plant.heat_pumps):
                on_h, sg_h = round_heat_pump_schedule(pump, hp[h], coeffs.params["hp_ub"][h], state)
                on.append(on_h)
                if sg_h is not None:
                    sg.append(sg_h)
            start = {"on": np.concatenate(on)}
            if sg:
                start["y"] = np.concatenate([block.reshape(-1) for block in sg])
            if not self.backend.complete_start(start):
                logger.warning(
                    "dispatch: the MILP start rounded from the LP relaxation is "
                    "infeasible; solving without a start"
                )
        except Exception as exc:  # the MILP still runs, only without a start
            logger.warning("dispatch: no MILP start from the LP relaxation: %s", exc)

    def _without_solver(
        self, inputs: DispatchInputs, state: DispatchState, steps: list[FallbackStep]
    ) -> tuple[PlanValues, SolveStage]:
        config = self.site.config
        previous = self.previous
        if previous is not None:
            values, overlap = shifted_values(
                config, self.plant, inputs, state, previous.index, previous.values
            )
            if overlap:
                steps.append(
                    FallbackStep(
                        SolveStage.SHIFTED_PREVIOUS,
                        "used",
                        f"previous plan from {previous.index[0].isoformat()} covers {overlap} of "
                        f"{inputs.n_slots} slots; setpoints clamped to the measured state, rule-based "
                        f"after its end",
                    )
                )
                logger.warning(
                    "dispatch: using the previous plan shifted by %d slot(s)",
                    inputs.n_slots - overlap,
                )
                return values, SolveStage.SHIFTED_PREVIOUS
            steps.append(
                FallbackStep(
                    SolveStage.SHIFTED_PREVIOUS,
                    "failed",
                    "the previous plan does not cover this horizon",
                )
            )
        else:
            steps.append(FallbackStep(SolveStage.SHIFTED_PREVIOUS, "failed", "no previous plan"))
        steps.append(
            FallbackStep(
                SolveStage.RULE_BASED,
                "used",
                "safe rule-based plan (self-consumption, tank thermostat)",
            )
        )
        logger.warning("dispatch: using the rule-based plan")
        return rule_based_values(config, self.plant, inputs, state), SolveStage.RULE_BASED

    def _extract(self, outcome: RunOutcome, coeffs: Coefficients) -> PlanValues:
        """Per-slot series from a HiGHS solution."""
        x = outcome.col_values
        be = self.backend
        plant = self.plant
        n = self.horizon_slots

        def var(name: str, rows: int | None = None) -> FloatArray:
            values = x[be.columns_of(name)]
            return values if rows is None else values.reshape(rows, n)

        values: PlanValues = {
            (GRID_ID, "import_kw"): var("imp"),
            (GRID_ID, "export_kw"): var("exp"),
            (GRID_ID, "import_weight_per_kwh"): coeffs.import_weight_per_kwh,
            (GRID_ID, "export_credit_per_kwh"): -coeffs.params["cost_export"] / SLOT_HOURS,
        }
        if outcome.row_duals is not None:
            duals = outcome.row_duals[be.rows_of("balance")] / SLOT_HOURS
            values[(GRID_ID, "balance_price_eur_per_kwh")] = duals
        else:
            values[(GRID_ID, "balance_price_eur_per_kwh")] = np.full(n, np.nan)
        nb, nh, npv = len(plant.batteries), len(plant.heat_pumps), len(plant.pvs)
        if nb:
            power = var("ch", nb) - var("dis", nb)
            energy = var("e", nb)
            soc = energy / self._battery_capacity_kwh[:, None]
            stored_value = (
                self._store_values(outcome.row_duals, "bat_bal")
                if outcome.row_duals is not None
                else np.full((nb, n), np.nan)
            )
            for b, unit in enumerate(plant.batteries):
                values[(unit.id, "power_kw")] = power[b]
                values[(unit.id, "energy_end_kwh")] = energy[b]
                values[(unit.id, "soc_end_frac")] = soc[b]
                values[(unit.id, "stored_value_eur_per_kwh")] = stored_value[b]
        if npv:
            pv = var("pv", npv)
            curtailed = np.maximum(coeffs.params["pv_ub"] - pv, 0.0)
            for j, pv_unit in enumerate(plant.pvs):
                values[(pv_unit.id, "power_kw")] = pv[j]
                values[(pv_unit.id, "curtailed_kw")] = curtailed[j]
        if nh:
            hp = var("hp", nh)
            q = var("q", nh)
            heat = coeffs.cop * hp
            on = (
                np.round(var("on", nh))
                if "on" in self.model.static_integer_vars
                else (hp > 1e-6).astype(float)
            )
            temp_min_c, per_k = self._tank_temp_min_c, self._tank_kwh_per_k
            temp_end = temp_min_c[:, None] + q / per_k[:, None]
            # the linearised COP penalty of tanks kept above the supply temperature
            warm_cost = coeffs.params["hot_cost"] * var("hot", nh)
            for h, pump in enumerate(plant.heat_pumps):
                values[(pump.id, "warm_tank_cost_eur")] = warm_cost[h]
                values[(pump.id, "power_kw")] = hp[h]
                values[(pump.id, "heat_kw")] = heat[h]
                values[(pump.id, "cop")] = coeffs.cop[h]
                values[(pump.id, "on")] = on[h]
                if pump.sg_ready:
                    values[(pump.id, "sg_ready_state")] = _sg_state(pump.config, hp[h])
                values[(pump.tank_id, "energy_end_kwh")] = q[h]
                values[(pump.tank_id, "temp_end_c")] = temp_end[h]
        nc = len(plant.ev_chargers)
        if nc:
            ev, need = var("ev", nc), var("ev_need", nc)
            for c, charger in enumerate(plant.ev_chargers):
                values[(charger.id, "power_kw")] = ev[c]
                values[(charger.id, "need_end_kwh")] = need[c]
        return values

    def _result(
        self,
        inputs: DispatchInputs,
        state: DispatchState,
        values: PlanValues,
        stage: SolveStage,
        outcome: RunOutcome | None,
        steps: list[FallbackStep],
        coeffs: Coefficients,
        *,
        started: float,
        update_seconds: float,
        solve_done: float,
    ) -> DispatchResult:
        complete_plan_values(self.plant, inputs, values)
        breakdown, violations = evaluate_plan(
            self.site.config, self.plant, self.options, inputs, state, values
        )
        done = time.perf_counter()
        build_seconds = self._unreported_build_seconds + update_seconds
        self._unreported_build_seconds = 0.0
        if outcome is None or steps:
            status = PlanStatus.FALLBACK
        else:
            status = PlanStatus.OPTIMAL if outcome.optimal else PlanStatus.FEASIBLE
        for violation in violations:
            logger.warning("plan violates %s", violation)
        summary = DispatchSummary(
            status=status,
            stage=stage,
            model_status=outcome.model_status if outcome else None,
            objective_kind=self.site.config.objective.kind,
            objective_eur=outcome.objective if outcome else breakdown["objective_eur"],
            mip_gap=outcome.mip_gap if outcome else None,
            cost_breakdown=breakdown,
            violations=tuple(violations),
            fallback=tuple(steps),
            duals_available=bool(outcome is not None and outcome.row_duals is not None),
            horizon_start=inputs.index[0],
            horizon_end=inputs.index[-1] + SLOT,
            n_slots=inputs.n_slots,
            n_variables=self.backend.n_cols,
            n_constraints=self.backend.n_rows,
            n_integer_variables=self.backend.n_integer,
            simplex_iterations=outcome.simplex_iterations if outcome else None,
            build_seconds=build_seconds,
            solve_seconds=solve_done - started - update_seconds,
            highs_seconds=outcome.run_seconds if outcome else None,
            extract_seconds=done - solve_done,
            total_seconds=done - started,
        )
        return DispatchResult(
            index=inputs.index, values=values, summary=summary, violations=tuple(violations)
        )


def _linearisation_of(
    plant: Plant, inputs: DispatchInputs, state: DispatchState, plan: PlanValues, shift: int
) -> CopLinearisation:
    """The COP linearisation point a plan gives for a horizon starting `shift` of its slots later:
    its tank temperatures at each slot's start (the measured ones at the first), its heat and its
    marginal price of electricity (the balance row's dual; the import price where it has none);
    past the plan's end, its last slot held."""
    n = inputs.n_slots

    def shifted(series: FloatArray, first: float | None = None) -> FloatArray:
        part = np.asarray(series, dtype=float)[shift:]
        if first is not None:
            # a slot starts where the one before it ended
            part = np.concatenate([[first], part])
        part = part[:n]
        return np.concatenate([part, np.full(n - len(part), part[-1])])

    temps = np.array(
        [
            shifted(plan[(p.tank_id, "temp_end_c")], state.tank_temp_c[p.tank_id])
            for p in plant.heat_pumps
        ]
    )
    heat = np.array([shifted(plan[(p.id, "heat_kw")]) for p in plant.heat_pumps])
    price = shifted(plan[(GRID_ID, "balance_price_eur_per_kwh")])
    value = np.where(np.isfinite(price), price, inputs.price_import_eur_per_kwh)
    return CopLinearisation(temps, heat, value)


def _failed(stage: SolveStage, exc: BaseException) -> FallbackStep:
    reason = exc.reason if isinstance(exc, SolverError) else f"{type(exc).__name__}: {exc}"
    logger.error(
        "dispatch: stage %s failed: %s",
        stage.value,
        reason,
        exc_info=not isinstance(exc, SolverError),
    )
    return FallbackStep(stage, "failed", reason)


def complete_plan_values(plant: Plant, inputs: DispatchInputs, values: PlanValues) -> None:
    """Add what every plan carries besides its decisions: the household load and heat demand it
    was made for, and each SG Ready unit's state for its planned power (unless set already)."""
    for house in plant.tank_houses:
        values[(house, "heat_demand_kw")] = inputs.heat_demand_kw[house]
    for house in plant.houses:
        values[(house, "load_kw")] = inputs.load_kw[house]
    for pump in plant.heat_pumps:
        if pump.sg_ready and (pump.id, "sg_ready_state") not in values:
            values[(pump.id, "sg_ready_state")] = _sg_state(
                pump.config, values[(pump.id, "power_kw")]
            )


def _sg_state(config: Any, power_kw: FloatArray) -> FloatArray:
    """SG Ready state (1 lock .. 4 forced) whose level is nearest to the planned power."""
    levels = sg_ready_levels_kw(config)
    states = np.array([1, *levels.keys()], dtype=float)
    powers = np.array([0.0, *levels.values()])
    nearest = np.abs(np.asarray(power_kw)[:, None] - powers[None, :]).argmin(axis=1)
    return states[nearest]


def rule_based_plan(
    site: Site,
    inputs: DispatchInputs,
    state: DispatchState | None = None,
    options: OptimizerOptions | None = None,
) -> DispatchResult:
    """The safe rule-based plan as a DispatchResult (no solver involved)."""
    options = options or OptimizerOptions(horizon_slots=inputs.n_slots)
    plant = Plant.from_site(site)
    inputs.check(plant)
    state = (state or DispatchState()).completed(site)
    state.check(plant)
    started = time.perf_counter()
    values = rule_based_values(site.config, plant, inputs, state)
    complete_plan_values(plant, inputs, values)
    breakdown, violations = evaluate_plan(site.config, plant, options, inputs, state, values)
    elapsed = time.perf_counter() - started
    summary = DispatchSummary(
        status=PlanStatus.FALLBACK,
        stage=SolveStage.RULE_BASED,
        model_status=None,
        objective_kind=site.config.objective.kind,
        objective_eur=breakdown["objective_eur"],
        mip_gap=None,
        cost_breakdown=breakdown,
        violations=tuple(violations),
        fallback=(FallbackStep(SolveStage.RULE_BASED, "used", "requested directly"),),
        duals_available=False,
        horizon_start=inputs.index[0],
        horizon_end=inputs.index[-1] + SLOT,
        n_slots=inputs.n_slots,
        n_variables=None,
        n_constraints=None,
        n_integer_variables=None,
        simplex_iterations=None,
        build_seconds=0.0,
        solve_seconds=elapsed,
        highs_seconds=None,
        extract_seconds=0.0,
        total_seconds=elapsed,
    )
    return DispatchResult(
        index=inputs.index, values=values, summary=summary, violations=tuple(violations)
    )
