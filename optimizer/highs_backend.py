"""The dispatch model loaded into HiGHS once, then updated in place and re-solved warm.

Pyomo compiles the formulation to matrices a single time (`LinearStandardFormCompiler`); the
result is passed to highspy. For every later solve, the Param values computed by
`optimizer.model.coefficients` are written straight to their places in the HiGHS model (costs,
column and row bounds, matrix coefficients) through vectorised highspy calls, so the basis of the
previous solve stays and the dual simplex starts warm. Each binding is checked when the model is
loaded: a Param that does not sit where its binding says makes loading fail, so an input can never
silently stop reaching the solver.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np
import numpy.typing as npt
import pyomo.environ as pyo
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

from optimizer.model import Binding, BindingKind, DispatchModel

__all__ = ["HighsBackend", "RunOutcome", "SolverError", "check_status"]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]
_INF = highspy.kHighsInf
_OK = highspy.HighsStatus.kOk
_WARNING = highspy.HighsStatus.kWarning
#: HiGHS basis statuses by their code (kLower 0, kBasic 1, kUpper 2, kZero 3, kNonbasic 4)
_BASIS_STATUS = tuple(highspy.HighsBasisStatus(code) for code in range(5))
_LOWER, _BASIC, _UPPER, _ZERO = 0, 1, 2, 3


@dataclass(frozen=True)
class _LastSolution:
    col_values: FloatArray
    col_duals: FloatArray
    row_duals: FloatArray


class SolverError(RuntimeError):
    """HiGHS failed or returned no usable solution; `reason` says why."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class RunOutcome:
    """What one HiGHS run returned. `col_values` is always a solution usable for dispatch."""

    model_status: str
    optimal: bool
    is_mip: bool
    objective: float
    mip_gap: float | None
    run_seconds: float  # HiGHS's own run time
    wall_seconds: float  # wall time of the run call
    col_values: FloatArray
    row_duals: FloatArray | None
    simplex_iterations: int


@dataclass(frozen=True)
class _ResolvedBinding:
    binding: Binding
    cols: IntArray
    rows: IntArray
    scale: FloatArray


@dataclass(frozen=True)
class _Pushes:
    """Where `HighsBackend.push` writes each Param, grouped by the highspy call that takes it.

    costs, lower, upper and rows list (param, indices[, ...]) in binding order; cost_cols,
    bound_cols (sorted, unique) and bound_rows are the index sets of the three bulk calls;
    coefficients hold (param, rows, cols, scale) with rows and cols as Python ints for
    `changeCoeff`. The finiteness of a bound row's sides is fixed by the compiled row sense.
    """

    costs: list[tuple[str, IntArray, FloatArray]]
    lower: list[tuple[str, IntArray]]
    upper: list[tuple[str, IntArray]]
    rows: list[tuple[str, IntArray, npt.NDArray[np.bool_], npt.NDArray[np.bool_]]]
    coefficients: list[tuple[str, list[int], list[int], FloatArray]]
    cost_cols: IntArray
    bound_cols: IntArray
    bound_rows: IntArray

    @classmethod
    def of(
        cls, resolved: list[_ResolvedBinding], row_lb: FloatArray, row_ub: FloatArray
    ) -> _Pushes:
        costs, lower, upper, rows, coefficients = [], [], [], [], []
        for rb in resolved:
            b = rb.binding
            if b.kind == BindingKind.OBJECTIVE:
                costs.append((b.param, rb.cols, rb.scale))
            elif b.kind == BindingKind.COL_LOWER:
                lower.append((b.param, rb.cols))
            elif b.kind == BindingKind.COL_UPPER:
                upper.append((b.param, rb.cols))
            elif b.kind == BindingKind.ROW_BOUND:
                finite_lb = np.isfinite(row_lb[rb.rows])
                finite_ub = np.isfinite(row_ub[rb.rows])
                rows.append((b.param, rb.rows, finite_lb, finite_ub))
            else:
                coefficients.append((b.param, rb.rows.tolist(), rb.cols.tolist(), rb.scale))
        empty = np.zeros(0, dtype=np.int32)

        def joined(parts: list[IntArray]) -> IntArray:
            return np.concatenate(parts).astype(np.int32) if parts else empty

        return cls(
            costs=costs,
            lower=lower,
            upper=upper,
            rows=rows,
            coefficients=coefficients,
            cost_cols=joined([cols for _, cols, _ in costs]),
            bound_cols=np.unique(joined([cols for _, cols in lower + upper])),
            bound_rows=joined([r for _, r, _, _ in rows]),
        )


def _changed(
    index: IntArray,
    lower: FloatArray,
    upper: FloatArray,
    lower_before: FloatArray,
    upper_before: FloatArray,
) -> tuple[IntArray, FloatArray, FloatArray]:
    """The entries whose bounds differ from those HiGHS holds (all if none does: the call then
    still marks the model as modified, as a push always has). Rewriting an unchanged bound is a
    no-op in HiGHS, so leaving it out gives the same model, basis and solve."""
    changed = (lower != lower_before) | (upper != upper_before)
    if changed.all() or not changed.any():
        return index, lower, upper
    return index[changed], lower[changed], upper[changed]


def _scaled(values: FloatArray, scale: FloatArray | None) -> FloatArray:
    flat = np.asarray(values, dtype=float).reshape(-1)
    return flat if scale is None else flat * scale


class HighsBackend:
    """One loaded HiGHS model for one DispatchModel; not thread-safe."""

    def __init__(self, dm: DispatchModel):
        """Compile `dm`'s Pyomo model and load it. Everything later calls need (where each
        variable's and constraint's elements sit, their slot successors) is read from the
        Pyomo model here: the backend keeps no reference to it, so its owner may release it."""
        self.options = dm.options
        model = dm.formulation
        info = LinearStandardFormCompiler().write(model, mixed_form=True)
        columns = info.columns
        rows = info.rows
        self.n_cols = len(columns)
        self.n_rows = len(rows)
        col_of = {id(v): i for i, v in enumerate(columns)}
        row_of: dict[int, int] = {}
        for i, (con, _sense) in enumerate(rows):
            if id(con) in row_of:
                raise RuntimeError(
                    f"constraint {con.name} compiled to two rows; the dispatch "
                    "model must use only equalities and one-sided rows"
                )
            row_of[id(con)] = i
        sense = np.array([s for _, s in rows], dtype=np.int8)
        rhs = np.asarray(info.rhs, dtype=float)
        self._row_lb = np.where(sense <= 0, rhs, -_INF)
        self._row_ub = np.where(sense >= 0, rhs, _INF)
        self._col_lb = np.array([-_INF if v.lb is None else v.lb for v in columns], dtype=float)
        self._col_ub = np.array([_INF if v.ub is None else v.ub for v in columns], dtype=float)
        self._cost = np.asarray(info.c.toarray(), dtype=float).reshape(-1)
        self._base_integer = np.array(
            [v.is_integer() or v.is_binary() for v in columns], dtype=np.uint8
        )
        self._var_cols = _element_indices(model, pyo.Var, col_of)
        self._vars_missing_columns = {n for n, c in self._var_cols.items() if (c < 0).any()}
        self._con_rows = _element_indices(model, pyo.Constraint, row_of)
        self._successors = (
            _slot_successors(model, pyo.Var, self._var_cols, col_of, self.n_cols),
            _slot_successors(model, pyo.Constraint, self._con_rows, row_of, self.n_rows),
        )
        a_csc = info.A.tocsc()
        a_csr = info.A.tocsr()
        self._pushes = _Pushes.of(
            [self._resolve(b, model, col_of, row_of, a_csr, rhs) for b in dm.bindings],
            self._row_lb,
            self._row_ub,
        )
        self._coef_values: dict[str, FloatArray] = {}

        self.highs = highspy.Highs()
        self.highs.setOptionValue("output_flag", False)
        for name, value in dm.options.highs_options.items():
            self.highs.setOptionValue(name, value)
        lp = highspy.HighsLp()
        lp.num_col_ = self.n_cols
        lp.num_row_ = self.n_rows
        lp.col_cost_ = self._cost
        lp.col_lower_ = self._col_lb
        lp.col_upper_ = self._col_ub
        lp.row_lower_ = self._row_lb
        lp.row_upper_ = self._row_ub
        lp.offset_ = float(np.asarray(info.c_offset).reshape(-1)[0]) if len(info.c_offset) else 0.0
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a_csc.indptr.astype(np.int32)
        lp.a_matrix_.index_ = a_csc.indices.astype(np.int32)
        lp.a_matrix_.value_ = a_csc.data.astype(float)
        lp.integrality_ = [highspy.HighsVarType(int(k)) for k in self._base_integer]
        status = self.highs.passModel(lp)
        if status not in (_OK, _WARNING):
            raise RuntimeError(f"HiGHS rejected the compiled dispatch model: {status}")
        self._integrality = self._base_integer.copy()
        self._row_active = np.ones(self.n_rows, dtype=bool)
        self._solved_once = False
        #: the last LP run's solution, from which its basis is read (`_basis_codes`)
        self._last_solution: _LastSolution | None = None

    # ------------------------------------------------------------------ loading
    def _resolve(
        self,
        b: Binding,
        model: pyo.ConcreteModel,
        col_of: dict[int, int],
        row_of: dict[int, int],
        a_csr: Any,
        rhs: FloatArray,
    ) -> _ResolvedBinding:
        """Find where binding b's values go and check that the placeholder (1.0) sits there."""

        def indices(name: str, keys: tuple[Any, ...], index_of: dict[int, int]) -> IntArray:
            component = getattr(model, name)
            try:
                return np.array(
                    [index_of[id(component if k is None else component[k])] for k in keys],
                    dtype=np.int32,
                )
            except KeyError as exc:
                raise RuntimeError(
                    f"Param {b.param}: an element of {name} is not in the compiled model"
                ) from exc

        empty_i = np.zeros(0, dtype=np.int32)
        if b.kind == BindingKind.ROW_BOUND:
            rows = indices(b.target, b.target_keys, row_of)
            if len(rows) and not np.allclose(rhs[rows], 1.0):
                raise RuntimeError(f"Param {b.param} is not the bare right-hand side of {b.target}")
            return _ResolvedBinding(b, empty_i, rows, np.ones(len(rows)))
        if b.kind == BindingKind.COEFFICIENT:
            assert b.var is not None
            rows = indices(b.target, b.target_keys, row_of)
            cols = indices(b.var, b.var_keys, col_of)
            scale = np.empty(len(rows))
            for k, (r, c) in enumerate(zip(rows, cols, strict=True)):
                start, end = a_csr.indptr[r], a_csr.indptr[r + 1]
                hit = np.nonzero(a_csr.indices[start:end] == c)[0]
                if len(hit) != 1:
                    raise RuntimeError(
                        f"Param {b.param} is not a coefficient of {b.var} in {b.target}"
                    )
                scale[k] = a_csr.data[start + hit[0]]
            return _ResolvedBinding(b, cols, rows, scale)
        cols = indices(b.target, b.target_keys, col_of)
        if b.kind == BindingKind.OBJECTIVE:
            scale = self._cost[cols].copy()
            if not np.all(np.abs(scale) > 0):
                raise RuntimeError(f"Param {b.param} is not the cost of {b.target}")
            return _ResolvedBinding(b, cols, empty_i, scale)
        bound = self._col_lb if b.kind == BindingKind.COL_LOWER else self._col_ub
        if len(cols) and not np.allclose(bound[cols], 1.0):
            raise RuntimeError(f"Param {b.param} is not the bare {b.kind} of {b.target}")
        return _ResolvedBinding(b, cols, empty_i, np.ones(len(cols)))

    def columns_of(self, name: str) -> IntArray:
        """Column indices of every element of variable `name`, in its index order."""
        cols = self._var_cols.get(name)
        if cols is None:
            raise KeyError(f"the dispatch model has no variable {name}")
        if name in self._vars_missing_columns:
            raise RuntimeError(
                f"variable {name} has an element without a column (it appears in no constraint)"
            )
        return cols

    def rows_of(self, name: str) -> IntArray:
        """Row indices of every element of constraint `name`, in its index order."""
        rows = self._con_rows.get(name)
        if rows is None:
            raise KeyError(f"the dispatch model has no constraint {name}")
        return rows

    # ------------------------------------------------------------------ updating
    def push(self, params: dict[str, FloatArray]) -> None:
        """Write new Param values into the HiGHS model (every bound Param must be given).

        The places are resolved once at load (`_Pushes`): per call, each Param's values are
        scaled into the kept cost and bound arrays, the changed matrix coefficients are written
        one by one (highspy has no bulk call for them), then costs, column bounds and row bounds
        go to HiGHS in one call each.
        """
        plan = self._pushes
        for name, coef_rows, coef_cols, scale in plan.coefficients:
            self._push_coefficients(name, coef_rows, coef_cols, _scaled(params[name], scale))
        h = self.highs
        if len(plan.cost_cols):
            cost = self._cost
            for name, cols, scale in plan.costs:
                cost[cols] = _scaled(params[name], scale)
            cols = plan.cost_cols
            check_status(h.changeColsCost(len(cols), cols, cost[cols]), "changeColsCost")
        if len(plan.bound_cols):
            cols = plan.bound_cols
            before = self._col_lb[cols], self._col_ub[cols]
            for name, lower_cols in plan.lower:
                self._col_lb[lower_cols] = _scaled(params[name], None)
            for name, upper_cols in plan.upper:
                self._col_ub[upper_cols] = _scaled(params[name], None)
            cols, lower, upper = _changed(cols, self._col_lb[cols], self._col_ub[cols], *before)
            check_status(h.changeColsBounds(len(cols), cols, lower, upper), "changeColsBounds")
        if len(plan.bound_rows):
            rows = plan.bound_rows
            before = self._row_lb[rows], self._row_ub[rows]
            for name, binding_rows, finite_lb, finite_ub in plan.rows:
                values = _scaled(params[name], None)
                self._row_lb[binding_rows] = np.where(finite_lb, values, -_INF)
                self._row_ub[binding_rows] = np.where(finite_ub, values, _INF)
            rows, lower, upper = _changed(rows, self._row_lb[rows], self._row_ub[rows], *before)
            check_status(
                # present at run time, missing from highspy's type stubs
                h.changeRowsBounds(len(rows), rows, lower, upper),  # type: ignore[attr-defined]
                "changeRowsBounds",
            )

    def _push_coefficients(
        self, name: str, rows: list[int], cols: list[int], values: FloatArray
    ) -> None:
        previous = self._coef_values.get(name)
        if previous is None:
            changed: list[int] = list(range(len(values)))
        else:
            changed = np.flatnonzero(previous != values).tolist()
        if changed:
            new = values.tolist()
            statuses = list(
                map(
                    self.highs.changeCoeff,
                    [rows[k] for k in changed],
                    [cols[k] for k in changed],
                    [new[k] for k in changed],
                )
            )
            for status in statuses:
                if status != _OK:
                    check_status(status, "changeCoeff")
        self._coef_values[name] = values.copy()

    def set_integer(self, var: str, mask: npt.NDArray[np.bool_] | None) -> None:
        """Make the elements of `var` integer where mask is true (None: as declared)."""
        cols = self.columns_of(var)
        wanted = (
            self._base_integer[cols]
            if mask is None
            else np.asarray(mask, dtype=bool).reshape(-1).astype(np.uint8)
        )
        self._apply_integrality(cols, wanted)

    def set_rows_active(self, constraint: str, mask: npt.NDArray[np.bool_]) -> None:
        """Keep the rows of `constraint` where mask is true and make the others free rows (both
        bounds infinite: presolve drops them, a warm basis keeps them basic). Only rows whose
        state changes are sent to HiGHS, so a re-solve with the same mask keeps its basis."""
        rows = self.rows_of(constraint)
        wanted = np.asarray(mask, dtype=bool).reshape(-1)
        if len(wanted) != len(rows):
            raise ValueError(
                f"rows of {constraint}: expected a mask of {len(rows)} values; found {len(wanted)}"
            )
        changed = rows[self._row_active[rows] != wanted]
        if not len(changed):
            return
        on = wanted[self._row_active[rows] != wanted]
        lower = np.where(on, self._row_lb[changed], -_INF)
        upper = np.where(on, self._row_ub[changed], _INF)
        check_status(
            # present at run time, missing from highspy's type stubs
            self.highs.changeRowsBounds(  # type: ignore[attr-defined]
                len(changed), changed, lower, upper
            ),
            "changeRowsBounds",
        )
        self._row_active[changed] = on

    def _apply_integrality(self, cols: IntArray, wanted: npt.NDArray[np.uint8]) -> None:
        changed = np.nonzero(self._integrality[cols] != wanted)[0]
        if len(changed):
            idx = cols[changed]
            check_status(
                self.highs.changeColsIntegrality(len(idx), idx, wanted[changed]),
                "changeColsIntegrality",
            )
            self._integrality[idx] = wanted[changed]

    def polish(self, mip: RunOutcome) -> RunOutcome:
        """Fix the integer columns at the MIP solution and re-solve the LP of the rest.

        A MIP incumbent is only optimal up to the gap, also in its continuous columns (a battery
        may charge and discharge at once, a slack may carry waste); the fixed LP makes them
        optimal given the discrete decisions and yields duals conditional on those decisions.
        Returns the MIP outcome unchanged if the fixed LP fails.
        """
        cols = np.nonzero(self._integrality)[0].astype(np.int32)
        vals = np.round(mip.col_values[cols])
        h = self.highs
        check_status(h.changeColsBounds(len(cols), cols, vals, vals), "changeColsBounds")
        try:
            fixed = self.run(relax=True)
        except SolverError as exc:
            logger.warning(
                "dispatch: polishing the MILP solution failed (%s); using it as is", exc.reason
            )
            return mip
        finally:
            check_status(
                h.changeColsBounds(len(cols), cols, self._col_lb[cols], self._col_ub[cols]),
                "changeColsBounds",
            )
        return dataclasses.replace(
            fixed,
            model_status=mip.model_status,
            optimal=mip.optimal,
            is_mip=True,
            mip_gap=mip.mip_gap,
            run_seconds=mip.run_seconds + fixed.run_seconds,
            wall_seconds=mip.wall_seconds + fixed.wall_seconds,
            simplex_iterations=mip.simplex_iterations + fixed.simplex_iterations,
        )

    def complete_start(self, values: dict[str, FloatArray]) -> bool:
        """Fix the given variables (name -> values in index order), solve the remaining LP and
        offer the complete solution to HiGHS as a MIP start. Returns whether it was offered
        (False if the fixed values leave no feasible solution)."""
        cols = np.concatenate([self.columns_of(name) for name in values]).astype(np.int32)
        vals = np.concatenate([np.asarray(v, dtype=float).reshape(-1) for v in values.values()])
        h = self.highs
        check_status(h.changeColsBounds(len(cols), cols, vals, vals), "changeColsBounds")
        try:
            outcome = self.run(relax=True)
        except SolverError:
            return False
        finally:
            check_status(
                h.changeColsBounds(len(cols), cols, self._col_lb[cols], self._col_ub[cols]),
                "changeColsBounds",
            )
        solution = highspy.HighsSolution()
        solution.col_value = outcome.col_values.tolist()
        solution.value_valid = True
        check_status(h.setSolution(solution), "setSolution")
        return True

    @property
    def n_integer(self) -> int:
        return int(self._integrality.sum())

    @property
    def is_mip(self) -> bool:
        return bool(self._integrality.any())

    # ------------------------------------------------------------------ warm starts
    def shift_basis(self, slots: int) -> None:
        """Start the next run from the last basis moved `slots` slots earlier: the horizon
        moved on by that much, so each element takes the status its successor had (the last
        slots keep theirs). HiGHS treats it as an alien basis and repairs its count and rank;
        the dual simplex then starts where the previous plan left off instead of from a basis
        that is one slot out of step everywhere."""
        last = self._last_solution
        if slots <= 0 or self.is_mip or last is None:
            return
        codes = self._basis_codes(last)
        if codes is None:
            return
        col_codes, row_codes = codes
        succ_cols, succ_rows = self._successors
        src_cols: IntArray = np.arange(self.n_cols, dtype=np.int32)
        src_rows: IntArray = np.arange(self.n_rows, dtype=np.int32)
        for _ in range(slots):
            src_cols, src_rows = succ_cols[src_cols], succ_rows[src_rows]
        basis = highspy.HighsBasis()
        basis.col_status = [_BASIS_STATUS[k] for k in col_codes[src_cols].tolist()]
        basis.row_status = [_BASIS_STATUS[k] for k in row_codes[src_rows].tolist()]
        basis.valid = True
        basis.alien = True
        if self.highs.setBasis(basis) not in (_OK, _WARNING):
            logger.debug("HiGHS refused the shifted basis; the run starts from the last one")

    def _basis_codes(self, last: _LastSolution) -> tuple[IntArray, IntArray] | None:
        """The last basis as HiGHS status codes per column and row, or None without one.

        Read as the list of basic variables (one array) and completed from the bounds and the
        last solution: highspy hands `getBasis()`'s statuses over as one Python enum per
        element, which took longer than the rest of a warm re-solve outside HiGHS. A nonbasic
        column sits at the bound nearer its value, a nonbasic row at its only finite bound, a
        free one at zero; where both bounds are the same (a fixed column, an equality row) the
        side is the dual's, as HiGHS reports it (upper where a column's reduced cost is negative
        or a row's dual positive)."""
        # present at run time, missing from highspy's type stubs
        status, basic = self.highs.getBasicVariables()  # type: ignore[attr-defined]
        if status not in (_OK, _WARNING):
            return None
        basic = np.asarray(basic, dtype=np.int64)
        lower, upper, values = self._col_lb, self._col_ub, last.col_values
        col_codes = np.where(np.abs(upper - values) < np.abs(values - lower), _UPPER, _LOWER)
        fixed = lower == upper
        col_codes[fixed] = np.where(last.col_duals[fixed] < 0, _UPPER, _LOWER)
        col_codes[np.isinf(lower) & np.isinf(upper)] = _ZERO
        col_codes[basic[basic >= 0]] = _BASIC
        row_lower = np.where(self._row_active, self._row_lb, -_INF)
        row_upper = np.where(self._row_active, self._row_ub, _INF)
        row_codes = np.where(
            np.isfinite(row_lower), _LOWER, np.where(np.isfinite(row_upper), _UPPER, _ZERO)
        )
        equality = row_lower == row_upper
        row_codes[equality] = np.where(last.row_duals[equality] > 0, _UPPER, _LOWER)
        row_codes[-1 - basic[basic < 0]] = _BASIC
        return col_codes.astype(np.int32), row_codes.astype(np.int32)

    # ------------------------------------------------------------------ solving
    def run(self, *, relax: bool = False) -> RunOutcome:
        """Solve; with relax=True every integer column is continuous for this run only.

        Raises SolverError if HiGHS errs or has no primal feasible solution (time limit hit
        before an incumbent, infeasible, unbounded).
        """
        h = self.highs
        options = self.options
        saved = self._integrality.copy()
        if relax:
            self._apply_integrality(
                np.arange(self.n_cols, dtype=np.int32), np.zeros(self.n_cols, dtype=np.uint8)
            )
        try:
            is_mip = self.is_mip
            solver = "simplex" if self._solved_once else options.cold_solver
            check_status(
                h.setOptionValue("solver", "choose" if is_mip else solver), "solver option"
            )
            # HiGHS (1.16) checks an LP's time_limit against the instance's run clock, which
            # accumulates over runs, but a MIP's against the time since the MIP started
            limit = float(options.time_limit_s)
            check_status(
                h.setOptionValue("time_limit", limit if is_mip else h.getRunTime() + limit),
                "time_limit",
            )
            check_status(h.setOptionValue("mip_rel_gap", float(options.mip_rel_gap)), "mip_rel_gap")
            before = h.getRunTime()
            started = time.perf_counter()
            self._last_solution = None
            status = h.run()
            wall = time.perf_counter() - started
            run_seconds = h.getRunTime() - before
            model_status = h.getModelStatus()
            status_text = h.modelStatusToString(model_status)
            info = h.getInfo()
            if status == highspy.HighsStatus.kError:
                raise SolverError(f"HiGHS run returned an error (model status {status_text})")
            optimal = model_status == highspy.HighsModelStatus.kOptimal
            has_primal = info.primal_solution_status == 2  # kSolutionStatusFeasible
            if not optimal and not (is_mip and has_primal):
                raise SolverError(
                    f"HiGHS ended with model status {status_text!r} and "
                    f"{'a' if has_primal else 'no'} feasible solution"
                )
            solution = h.getSolution()
            col_values = np.fromiter(solution.col_value, dtype=float, count=self.n_cols)
            duals = (
                np.fromiter(solution.row_dual, dtype=float, count=self.n_rows)
                if (not is_mip and solution.dual_valid)
                else None
            )
            self._solved_once = self._solved_once or not is_mip
            if duals is not None:
                col_duals = np.fromiter(solution.col_dual, dtype=float, count=self.n_cols)
                self._last_solution = _LastSolution(col_values, col_duals, duals)
            return RunOutcome(
                model_status=status_text,
                optimal=optimal,
                is_mip=is_mip,
                objective=float(info.objective_function_value),
                mip_gap=float(info.mip_gap) if is_mip else None,
                run_seconds=float(run_seconds),
                wall_seconds=wall,
                col_values=col_values,
                row_duals=duals,
                simplex_iterations=int(info.simplex_iteration_count),
            )
        finally:
            if relax:
                self._apply_integrality(np.arange(self.n_cols, dtype=np.int32), saved)

    def lp_data(self) -> dict[str, Any]:
        """The model as HiGHS holds it now (for checks and analysis)."""
        lp = self.highs.getLp()
        return {
            "col_cost": np.asarray(lp.col_cost_),
            "col_lower": np.asarray(lp.col_lower_),
            "col_upper": np.asarray(lp.col_upper_),
            "row_lower": np.asarray(lp.row_lower_),
            "row_upper": np.asarray(lp.row_upper_),
            "start": np.asarray(lp.a_matrix_.start_),
            "index": np.asarray(lp.a_matrix_.index_),
            "value": np.asarray(lp.a_matrix_.value_),
            "integrality": np.asarray([int(v) for v in lp.integrality_]),
        }


def _element_indices(
    model: pyo.ConcreteModel, kind: type, index_of: dict[int, int]
) -> dict[str, IntArray]:
    """Per component of `kind`, the column (or row) of each element in index order; -1 for an
    element the compiler left out."""
    out: dict[str, IntArray] = {}
    for component in model.component_objects(kind, descend_into=True):
        elements = component.values() if component.is_indexed() else (component,)
        out[component.local_name] = np.fromiter(
            (index_of.get(id(e), -1) for e in elements), dtype=np.int32, count=len(component)
        )
    return out


def _slot_successors(
    model: pyo.ConcreteModel,
    kind: type,
    indices: dict[str, IntArray],
    index_of: dict[int, int],
    size: int,
) -> IntArray:
    """Per column (or row), the index of the same element one slot later (itself where the
    element has no slot index or is in the horizon's last slot). `indices` are the components'
    element indices in index order (`_element_indices`)."""
    successor = np.arange(size, dtype=np.int32)
    for component in model.component_objects(kind, descend_into=True):
        position = _slot_position(component, model.T)
        if position is None:
            continue
        index_set = component.index_set()
        factors = list(index_set.subsets()) if position >= 0 else [index_set]
        shape = tuple(len(f) for f in factors)
        if len(component) == math.prod(shape):
            # a dense component: its elements, in index order, fill the product's grid
            grid = np.moveaxis(indices[component.local_name].reshape(shape), max(position, 0), -1)
            here, there = grid[..., :-1].reshape(-1), grid[..., 1:].reshape(-1)
            both = (here >= 0) & (there >= 0)
            successor[here[both]] = there[both]
            continue
        for key, element in component.items():
            later = _one_slot_later(key, position)
            if later not in component:
                continue
            here_i, there_i = index_of.get(id(element)), index_of.get(id(component[later]))
            if here_i is not None and there_i is not None:
                successor[here_i] = there_i
    return successor


def _slot_position(component: Any, slots: Any) -> int | None:
    """Where the slot sits in the keys of an indexed component: -1 for a component indexed by
    the slots alone, the factor's position for a product with the slots, None without."""
    if not component.is_indexed():
        return None
    index_set = component.index_set()
    if index_set is slots:
        return -1
    factors = list(index_set.subsets()) if hasattr(index_set, "subsets") else []
    if len(factors) > 1 and any(f is slots for f in factors):
        return next(k for k, f in enumerate(factors) if f is slots)
    return None


def _one_slot_later(key: Any, position: int) -> Any:
    if position == -1:
        return key + 1
    return (*key[:position], key[position] + 1, *key[position + 1 :])


def check_status(status: highspy.HighsStatus, what: str) -> None:
    """Raise SolverError unless a highspy call returned OK or a warning."""
    if status not in (_OK, _WARNING):
        raise SolverError(f"HiGHS {what} failed with status {status}")
