"""What the energy a run leaves in store is worth: what it saves after the period.

A run that ends with fuller batteries or warmer tanks than it started has bought energy the next
days use; one that ends emptier leaves the next days to buy it. How much that is worth depends on
what the stored energy displaces: a kWh in a battery at a winter midnight saves an import at the
night's price, the same kWh at a July midnight (the next day's surplus fills the battery anyway)
saves no more than a kWh of export. A single price per period gets one of the two wrong.

So the value is measured by the plan itself: the cost of a perfect-foresight plan over the days
after the period (the realised future, the plant-consistent model, the live optimizer's terminal
value at its own end) from the state the run started with, minus the same plan's cost from the
state the run ended with. Every policy of one evaluation is valued against the same reference
plan, so the comparison between policies is exact up to that plan's horizon.
"""

from __future__ import annotations

import logging

import pandas as pd

from energy.control.planning import PlanningCycle
from energy.physics.profiles import district_profiles
from energy.site import Site
from energy.timegrid import SLOT
from optimizer import DispatchOptimizer, DispatchState, OptimizerOptions, PlanStatus
from optimizer.model import CopLinearisation

__all__ = [
    "VALUATION_HORIZON_SLOTS",
    "Continuation",
    "ValuationError",
    "long_plan_options",
]

logger = logging.getLogger(__name__)

#: Wall-clock limit of one long solve (HiGHS's limit is wall time).
LONG_PLAN_TIME_LIMIT_S = 300.0
#: A week, as far as the oracle's long view sees: long enough that a store's energy at the
#: period's end meets the load or the surplus it displaces (with two days, the terminal value at
#: the continuation's end, a quantile of the import price, still decided the value of a
#: battery's energy in a sunny October).
VALUATION_HORIZON_SLOTS = 7 * 96


def long_plan_options(options: OptimizerOptions, **changes: object) -> OptimizerOptions:
    """`options` for a week-long perfect-foresight plan: such an LP takes seconds, more on a busy
    machine, so the live loop's time limit is raised to LONG_PLAN_TIME_LIMIT_S."""
    return options.replace(
        time_limit_s=max(options.time_limit_s, LONG_PLAN_TIME_LIMIT_S), **changes
    )


class ValuationError(RuntimeError):
    """The continuation plan was not solved to optimality: the stored energy has no value."""


class Continuation:
    """The perfect-foresight plan over the `horizon_slots` after `end`, from any state."""

    def __init__(
        self,
        site: Site,
        end: pd.Timestamp,
        realised: pd.DataFrame,
        horizon_slots: int = VALUATION_HORIZON_SLOTS,
        options: OptimizerOptions | None = None,
    ):
        last = end + (horizon_slots - 1) * SLOT
        if realised.index.max() < last:
            raise ValueError(
                f"valuation: the realised profiles end at {realised.index.max().isoformat()}; "
                f"the continuation after {end.isoformat()} needs them to {last.isoformat()}"
            )
        optimizer = DispatchOptimizer(
            site,
            horizon_slots,
            long_plan_options(options or OptimizerOptions(), horizon_slots=horizon_slots),
        )
        self._site = site
        # the live planner keeps a reserve above the comfort band; a value of stored heat must
        # not charge a tank inside that reserve as if it were a comfort violation
        self._cycle = PlanningCycle(site, optimizer, None, tank_reserve_k=0.0)
        self._inputs = self._cycle.inputs(end, realised, realised)
        self._end = end
        self.horizon_slots = horizon_slots
        self._costs: dict[tuple[tuple[str, float], ...], float] = {}
        self._linearisation: CopLinearisation | None = None
        #: how many plans were solved (each distinct state once)
        self.solves = 0

    @classmethod
    def after(
        cls,
        site: Site,
        start: pd.Timestamp,
        end: pd.Timestamp,
        seed: int,
        horizon_slots: int = VALUATION_HORIZON_SLOTS,
        options: OptimizerOptions | None = None,
    ) -> Continuation:
        """The continuation after [start, end) of the simulated district with `seed`."""
        realised = district_profiles(site, start, end + horizon_slots * SLOT, seed)
        return cls(site, end, realised, horizon_slots, options)

    def cost_eur(self, state: DispatchState) -> float:
        """What the days after the period cost from `state`: energy bought and sold, battery wear,
        comfort penalties, the warm-tank COP cost and the EV energy still needed (its shortfall
        penalties and its cost beyond the horizon), less the terminal value of what is left."""
        start = DispatchState(
            soc_frac=dict(state.soc_frac),
            tank_temp_c=dict(state.tank_temp_c),
            hp_on=dict(state.hp_on),
            hp_minutes_in_state=dict(state.hp_minutes_in_state),
            ev_need_kwh=dict(state.ev_need_kwh),
        ).completed(self._site)
        key = _state_key(start)
        if key not in self._costs:
            self._costs[key] = self._solve(start)
        return self._costs[key]

    def _solve(self, start: DispatchState) -> float:
        self.solves += 1
        optimizer = self._cycle.optimizer
        state = self._cycle.planning_state(start)
        if self._linearisation is None:
            # the first state (the reference) is planned with the COP linearised around its own
            # plan; every other state is planned with that same linearisation, so that all
            # costs come from one linear program and their differences are its value function's
            # (linearised around each state's own plan, a kelvin or two colder at the start
            # moved the week's cost by several euros through the linearisation alone)
            optimizer.previous = None
            result = optimizer.solve(self._inputs, state)
            self._linearisation = optimizer.linearisation
        else:
            result = optimizer.solve(self._inputs, state, self._linearisation)
        if result.status != PlanStatus.OPTIMAL:
            raise ValuationError(
                f"valuation: the plan over the {self._cycle.optimizer.horizon_slots} slots after "
                f"{self._end.isoformat()} ended {result.status.value} "
                f"({result.summary.model_status})"
            )
        b = result.summary.cost_breakdown
        return float(
            b["net_energy_cost_eur"]
            + b["comfort_penalty_eur"]
            + b["warm_tank_cop_eur"]
            + b["ev_short_penalty_eur"]
            + b["ev_need_left_eur"]
            - b["stored_energy_value_eur"]
        )

    def value_eur(self, initial: DispatchState, final: DispatchState) -> float:
        """What ending in `final` instead of `initial` saves after the period (EUR, positive when
        the run leaves more useful energy in store than it found)."""
        value = self.cost_eur(initial) - self.cost_eur(final)
        logger.info("valuation after %s: stored energy worth %.2f EUR", self._end, value)
        return value


def _state_key(state: DispatchState) -> tuple[tuple[str, float], ...]:
    """A state as a hashable key: every run of one evaluation starts from the same state, so its
    continuation is solved once. A heat pump not said to be on is off (as the optimizer reads
    it), so only those on are in the key."""
    return tuple(
        sorted(
            [(f"soc:{a}", v) for a, v in state.soc_frac.items()]
            + [(f"temp:{a}", v) for a, v in state.tank_temp_c.items()]
            + [(f"on:{a}", 1.0) for a, v in state.hp_on.items() if v]
            + [(f"minutes:{a}", v) for a, v in state.hp_minutes_in_state.items()]
            + [(f"ev:{a}", v) for a, v in state.ev_need_kwh.items()]
        )
    )
