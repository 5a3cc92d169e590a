"""Tunable settings of the dispatch optimizer and validation of HiGHS solver options.

Plant sizes come from the site configuration; this module holds only how the optimizer works:
horizon, which discrete decisions are modelled, penalties of soft limits, the value of energy left
at the horizon end, and the solver's limits. Solver option names and values are checked against
HiGHS itself: a misspelled option is an error, never silently ignored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import highspy

__all__ = [
    "DEFAULT_HORIZON_SLOTS",
    "OptimizerOptions",
    "SolverOptionError",
    "validate_highs_options",
]

#: 36 hours of 15-minute slots.
DEFAULT_HORIZON_SLOTS = 144

#: Options the optimizer sets itself; passing them in `highs_options` would be ambiguous.
_MANAGED_OPTIONS = frozenset({"time_limit", "mip_rel_gap", "solver", "output_flag"})


class SolverOptionError(ValueError):
    """A HiGHS option that HiGHS does not know or whose value it rejects."""


def validate_highs_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Check every option name and value against a scratch HiGHS instance; return a copy.

    Raises SolverOptionError naming the option, what HiGHS expected and what was found.
    """
    probe = highspy.Highs()
    probe.setOptionValue("output_flag", False)
    checked: dict[str, Any] = {}
    for name, value in options.items():
        status, _ = probe.getOptionType(name)
        if status != highspy.HighsStatus.kOk:
            raise SolverOptionError(
                f"HiGHS option {name!r}: expected a known HiGHS option name; found an unknown name"
            )
        if name in _MANAGED_OPTIONS:
            raise SolverOptionError(
                f"HiGHS option {name!r}: expected it in OptimizerOptions (time_limit_s, "
                f"mip_rel_gap, cold_solver), not in highs_options; found {value!r}"
            )
        if probe.setOptionValue(name, value) != highspy.HighsStatus.kOk:
            _, default = probe.getOptionValue(name)
            raise SolverOptionError(
                f"HiGHS option {name!r}: expected a value of the type and range of "
                f"{default!r}; found {value!r}"
            )
        checked[name] = value
    return checked


@dataclass(frozen=True)
class OptimizerOptions:
    """How the optimizer models and solves; every field has a safe default.

    Penalties are in objective units (EUR for the cost objective) per kWh of violation per slot.
    """

    horizon_slots: int = DEFAULT_HORIZON_SLOTS
    #: Model heat pump on/off with minimum power, minimum on/off times and SG Ready states
    #: (a MILP). False (default) gives an LP with heat pump power anywhere in [0, max]: fast, with
    #: balance prices (duals); the dispatch loop enforces minimum power and switching times.
    heat_pump_on_off: bool = False
    #: Penalty for energy outside battery SoC bounds and power beyond grid limits.
    hard_limit_penalty_eur_per_kwh: float = 100.0
    #: Value of stored battery energy at the horizon end, per kWh. None derives it per solve from
    #: the import price quantile below times the discharge efficiency.
    terminal_value_eur_per_kwh: float | None = None
    terminal_price_quantile: float = 0.1
    #: Soft minimum state of charge at the horizon end (None: only the terminal value applies).
    terminal_soc_frac: float | None = None
    #: Big-M factor for the grid direction binary, as a multiple of the connection limits.
    grid_direction_m_factor: float = 10.0
    #: Up to this many batteries the direction rows (model.DIRECTION_ROWS) stay in every slot;
    #: above it they are in a solve only where the prices make them matter
    #: (model.direction_rows_needed). Either gives the same optimum; a small district solves in
    #: milliseconds with them and keeps the plans it made before (the optimum is not unique, and
    #: the control loop's release to local mode depends on which plan the solver returns), while
    #: at district scale they made HiGHS several times slower.
    direction_rows_everywhere_up_to_batteries: int = 20
    #: Solves per plan when there is no previous plan to linearise the tank-dependent COP around
    #: (see model.CopLinearisation): the first around the measured tank temperatures, each next
    #: one around the plan just made. With a previous plan, one solve.
    cop_linearisation_passes: int = 2
    time_limit_s: float = 5.0
    mip_rel_gap: float = 0.01
    #: Algorithm of the first (cold) solve; re-solves use dual simplex from the previous basis.
    cold_solver: Literal["simplex", "ipm", "choose"] = "simplex"
    highs_options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = []
        if self.horizon_slots < 1:
            problems.append(f"horizon_slots: expected >= 1; found {self.horizon_slots}")
        if self.cop_linearisation_passes < 1:
            problems.append(
                f"cop_linearisation_passes: expected >= 1; found {self.cop_linearisation_passes}"
            )
        if self.time_limit_s <= 0:
            problems.append(
                f"time_limit_s: expected > 0 (a MILP needs a limit); found {self.time_limit_s}"
            )
        if not 0 < self.mip_rel_gap < 1:
            problems.append(
                f"mip_rel_gap: expected in (0, 1) (a zero gap can run for minutes); "
                f"found {self.mip_rel_gap}"
            )
        if not 0 <= self.terminal_price_quantile <= 1:
            problems.append(
                f"terminal_price_quantile: expected in [0, 1]; found {self.terminal_price_quantile}"
            )
        if self.terminal_soc_frac is not None and not 0 <= self.terminal_soc_frac <= 1:
            problems.append(
                f"terminal_soc_frac: expected in [0, 1]; found {self.terminal_soc_frac}"
            )
        if self.hard_limit_penalty_eur_per_kwh <= 0:
            problems.append(
                "hard_limit_penalty_eur_per_kwh: expected > 0; "
                f"found {self.hard_limit_penalty_eur_per_kwh}"
            )
        if self.grid_direction_m_factor < 1:
            problems.append(
                f"grid_direction_m_factor: expected >= 1; found {self.grid_direction_m_factor}"
            )
        if self.direction_rows_everywhere_up_to_batteries < 0:
            problems.append(
                "direction_rows_everywhere_up_to_batteries: expected >= 0; "
                f"found {self.direction_rows_everywhere_up_to_batteries}"
            )
        if self.cold_solver not in ("simplex", "ipm", "choose"):
            problems.append(
                f"cold_solver: expected simplex, ipm or choose; found {self.cold_solver!r}"
            )
        if problems:
            raise ValueError("invalid OptimizerOptions: " + "; ".join(problems))
        object.__setattr__(self, "highs_options", validate_highs_options(self.highs_options))

    def replace(self, **changes: Any) -> OptimizerOptions:
        return dataclasses.replace(self, **changes)
