"""Bulk write and read of measurements as pandas objects.

A measurement frame is long-format: one row per value with columns asset_id, quantity, time (UTC-
aware), value, quality (energy.quality.Quality) and optionally unit. Writing never overwrites what is
stored: a value for a (series, time) that exists already is ignored, so re-ingesting a file is safe.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Iterator

import numpy as np
import pandas as pd
from sqlalchemy import and_, func, select

from energy.quality import Quality
from energy.store.engine import Store
from energy.store.schema import measurements, series
from energy.store.types import to_utc_datetime

__all__ = ["MEASUREMENT_COLUMNS", "latest_measurements", "read_series", "write_measurements"]

log = logging.getLogger(__name__)

MEASUREMENT_COLUMNS = ("asset_id", "quantity", "time", "value", "quality")
_CHUNK_ROWS = 500_000


def _validated(frame: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in MEASUREMENT_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"measurement frame: expected columns {list(MEASUREMENT_COLUMNS)}, missing {missing}"
        )
    times = frame["time"]
    if not isinstance(times.dtype, pd.DatetimeTZDtype):
        raise ValueError(
            f"measurement frame: column 'time' must be timezone-aware, found dtype {times.dtype}"
        )
    qualities = set(frame["quality"].unique().tolist())
    unknown = qualities - {q.value for q in Quality}
    if unknown:
        raise ValueError(f"measurement frame: unknown quality codes {sorted(unknown)}")
    return frame


def _series_column(store: Store, site_id: str, frame: pd.DataFrame) -> np.ndarray:
    units = frame["unit"] if "unit" in frame.columns else pd.Series("", index=frame.index)
    keys_frame = pd.DataFrame(
        {"asset_id": frame["asset_id"], "quantity": frame["quantity"], "unit": units}
    ).drop_duplicates(["asset_id", "quantity"])
    keys = list(keys_frame.itertuples(index=False, name=None))
    ids = store.series_ids(site_id, keys)
    index = pd.MultiIndex.from_arrays([frame["asset_id"], frame["quantity"]])
    return np.asarray(pd.Series(ids).reindex(index).to_numpy(), dtype=np.int64)


def _chunks(n: int) -> Iterator[slice]:
    for start in range(0, n, _CHUNK_ROWS):
        yield slice(start, min(n, start + _CHUNK_ROWS))


def write_measurements(store: Store, site_id: str, frame: pd.DataFrame) -> int:
    """Store measurements in bulk; returns the number of rows offered (duplicates are ignored)."""
    frame = _validated(frame)
    if frame.empty:
        return 0
    series_ids = _series_column(store, site_id, frame)
    times_us = frame["time"].dt.tz_convert("UTC").to_numpy(dtype="datetime64[us]")
    values = frame["value"].to_numpy(dtype=float)
    qualities = frame["quality"].to_numpy(dtype=np.int64)
    if store.dialect == "postgresql":
        _copy_postgres(store, series_ids, times_us, values, qualities)
    else:
        _insert_sqlite(store, series_ids, times_us, values, qualities)
    log.debug("stored %d measurement rows for site %s", len(frame), site_id)
    return len(frame)


def _insert_sqlite(
    store: Store, ids: np.ndarray, times_us: np.ndarray, values: np.ndarray, qual: np.ndarray
) -> None:
    # Same text form as energy.store.types.UTCDateTime on SQLite (fixed width, no offset = UTC).
    texts = np.datetime_as_string(times_us, unit="us")
    nan = np.isnan(values)
    value_objs = values.astype(object)
    value_objs[nan] = None
    sql = (
        "INSERT INTO measurements (series_id, time, value, quality) VALUES (?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING"
    )
    with store.engine.begin() as conn:
        cursor = conn.connection.driver_connection.cursor()
        for part in _chunks(len(ids)):
            cursor.executemany(
                sql,
                zip(
                    ids[part].tolist(),
                    texts[part].tolist(),
                    value_objs[part].tolist(),
                    qual[part].tolist(),
                    strict=True,
                ),
            )
        cursor.close()


def _copy_postgres(
    store: Store, ids: np.ndarray, times_us: np.ndarray, values: np.ndarray, qual: np.ndarray
) -> None:
    texts = np.datetime_as_string(times_us, unit="us", timezone="UTC")
    with store.engine.begin() as conn:
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            cur.execute(
                "CREATE TEMP TABLE IF NOT EXISTS measurements_staging "
                "(series_id integer, time timestamptz, value double precision, quality smallint) "
                "ON COMMIT DELETE ROWS"
            )
            for part in _chunks(len(ids)):
                buffer = io.StringIO()
                pd.DataFrame(
                    {"s": ids[part], "t": texts[part], "v": values[part], "q": qual[part]}
                ).to_csv(buffer, sep="\t", header=False, index=False, na_rep="\\N")
                with cur.copy("COPY measurements_staging FROM STDIN") as copy:
                    copy.write(buffer.getvalue())
                cur.execute(
                    "INSERT INTO measurements (series_id, time, value, quality) "
                    "SELECT series_id, time, value, quality FROM measurements_staging "
                    "ON CONFLICT DO NOTHING"
                )
                cur.execute("TRUNCATE measurements_staging")


def read_series(
    store: Store,
    site_id: str,
    asset_id: str,
    quantity: str,
    start: dt.datetime | pd.Timestamp,
    end: dt.datetime | pd.Timestamp,
) -> pd.DataFrame:
    """Values of one series in [start, end) as a frame (value, quality) with a UTC time index."""
    ids = store.series_ids(site_id, [(asset_id, quantity, "")], create=False)
    empty = pd.DataFrame(
        {"value": pd.Series(dtype=float), "quality": pd.Series(dtype=np.int8)},
        index=pd.DatetimeIndex([], tz="UTC", name="time"),
    )
    if not ids:
        return empty
    series_id = ids[(asset_id, quantity)]
    lo, hi = to_utc_datetime(pd.Timestamp(start)), to_utc_datetime(pd.Timestamp(end))
    with store.engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()
        if store.dialect == "postgresql":
            cursor.execute(
                "SELECT time, value, quality FROM measurements "
                "WHERE series_id = %s AND time >= %s AND time < %s ORDER BY time",
                (series_id, lo, hi),
            )
        else:
            fmt = "%Y-%m-%dT%H:%M:%S.%f"
            cursor.execute(
                "SELECT time, value, quality FROM measurements "
                "WHERE series_id = ? AND time >= ? AND time < ? ORDER BY time",
                (series_id, lo.strftime(fmt), hi.strftime(fmt)),
            )
        rows = cursor.fetchall()
        cursor.close()
    if not rows:
        return empty
    times, values, qualities = zip(*rows, strict=True)
    parse_format = "ISO8601" if isinstance(times[0], str) else None
    index = pd.DatetimeIndex(
        pd.to_datetime(list(times), utc=True, format=parse_format), name="time"
    )
    return pd.DataFrame(
        {"value": np.asarray(values, dtype=float), "quality": np.asarray(qualities, dtype=np.int8)},
        index=index,
    )


def latest_measurements(store: Store, site_id: str) -> pd.DataFrame:
    """The newest value of every series of a site: asset_id, quantity, unit, time, value, quality."""
    newest = (
        select(measurements.c.series_id, func.max(measurements.c.time).label("time"))
        .join(series, series.c.id == measurements.c.series_id)
        .where(series.c.site_id == site_id)
        .group_by(measurements.c.series_id)
        .subquery()
    )
    query = (
        select(
            series.c.asset_id,
            series.c.quantity,
            series.c.unit,
            measurements.c.time,
            measurements.c.value,
            measurements.c.quality,
        )
        .join(
            newest,
            and_(
                measurements.c.series_id == newest.c.series_id, measurements.c.time == newest.c.time
            ),
        )
        .join(series, series.c.id == measurements.c.series_id)
        .order_by(series.c.asset_id, series.c.quantity)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=["asset_id", "quantity", "unit", "time", "value", "quality"])
    if not frame.empty:
        frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame
