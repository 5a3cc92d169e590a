"""Grid-operator limits at the connection point and how §14a dimming is shared over the devices.

Two kinds of limit come from outside the platform and override any plan:

- `dimming` (§14a EnWG): the most the controllable devices behind the connection point (heat
  pumps, batteries charging from the grid, later EV chargers) may draw together, in kW. The
  platform, acting as the site's energy management system, shares it out (`share_dimming`);
  household load is not limited;
- `feed_in`: the most the connection point may export, in kW (a temporary feed-in limit).

Each comes with its source (the control box's contact, or the API caller) and its end.
This module is part of the domain kernel: no store, no Modbus.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["GridLimit", "LimitKind", "LimitsInForce", "share_dimming"]


class LimitKind(StrEnum):
    DIMMING = "dimming"
    FEED_IN = "feed_in"


@dataclass(frozen=True)
class GridLimit:
    """One limit in force: kind, kW, who set it, and until when (None: while it is signalled)."""

    kind: LimitKind
    limit_kw: float
    source: str
    until: dt.datetime | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.limit_kw) and self.limit_kw >= 0):
            raise ValueError(
                f"grid limit {self.kind.value} from {self.source}: expected kW >= 0; "
                f"found {self.limit_kw!r}"
            )

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "limit_kw": round(self.limit_kw, 3),
            "source": self.source,
            "until": self.until.isoformat() if self.until is not None else None,
        }


@dataclass(frozen=True)
class LimitsInForce:
    """The tightest limit of each kind in force now (None: no limit of that kind)."""

    dimming: GridLimit | None = None
    feed_in: GridLimit | None = None

    @classmethod
    def tightest(cls, limits: list[GridLimit]) -> LimitsInForce:
        """The lowest limit of each kind (the earliest ending among equals)."""

        def lowest(kind: LimitKind) -> GridLimit | None:
            of_kind = [limit for limit in limits if limit.kind is kind]
            far = dt.datetime.max.replace(tzinfo=dt.UTC)
            return min(of_kind, key=lambda g: (g.limit_kw, g.until or far), default=None)

        return cls(lowest(LimitKind.DIMMING), lowest(LimitKind.FEED_IN))

    @property
    def any(self) -> bool:
        return self.dimming is not None or self.feed_in is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "dimming": self.dimming.as_dict() if self.dimming else None,
            "feed_in": self.feed_in.as_dict() if self.feed_in else None,
        }


def share_dimming(
    limit_kw: float, rated_kw: Mapping[str, float], min_per_device_kw: float
) -> dict[str, float]:
    """Each controllable device's cap under a §14a limit of the devices' total draw.

    Every device keeps min(its rating, min_per_device_kw) (the 4.2 kW the rule guarantees), so a
    limit below the sum of those guarantees is raised to it; what the limit leaves above the
    guarantees is shared in proportion to each device's rating above its guarantee. A limit at or
    above the sum of ratings caps nothing (each cap is the rating). Caps never exceed ratings.
    """
    if not (math.isfinite(limit_kw) and limit_kw >= 0):
        raise ValueError(f"dimming limit: expected kW >= 0; found {limit_kw!r}")
    guarantee = {d: min(max(r, 0.0), min_per_device_kw) for d, r in rated_kw.items()}
    headroom = {d: max(rated_kw[d], 0.0) - g for d, g in guarantee.items()}
    above = max(limit_kw - sum(guarantee.values()), 0.0)
    total_headroom = sum(headroom.values())
    if above >= total_headroom:
        return {d: max(r, 0.0) for d, r in rated_kw.items()}
    return {d: guarantee[d] + above * headroom[d] / total_headroom for d in rated_kw}
