"""The oracle's long view: perfect foresight a week ahead, telling the every-slot plan what energy
left in each store at its horizon's end is worth.

The oracle policy re-plans every slot over the same horizon as mpc with the realised future, and
instead of the tariff's terminal value it values the energy in each battery and tank at the
horizon's end at the marginal value (the storage balance's dual) of a plan over at least a week,
itself re-planned from the measured state every `replan_slots`. So it executes like every other
policy (fresh state every slot, the same command rules) and sees as far as a week-long plan.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from energy.control.planning import PlanningCycle
from energy.evaluation.valuation import long_plan_options
from energy.site import Site
from energy.timegrid import SLOT
from optimizer import DispatchOptimizer, DispatchState, OptimizerOptions

__all__ = ["LongView"]

FloatArray = npt.NDArray[np.float64]


class LongView:
    """A week-long perfect-foresight plan, re-planned every replan_slots, and its store values.

    Near the period's end the long plan ends where the report's valuation of the energy left in
    store ends (`energy.evaluation.valuation`: the valuation's horizon after the period), so that
    the oracle optimises what the report measures: the plan made within `horizon_slots +
    replan_slots` of that end reaches exactly to it.
    """

    def __init__(
        self,
        site: Site,
        horizon_slots: int,
        replan_slots: int,
        options: OptimizerOptions,
        valued_until: pd.Timestamp | None = None,
    ):
        self._site = site
        self._options = long_plan_options(options)
        self._cycles: dict[int, PlanningCycle] = {}
        self.horizon_slots = horizon_slots
        self.replan_slots = replan_slots
        self.valued_until = valued_until
        self._start: pd.Timestamp | None = None
        self._values: dict[str, FloatArray] = {}
        self.plans = 0

    def _cycle(self, t: pd.Timestamp) -> PlanningCycle:
        """The planning cycle for a long plan from t: a week, or exactly to `valued_until`."""
        horizon = self.horizon_slots
        if self.valued_until is not None:
            to_end = int((self.valued_until - t) / SLOT)
            if to_end <= self.horizon_slots + self.replan_slots:
                horizon = to_end
        if horizon not in self._cycles:
            optimizer = DispatchOptimizer(
                self._site, horizon, self._options.replace(horizon_slots=horizon)
            )
            self._cycles[horizon] = PlanningCycle(self._site, optimizer, None)
        return self._cycles[horizon]

    def values_at(
        self, t: pd.Timestamp, end: pd.Timestamp, state: DispatchState, realised: pd.DataFrame
    ) -> dict[str, float]:
        """What a kWh in each store at `end` (a slot boundary) is worth, planning anew from
        `state` at t when the last long plan is replan_slots old."""
        if self._start is None or (t - self._start) / SLOT >= self.replan_slots:
            cycle = self._cycle(t)
            inputs = cycle.inputs(t, realised, realised)
            result = cycle.optimizer.solve(inputs, cycle.planning_state(state))
            values = cycle.optimizer.storage_values()
            if values is None:
                raise RuntimeError(
                    f"oracle: the week-long plan from {t.isoformat()} has no duals "
                    f"({result.summary.stage}); the oracle needs its store values"
                )
            # a kWh in store is worth at most the dearest kWh the plan could otherwise buy
            ceiling = float(np.max(inputs.price_import_eur_per_kwh))
            self._values = {a: np.minimum(v, ceiling) for a, v in values.items()}
            self._start = t
            self.plans += 1
        assert self._start is not None
        k = int((end - self._start) / SLOT) - 1
        return {asset: float(v[k]) for asset, v in self._values.items()}
