"""Day-ahead prices in the store, with the time they became known.

Stored long in the forecasts table (no schema of their own: a published price is a series with
an issue time like any forecast): target `day_ahead:<zone>:price_eur_per_mwh`, the source as
model_version (`entsoe`, `energy-charts`, `file:<name>`), the time the platform received them as
issue_time, quantile 0.5. A price once stored is never overwritten; a correction by the source is
a new issue, and readers take per slot the newest issue known at their time.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import and_, select

from energy.store.engine import Store
from energy.store.forecasts import write_forecasts
from energy.store.schema import forecasts
from energy.store.types import to_utc_datetime

__all__ = ["price_target", "read_prices", "write_prices"]


def price_target(zone: str) -> str:
    return f"day_ahead:{zone}:price_eur_per_mwh"


def write_prices(
    store: Store, zone: str, source: str, issue_time: dt.datetime, prices: pd.Series
) -> int:
    """Store prices [EUR/MWh] per slot start as issued by source at issue_time."""
    finite = prices.dropna()
    long = pd.DataFrame(
        {
            "target": price_target(zone),
            "model_version": source,
            "issue_time": pd.Timestamp(issue_time),
            "valid_time": finite.index,
            "quantile": 0.5,
            "value": finite.to_numpy(dtype=float),
        }
    )
    return write_forecasts(store, long)


def read_prices(
    store: Store, zone: str, start: dt.datetime, end: dt.datetime, at: dt.datetime
) -> pd.DataFrame:
    """Per slot of [start, end) the newest price issued at or before `at`: columns
    price_eur_per_mwh, source, issue_time; index slot_start (UTC). Slots without any are absent."""
    query = select(
        forecasts.c.valid_time, forecasts.c.value, forecasts.c.model_version, forecasts.c.issue_time
    ).where(
        and_(
            forecasts.c.target == price_target(zone),
            forecasts.c.issue_time <= to_utc_datetime(at),
            forecasts.c.valid_time >= to_utc_datetime(start),
            forecasts.c.valid_time < to_utc_datetime(end),
        )
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=["slot_start", "price_eur_per_mwh", "source", "issue_time"])
    for column in ("slot_start", "issue_time"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame = frame.sort_values(["slot_start", "issue_time", "source"])
    newest = frame.drop_duplicates("slot_start", keep="last").set_index("slot_start")
    return newest[["price_eur_per_mwh", "source", "issue_time"]]
