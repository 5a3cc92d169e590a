"""The site's autarky aim in one line: self-sufficiency and self-consumption of a plan or run."""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = ["autarky_line"]


def _percent(value: object) -> str:
    if not isinstance(value, int | float) or not math.isfinite(value):
        return "n/a"
    return f"{100.0 * value:.1f} %"


def autarky_line(figures: Mapping[str, object]) -> str:
    """`autarky: self-sufficiency .. %, self-consumption .. %` from figures that hold
    self_sufficiency_frac and self_consumption_frac (a plan's cost breakdown or a run's
    figures); n/a where a ratio has no denominator (no consumption, no PV)."""
    return (
        f"autarky: self-sufficiency {_percent(figures.get('self_sufficiency_frac'))} "
        "(share of consumption covered locally), self-consumption "
        f"{_percent(figures.get('self_consumption_frac'))} (share of PV used locally)"
    )
