from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy.quality import Quality
from energy.store import Store
from energy.store.measurements import latest_measurements, read_series, write_measurements

SITE = "klimaviertel-sodingen"


def _frame(
    times: pd.DatetimeIndex,
    values: np.ndarray,
    asset: str = "house-01.meter",
    quantity: str = "power_kw",
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "asset_id": asset,
            "quantity": quantity,
            "time": times,
            "value": values,
            "quality": int(Quality.GOOD),
            "unit": "kW",
        }
    )


def test_round_trip_returns_utc_aware_times_and_values(store: Store) -> None:
    times = pd.date_range("2026-03-28 22:00", periods=12, freq="15min", tz="Europe/Berlin")
    values = np.arange(12, dtype=float)
    write_measurements(store, SITE, _frame(times, values))
    result = read_series(
        store, SITE, "house-01.meter", "power_kw", times[0], times[-1] + pd.Timedelta("15min")
    )
    assert str(result.index.tz) == "UTC"
    assert list(result.index) == list(times.tz_convert("UTC"))
    np.testing.assert_allclose(result["value"].to_numpy(), values)


def test_rewriting_keeps_what_is_stored(store: Store) -> None:
    times = pd.date_range("2026-01-01", periods=4, freq="15min", tz="UTC")
    write_measurements(store, SITE, _frame(times, np.ones(4)))
    write_measurements(store, SITE, _frame(times, np.full(4, 9.0)))
    result = read_series(
        store, SITE, "house-01.meter", "power_kw", times[0], times[-1] + pd.Timedelta("1h")
    )
    assert result["value"].tolist() == [1.0, 1.0, 1.0, 1.0]


def test_missing_value_and_quality_survive(store: Store) -> None:
    times = pd.date_range("2026-01-01", periods=2, freq="15min", tz="UTC")
    frame = _frame(times, np.array([np.nan, 2.0]))
    frame["quality"] = [int(Quality.STALE), int(Quality.GOOD)]
    write_measurements(store, SITE, frame)
    result = read_series(
        store, SITE, "house-01.meter", "power_kw", times[0], times[-1] + pd.Timedelta("1h")
    )
    assert np.isnan(result["value"].iloc[0])
    assert result["quality"].tolist() == [Quality.STALE, Quality.GOOD]


def test_read_window_is_half_open(store: Store) -> None:
    times = pd.date_range("2026-01-01", periods=8, freq="15min", tz="UTC")
    write_measurements(store, SITE, _frame(times, np.arange(8.0)))
    result = read_series(store, SITE, "house-01.meter", "power_kw", times[2], times[5])
    assert result["value"].tolist() == [2.0, 3.0, 4.0]


def test_latest_per_series(store: Store) -> None:
    times = pd.date_range("2026-01-01", periods=3, freq="15min", tz="UTC")
    write_measurements(
        store,
        SITE,
        pd.concat(
            [
                _frame(times, np.arange(3.0)),
                _frame(times, np.arange(3.0) * 10, quantity="import_kwh"),
            ]
        ),
    )
    latest = latest_measurements(store, SITE).set_index("quantity")
    assert latest.loc["power_kw", "value"] == 2.0
    assert latest.loc["import_kwh", "value"] == 20.0
    assert latest.loc["power_kw", "time"] == times[-1]


def test_naive_times_are_refused(sqlite_store: Store) -> None:
    frame = _frame(pd.date_range("2026-01-01", periods=2, freq="15min"), np.ones(2))
    with pytest.raises(ValueError, match="timezone-aware"):
        write_measurements(sqlite_store, SITE, frame)


def test_unknown_series_reads_empty(store: Store) -> None:
    result = read_series(
        store,
        SITE,
        "nope",
        "power_kw",
        pd.Timestamp("2026-01-01", tz="UTC"),
        pd.Timestamp("2026-01-02", tz="UTC"),
    )
    assert result.empty
