"""Day-ahead market prices: the source contract, the publication schedule and the price forecast
for slots not yet published.

The day-ahead auction of the coupled European market (SDAC) closes at 12:00 CET/CEST; the
results for the next local day are published about 12:45 local time (`publication_time`). A
planner that looks beyond the published slots plans there with `forecast_prices`: each
unpublished slot takes the price of the same local quarter hour on the newest published day
(persistence of the daily shape), which is what the day's price will most resemble until the
auction says otherwise. The planner re-plans once the real prices have arrived.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

__all__ = [
    "PriceFeed",
    "PriceFeedError",
    "forecast_prices",
    "publication_time",
]


class PriceFeedError(RuntimeError):
    """A price source could not deliver (HTTP error, malformed reply, bad file, no data)."""


class PriceFeed(Protocol):
    """Where day-ahead prices come from (ENTSO-E, Energy-Charts, a file)."""

    name: str

    def day_ahead(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
        """Published prices [EUR/MWh] of the quarter hours in [start, end), indexed by UTC slot
        start; slots not (yet) published are absent."""
        ...


def publication_time(delivery_day: dt.date, tz: ZoneInfo, at_local: dt.time) -> dt.datetime:
    """When the prices of delivery_day are expected: at_local on the day before, in UTC."""
    local = dt.datetime.combine(delivery_day - dt.timedelta(days=1), at_local, tzinfo=tz)
    return local.astimezone(dt.UTC)


def forecast_prices(
    published: pd.Series, index: pd.DatetimeIndex, tz: ZoneInfo
) -> tuple[pd.Series, np.ndarray]:
    """Prices [EUR/MWh] on index: published where known, else the same local quarter hour of
    the newest published day at or before it. Returns (prices, published mask).

    A slot with nothing published before it is NaN: the caller decides what to do (the live
    loop refuses to plan on no prices at all)."""
    known = published.reindex(index)
    mask = known.notna().to_numpy()
    if mask.all() or published.empty:
        return known, mask
    local = published.index.tz_convert(tz)
    by_quarter = pd.Series(
        published.to_numpy(dtype=float),
        index=pd.MultiIndex.from_arrays(
            [local.date, local.hour * 4 + local.minute // 15], names=["day", "quarter"]
        ),
    )
    last_day = max(local.date)
    days = sorted(set(local.date))
    wanted = index.tz_convert(tz)
    values = known.to_numpy(dtype=float).copy()
    for i in np.flatnonzero(~mask):
        quarter = wanted[i].hour * 4 + wanted[i].minute // 15
        day = min(wanted[i].date(), last_day)
        for candidate in reversed([d for d in days if d <= day]):
            key = (candidate, quarter)
            if key in by_quarter.index:
                values[i] = float(by_quarter.loc[key])
                break
    return pd.Series(values, index=index, name="price_eur_per_mwh"), mask
