"""Dispatch of large districts by Dantzig-Wolfe decomposition over the grid connection.

The district's LP (the Pyomo model of optimizer.model, solved whole by DispatchOptimizer) couples
its houses only through the power balance at the connection and what hangs on it: the import and
export limits, the peak charge, the direction rows. Everything else is a block of its own
(optimizer.blocks: one per house, one for the shared community batteries and EV chargers).

The coordinator here keeps a master LP with the connection (import, export, their slacks, the
peak, the direction rows where the site has them) and, for each block, convex weights over the
plans the block has proposed so far; the master's balance rows must hold with the weighted net
demands. Each iteration:

1. the master is solved (warm, from its previous basis); its balance duals are a price per slot;
2. every block is solved at a price (`BlockPool`, in parallel worker processes, each block warm
   from its previous basis); its answer is a new proposal if its reduced cost is negative;
3. the block objectives at that price plus the connection's own Lagrangian term give a lower
   bound on the district's optimum (`lower_bound` is the best so far); the master's objective is
   an upper bound (its weights are a feasible plan: every block's plans form a convex set).

It stops when (upper - lower) / |upper| <= `gap_frac`. The blocks are priced at a smoothed price
(Wentges): `smoothing` x the price of the best bound + (1 - smoothing) x the master's, which damps
the bang-bang answers of LP blocks; when no block finds a proposal there, the master's own price
is used (that step then either improves the master or proves it optimal).

The plan is recovered by fixing each block's net demand at its weighted profile and solving the
block alone (its cheapest plan for that profile, never dearer than the weighted plans), so the
connection's plan is the master's and respects its limits. The recovered objective is reported
with the bound and the gap.

The decomposition is for LPs: a site whose prices need integer direction decisions (negative
prices, an export credit above the import price) or that models heat pump on/off is solved whole.
"""

from __future__ import annotations

import logging
import resource
import time
from dataclasses import dataclass

import highspy
import numpy as np
import numpy.typing as npt

from energy.site import Site
from energy.timegrid import SLOT_HOURS
from optimizer.block_pool import BlockAnswers, BlockPool
from optimizer.blocks import block_problem, block_specs, templates_of
from optimizer.highs_backend import SolverError
from optimizer.inputs import DispatchInputs, DispatchState
from optimizer.model import (
    CopLinearisation,
    ObjectivePrices,
    direction_slots,
    objective_prices,
    objective_weights,
)
from optimizer.options import OptimizerOptions
from optimizer.plant import Plant
from optimizer.result import GRID_ID, PlanValues

__all__ = ["DecomposedDispatch", "DecomposedPlan", "DecompositionError", "DecompositionOptions"]

logger = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float64]
_INF = highspy.kHighsInf


class DecompositionError(ValueError):
    """The site or its inputs need what the decomposition does not model (integer decisions)."""


@dataclass(frozen=True)
class DecompositionOptions:
    """How the decomposition iterates.

    `workers`: worker processes for the blocks (0: in this process). `gap_frac`: stop when the
    relative gap between the master's objective and the best lower bound is at most this.
    `smoothing`: weight of the best-bound price in the price the blocks see (0: the master's).
    `sample_houses`: houses of the sample whose price starts a solve without a start price (0:
    none; used from twice as many houses on), solved to `sample_gap_frac`. `drop_after`: a
    proposal unused for this many master solves (and out of its basis) is dropped.
    """

    workers: int = 2
    gap_frac: float = 1e-3
    max_iterations: int = 200
    smoothing: float = 0.8
    sample_houses: int = 100
    sample_gap_frac: float = 1e-3
    drop_after: int = 5

    def __post_init__(self) -> None:
        problems = []
        if self.workers < 0:
            problems.append(f"workers: expected >= 0; found {self.workers}")
        if not 0 < self.gap_frac < 1:
            problems.append(f"gap_frac: expected in (0, 1); found {self.gap_frac}")
        if self.max_iterations < 1:
            problems.append(f"max_iterations: expected >= 1; found {self.max_iterations}")
        if not 0 < self.sample_gap_frac < 1:
            problems.append(f"sample_gap_frac: expected in (0, 1); found {self.sample_gap_frac}")
        if self.drop_after < 1:
            problems.append(f"drop_after: expected >= 1; found {self.drop_after}")
        if self.sample_houses < 0:
            problems.append(f"sample_houses: expected >= 0; found {self.sample_houses}")
        if not 0 <= self.smoothing < 1:
            problems.append(f"smoothing: expected in [0, 1); found {self.smoothing}")
        if problems:
            raise ValueError("invalid DecompositionOptions: " + "; ".join(problems))


@dataclass(frozen=True)
class DecomposedPlan:
    """The recovered plan and how far it can be from the optimum.

    `objective_eur` is the recovered plan's objective (the same terms as DispatchOptimizer's),
    `bound_eur` the best lower bound on the district's optimum, `gap_frac` = (objective - bound)
    / |objective|. `values` are plan series keyed like DispatchResult.values (grid import and
    export, the balance price from the master's duals, every battery, heat pump, tank, PV and EV
    charger). Times: wall seconds of this solve; CPU seconds of this process and the workers.
    """

    values: PlanValues
    objective_eur: float
    master_objective_eur: float
    bound_eur: float
    gap_frac: float
    iterations: int
    sample_iterations: int  # those of the sample that gave the start price (0: none)
    n_blocks: int
    n_proposals: int
    converged: bool
    start_price: FloatArray  # the last start price (import price if no other was given)
    block_net_kw: FloatArray  # each block's net demand in the plan (blocks x slots)
    bound_price: FloatArray  # the price (per kW and slot) that gave the best bound
    warm_proposals: int  # blocks that could follow the start profile given (0: none given)
    load_seconds: float
    iterate_seconds: float
    recover_seconds: float
    wall_seconds: float
    cpu_seconds: float
    worker_cpu_seconds: float
    peak_rss_mib: float

    def next_start(self, slots: int = 1) -> tuple[FloatArray, FloatArray]:
        """`start_price` and `start_net_kw` for the plan of the horizon `slots` slots on: the
        price of this plan's best bound and its block profiles from that slot, the last slot
        repeated at the end."""
        return _moved_on(self.bound_price, slots), _moved_on(self.block_net_kw, slots)


def _moved_on(series: FloatArray, slots: int) -> FloatArray:
    """`series` (last axis: slots) from slot `slots` on, its last slot repeated to keep the
    length."""
    kept = series[..., slots:]
    tail = np.repeat(series[..., -1:], slots, axis=-1)
    return np.concatenate([kept, tail], axis=-1)


class _Connection:
    """The connection's part of the LP, as columns and rows over arrays (one set per solve).

    Columns: import, export, their limit slacks (n each), the peak, the direction variables
    (n). Rows: the import and export limits, the peak definition, and the direction rows where
    the site has them. The master adds the balance and convexity rows; the Lagrangian term
    prices import and export at the balance price instead.
    """

    def __init__(
        self,
        site: Site,
        options: OptimizerOptions,
        inputs: DispatchInputs,
        state: DispatchState,
        prices: ObjectivePrices,
        n_batteries: int,
        share: float = 1.0,
    ):
        """`share` < 1: the connection of a sample of that share of the houses (its limits, the
        peak so far and the peak charge scaled alike)."""
        config = site.config
        n = inputs.n_slots
        dt = SLOT_HOURS
        grid = config.grid
        export_limit = (
            grid.export_limit_kw
            if grid.feed_in_limit_kw is None
            else min(grid.export_limit_kw, grid.feed_in_limit_kw)
        )
        imp_ub, exp_ub = inputs.grid_bounds_kw(grid.import_limit_kw, export_limit)
        imp_ub, exp_ub = share * imp_ub, share * exp_ub
        weights = objective_weights(config)
        penalty = options.hard_limit_penalty_eur_per_kwh * dt
        self.n = n
        self.cost = np.concatenate(
            [
                dt * prices.import_weight_per_kwh,
                -dt * prices.export_credit_per_kwh,
                np.full(2 * n, penalty),
                [share * weights.cost * config.tariff.peak_import_charge_eur_per_kw],
                np.zeros(n),
            ]
        )
        self.lower = np.concatenate([np.zeros(4 * n), [share * state.peak_import_kw], np.zeros(n)])
        self.upper = np.concatenate([np.full(4 * n + 1, _INF), np.ones(n)])
        _, grid_rows = direction_slots(
            options, n_batteries, prices.import_weight_per_kwh, prices.export_credit_per_kwh
        )
        m_import = share * options.grid_direction_m_factor * grid.import_limit_kw
        m_export = share * options.grid_direction_m_factor * export_limit
        # column order: import, export, their slacks, the peak, the direction variables
        exp, s_imp, s_exp, peak, g = n, 2 * n, 3 * n, 4 * n, 4 * n + 1
        rows: list[tuple[list[int], list[float], float, float]] = []
        for t in range(n):
            rows.append(([t, s_imp + t], [1.0, -1.0], -_INF, float(imp_ub[t])))
        for t in range(n):
            rows.append(([exp + t, s_exp + t], [1.0, -1.0], -_INF, float(exp_ub[t])))
        for t in range(n):
            rows.append(([peak, t], [1.0, -1.0], 0.0, _INF))
        for t in np.flatnonzero(grid_rows).tolist():
            rows.append(([t, g + t], [1.0, -m_import], -_INF, 0.0))
            rows.append(([exp + t, g + t], [1.0, m_export], -_INF, m_export))
        self.rows = rows

    def add_to(self, h: highspy.Highs) -> None:
        """Add the columns and rows to an empty HiGHS model."""
        n_cols = len(self.cost)
        _ok(
            h.addCols(
                n_cols,
                self.cost,
                self.lower,
                self.upper,
                0,
                np.zeros(0, dtype=np.int32),
                np.zeros(0, dtype=np.int32),
                np.zeros(0),
            ),
            "addCols",
        )
        _add_rows(h, self.rows)

    def lagrangian(self, price: FloatArray) -> float:
        """min over the connection's part of its cost - price x (import - export): its term in
        the Lagrangian bound (-inf if the price makes buying beyond the limits pay)."""
        h = _highs()
        self.add_to(h)
        n = self.n
        cost = self.cost[: 2 * n] - np.concatenate([price, -price])
        _ok(h.changeColsCost(2 * n, np.arange(2 * n, dtype=np.int32), cost), "changeColsCost")
        _ok(h.run(), "run")
        status = h.getModelStatus()
        if status == highspy.HighsModelStatus.kOptimal:
            return float(h.getInfo().objective_function_value)
        if status in (
            highspy.HighsModelStatus.kUnbounded,
            highspy.HighsModelStatus.kUnboundedOrInfeasible,
        ):
            return -np.inf
        raise SolverError(f"connection term: HiGHS ended with {h.modelStatusToString(status)!r}")


class _Master:
    """The restricted master LP: the connection, the balance rows and the convexity rows, with a
    column per block proposal (its own cost; -net demand in the balance rows, 1 in its
    convexity row)."""

    def __init__(self, connection: _Connection, n_blocks: int):
        self.n = connection.n
        self.n_blocks = n_blocks
        self.h = _highs()
        # new proposals leave the basis primal feasible: primal simplex goes on from it
        _ok(self.h.setOptionValue("simplex_strategy", 4), "simplex_strategy")
        connection.add_to(self.h)
        self.n_connection_cols = len(connection.cost)
        self.n_connection_rows = len(connection.rows)
        n = self.n
        balance = [([t, n + t], [1.0, -1.0], 0.0, 0.0) for t in range(n)]
        _add_rows(self.h, balance)
        self.balance_rows = self.n_connection_rows + np.arange(n)
        convexity: list[tuple[list[int], list[float], float, float]] = [
            ([], [], 1.0, 1.0) for _ in range(n_blocks)
        ]
        _add_rows(self.h, convexity)
        self.convexity_rows = self.n_connection_rows + n + np.arange(n_blocks)
        # per proposal column, in master order: its block, net demand, iterations unused
        self.blocks = np.zeros(0, dtype=np.int64)
        self.net = np.zeros((0, n))
        self.idle = np.zeros(0, dtype=np.int64)
        #: proposals added over the iterations (columns dropped again included)
        self.n_proposals = 0
        self._solved: tuple[FloatArray, FloatArray, npt.NDArray[np.int64], FloatArray] | None = None

    def add(self, blocks: npt.NDArray[np.int64], net_kw: FloatArray, own_cost: FloatArray) -> None:
        """Add proposals: block indices, their net demand (k x slots) and own cost."""
        k = len(blocks)
        if not k:
            return
        n = self.n
        index = np.empty((k, n + 1), dtype=np.int32)
        index[:, :n] = self.balance_rows[None, :]
        index[:, n] = self.convexity_rows[blocks]
        value = np.empty((k, n + 1))
        value[:, :n] = -net_kw
        value[:, n] = 1.0
        starts = (np.arange(k) * (n + 1)).astype(np.int32)
        _ok(
            self.h.addCols(
                k,
                own_cost,
                np.zeros(k),
                np.full(k, _INF),
                k * (n + 1),
                starts,
                index.reshape(-1),
                value.reshape(-1),
            ),
            "addCols",
        )
        self.blocks = np.concatenate([self.blocks, blocks])
        self.net = np.concatenate([self.net, net_kw])
        self.idle = np.concatenate([self.idle, np.zeros(k, dtype=np.int64)])
        self.n_proposals += k

    def solve(self, drop_after: int) -> tuple[float, FloatArray, FloatArray]:
        """Objective, balance duals (the price per slot) and convexity duals. Proposals unused
        for more than `drop_after` solves and out of the basis are dropped afterwards: they
        rarely come back, and the master's time grows with its columns."""
        h = self.h
        _ok(h.run(), "run")
        status = h.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            raise SolverError(f"master: HiGHS ended with {h.modelStatusToString(status)!r}")
        solution = h.getSolution()
        duals = np.asarray(solution.row_dual, dtype=float)
        objective = float(h.getInfo().objective_function_value)
        weights = np.asarray(solution.col_value, dtype=float)[self.n_connection_cols :]
        reduced = np.asarray(solution.col_dual, dtype=float)[self.n_connection_cols :]
        x = np.asarray(solution.col_value, dtype=float)
        # the solution as solved (dropping columns below makes HiGHS forget it)
        self._solved = (x[: self.n_connection_cols], weights, self.blocks, self.net)
        self.idle = np.where(weights > 0, 0, self.idle + 1)
        # a positive reduced cost: the column is at its bound, out of the basis
        drop = (self.idle > drop_after) & (reduced > 1e-9 * max(1.0, abs(objective)))
        if drop.any():
            cols = (self.n_connection_cols + np.flatnonzero(drop)).astype(np.int32)
            _ok(h.deleteCols(len(cols), cols), "deleteCols")
            keep = ~drop
            self.blocks, self.net, self.idle = self.blocks[keep], self.net[keep], self.idle[keep]
        return objective, duals[self.balance_rows], duals[self.convexity_rows]

    def solution(self) -> tuple[FloatArray, FloatArray]:
        """The connection's columns and each block's weighted net demand (blocks x slots)."""
        assert self._solved is not None, "solve the master first"
        connection_x, weights, blocks, profiles = self._solved
        net = np.zeros((self.n_blocks, self.n))
        np.add.at(net, blocks, weights[:, None] * profiles)
        return connection_x, net


@dataclass(frozen=True)
class _Outcome:
    """Where the iterations ended."""

    upper: float  # the master's objective
    bound: float  # the best Lagrangian bound
    center: FloatArray  # the price that gave it
    duals: FloatArray  # the master's last balance duals
    iterations: int
    converged: bool


class DecomposedDispatch:
    """Plans a large district block by block (see the module docstring); one per worker pool.

    Build once (starts the worker processes), `solve` per plan, `close` (or use as a context
    manager) to stop the workers.
    """

    def __init__(
        self,
        site: Site,
        options: OptimizerOptions | None = None,
        decomposition: DecompositionOptions | None = None,
    ):
        self.site = site
        self.options = options or OptimizerOptions()
        self.settings = decomposition or DecompositionOptions()
        if self.options.heat_pump_on_off:
            raise DecompositionError(
                "heat_pump_on_off: expected False (the decomposition solves LPs); found True"
            )
        self.plant = Plant.from_site(site)
        self.specs = block_specs(site.config)
        self.templates = templates_of(site.config, self.specs)
        self.pool = BlockPool(self.options, self.settings.workers)

    def close(self) -> None:
        self.pool.close()

    def __enter__(self) -> DecomposedDispatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def solve(
        self,
        inputs: DispatchInputs,
        state: DispatchState | None = None,
        linearisation: CopLinearisation | None = None,
        start_price: FloatArray | None = None,
        start_net_kw: FloatArray | None = None,
    ) -> DecomposedPlan:
        """Plan the horizon of `inputs` from `state`, with the COP linearised around
        `linearisation` (None: the measured tank temperatures, as a cold DispatchOptimizer's
        first pass).

        `start_price` (objective units per kW and slot, e.g. a previous plan's balance price x
        the slot length): where the prices start; without it, from a sample of the houses
        (`DecompositionOptions.sample_houses`). `start_net_kw` (blocks x slots, e.g. the
        previous plan's `block_net_kw` moved on with the horizon, `DecomposedPlan.next_start`):
        each block that can follow its row starts the master with that plan, so that a re-plan
        begins next to the last one instead of rebuilding it from priced answers. Raises
        InputError for unusable inputs, DecompositionError where integer decisions are needed,
        SolverError if HiGHS fails.
        """
        wall0, cpu0 = time.perf_counter(), time.process_time()
        worker_cpu0 = self.pool.worker_cpu_seconds
        n = self.options.horizon_slots
        inputs.check(self.plant, n)
        state = (state or DispatchState()).completed(self.site)
        state.check(self.plant)
        config = self.site.config
        prices = objective_prices(config, self.options, objective_weights(config), inputs)
        if (
            (prices.import_weight_per_kwh < 0).any()
            or (prices.export_credit_per_kwh < 0).any()
            or (prices.import_weight_per_kwh < prices.export_credit_per_kwh).any()
        ):
            raise DecompositionError(
                "prices: expected import and export prices >= 0 and export below import (the "
                "decomposition solves LPs); found slots that need integer direction decisions"
            )
        n_batteries = len(self.plant.batteries)
        problems = [
            block_problem(spec, self.plant, inputs, state, linearisation) for spec in self.specs
        ]
        start_prices = [
            SLOT_HOURS * prices.import_weight_per_kwh,
            SLOT_HOURS * prices.export_credit_per_kwh,
        ]
        houses = [p for p in problems if p.spec.house_id is not None]
        sample_houses = self.settings.sample_houses
        sample_iterations = 0
        if start_price is not None:
            start_prices.append(np.asarray(start_price, dtype=float))
        elif sample_houses and len(houses) >= 2 * sample_houses:
            # a start price from an evenly spread sample of the houses on a connection scaled
            # to their share: the district's price is close to the sample's, so the district's
            # iterations start near their end. The shared block stays out: it cannot be cut to
            # the sample's share, and whole it would weigh 1/share times too much
            chosen = houses[:: len(houses) // sample_houses]
            share = len(chosen) / len(houses)
            self.pool.load(self.templates, chosen, n_batteries)
            sample = _Connection(
                self.site, self.options, inputs, state, prices, n_batteries, share=share
            )
            sampled = self._iterate(
                _Master(sample, len(chosen)), sample, start_prices, self.settings.sample_gap_frac
            )
            start_prices.append(sampled.center)
            sample_iterations = sampled.iterations
        self.pool.load(self.templates, problems, n_batteries)
        connection = _Connection(self.site, self.options, inputs, state, prices, n_batteries)
        master = _Master(connection, len(self.specs))
        warm_proposals = 0
        if start_net_kw is not None:
            start_net = np.asarray(start_net_kw, dtype=float)
            if start_net.shape != (len(self.specs), n):
                raise ValueError(
                    f"start_net_kw: expected {len(self.specs)} blocks x {n} slots; found "
                    f"{start_net.shape}"
                )
            followed, own_cost = self.pool.proposals_at(start_net)
            master.add(np.flatnonzero(followed), start_net[followed], own_cost[followed])
            warm_proposals = int(followed.sum())
        loaded = time.perf_counter()
        outcome = self._iterate(master, connection, start_prices, self.settings.gap_frac)
        iterated = time.perf_counter()

        connection_x, net = master.solution()
        costs, plans = self.pool.fixed(net)
        objective = float(connection.cost @ connection_x + costs.sum())
        values: PlanValues = {
            (GRID_ID, "import_kw"): connection_x[:n],
            (GRID_ID, "export_kw"): connection_x[n : 2 * n],
            (GRID_ID, "balance_price_eur_per_kwh"): outcome.duals / SLOT_HOURS,
            (GRID_ID, "import_weight_per_kwh"): prices.import_weight_per_kwh,
            (GRID_ID, "export_credit_per_kwh"): prices.export_credit_per_kwh,
        }
        for plan in plans:
            values.update(plan)
        done = time.perf_counter()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        return DecomposedPlan(
            values=values,
            objective_eur=objective,
            master_objective_eur=outcome.upper,
            bound_eur=outcome.bound,
            gap_frac=_gap(objective, outcome.bound),
            iterations=outcome.iterations,
            sample_iterations=sample_iterations,
            n_blocks=len(self.specs),
            n_proposals=master.n_proposals,
            converged=outcome.converged,
            start_price=start_prices[-1],
            block_net_kw=net,
            bound_price=outcome.center,
            warm_proposals=warm_proposals,
            load_seconds=loaded - wall0,
            iterate_seconds=iterated - loaded,
            recover_seconds=done - iterated,
            wall_seconds=done - wall0,
            cpu_seconds=time.process_time() - cpu0,
            worker_cpu_seconds=self.pool.worker_cpu_seconds - worker_cpu0,
            peak_rss_mib=rss + sum(self.pool.worker_peak_rss_mib),
        )

    def _iterate(
        self,
        master: _Master,
        connection: _Connection,
        start_prices: list[FloatArray],
        gap_frac: float,
    ) -> _Outcome:
        """Column generation on the loaded blocks from proposals at `start_prices` until the
        gap is at most `gap_frac` (see the module docstring)."""
        blocks = np.arange(master.n_blocks)
        bound, center = -np.inf, start_prices[0]
        for price in start_prices:
            answers = self.pool.price(price)
            master.add(blocks, answers.net_kw, answers.own_cost)
            at_price = _bound(answers, connection, price)
            if at_price > bound:
                bound, center = at_price, price
        iterations = 0
        mispriced = False
        smoothing = self.settings.smoothing
        while True:
            iterations += 1
            upper, duals, convexity = master.solve(self.settings.drop_after)
            gap = _gap(upper, bound)
            logger.debug(
                "decomposition iteration %d: master %.6f, bound %.6f, gap %.2e, %d proposals",
                iterations,
                upper,
                bound,
                gap,
                master.n_proposals,
            )
            if gap <= gap_frac or iterations >= self.settings.max_iterations:
                return _Outcome(upper, bound, center, duals, iterations, gap <= gap_frac)
            smoothed = smoothing > 0 and not mispriced
            price = smoothing * center + (1 - smoothing) * duals if smoothed else duals
            answers = self.pool.price(price)
            at_price = _bound(answers, connection, price)
            if at_price > bound:
                bound, center = at_price, price
            reduced = answers.own_cost + answers.net_kw @ duals - convexity
            new = np.flatnonzero(reduced < -1e-9 * max(1.0, abs(upper)))
            master.add(new, answers.net_kw[new], answers.own_cost[new])
            # nothing to add at the master's own price: the master is optimal; at the smoothed
            # price: price at the master's next time (Wentges's mispricing rule)
            mispriced = smoothed and not len(new)
            if not smoothed and not len(new):
                bound = max(bound, upper)


def _bound(answers: BlockAnswers, connection: _Connection, price: FloatArray) -> float:
    """The Lagrangian bound at `price`: every block's objective plus the connection's term."""
    return float(answers.objective.sum()) + connection.lagrangian(price)


def _gap(upper: float, lower: float) -> float:
    if not np.isfinite(lower):
        return np.inf
    return max(0.0, upper - lower) / max(abs(upper), 1e-9)


def _highs() -> highspy.Highs:
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    return h


def _add_rows(h: highspy.Highs, rows: list[tuple[list[int], list[float], float, float]]) -> None:
    if not rows:
        return
    starts = np.cumsum([0, *[len(r[0]) for r in rows[:-1]]]).astype(np.int32)
    index = np.array([i for r in rows for i in r[0]], dtype=np.int32)
    value = np.array([v for r in rows for v in r[1]], dtype=float)
    lower = np.array([r[2] for r in rows], dtype=float)
    upper = np.array([r[3] for r in rows], dtype=float)
    _ok(h.addRows(len(rows), lower, upper, len(index), starts, index, value), "addRows")


def _ok(status: highspy.HighsStatus, what: str) -> None:
    if status not in (highspy.HighsStatus.kOk, highspy.HighsStatus.kWarning):
        raise SolverError(f"HiGHS {what} failed with status {status}")
