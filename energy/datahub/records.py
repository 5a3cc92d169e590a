"""What leaves the platform: records of district aggregates or of one consenting house.

A Record carries values whose names end in their unit (`grid_power_kw`, `storage_soc_frac`);
`unit_of` turns that suffix into the unit string written next to every published value. Series
(a plan, a forecast) carry one value list per name in `series`, aligned with `slots`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from energy.publication_config import PublicationKind

__all__ = ["DISTRICT", "Record", "unit_of"]

DISTRICT = None
"""`Record.house_id` of district records."""

_UNITS = (
    ("_g_per_kwh", "g/kWh"),
    ("_w_per_m2", "W/m2"),
    ("_kwh", "kWh"),
    ("_kw", "kW"),
    ("_kg", "kg"),
    ("_frac", "1"),
    ("_c", "degC"),
)


def unit_of(name: str) -> str:
    """The unit of a value from its name's suffix; ValueError for a name without one."""
    for suffix, unit in _UNITS:
        if name.endswith(suffix):
            return unit
    raise ValueError(f"value name {name!r} does not end in a known unit suffix")


@dataclass(frozen=True)
class Record:
    """One publishable item. `time` is the start of the period it describes (UTC, aware);
    `end` its end (None for an instant). `house_id` None means the whole district."""

    kind: PublicationKind
    house_id: str | None
    time: dt.datetime
    values: Mapping[str, float | None] = field(default_factory=dict)
    end: dt.datetime | None = None
    slots: tuple[dt.datetime, ...] = ()
    series: Mapping[str, tuple[float | None, ...]] = field(default_factory=dict)
    detail: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.time.tzinfo is None or (self.end is not None and self.end.tzinfo is None):
            raise ValueError(f"Record times must be timezone-aware UTC; found {self.time!r}")
        for name in (*self.values, *self.series):
            unit_of(name)
        for name, values in self.series.items():
            if len(values) != len(self.slots):
                raise ValueError(
                    f"series {name!r} has {len(values)} values for {len(self.slots)} slots"
                )

    @property
    def subject(self) -> str:
        """'district' or the house id."""
        return self.house_id or "district"
