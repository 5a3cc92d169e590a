from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from energy.config import SiteConfig, TariffConfig, TimeOfUseBand
from energy.tariff import TariffSeriesError, load_series_file, tariff_series
from energy.timegrid import local_day_slots, slot_grid


def _with_tariff(site: SiteConfig, **changes: object) -> SiteConfig:
    tariff = TariffConfig(**{**site.tariff.model_dump(), **changes})
    return site.model_copy(update={"tariff": tariff})


def test_default_day_ahead_prices_cover_a_dst_day_with_fees_and_vat(site) -> None:
    index = local_day_slots(dt.date(2026, 10, 25), "Europe/Berlin")
    series = tariff_series(site.config, index)
    prices = series.price_import_eur_per_kwh
    assert len(prices) == 100
    tariff = site.config.tariff
    floor = tariff.fees_and_levies_eur_per_kwh * (1 + tariff.vat_frac)
    market = prices / (1 + tariff.vat_frac) - tariff.fees_and_levies_eur_per_kwh
    assert market.std() > 0.001  # a market price varies over a day
    assert prices.min() > floor - 0.1
    assert (series.price_export_eur_per_kwh == tariff.feed_in_eur_per_kwh).all()
    assert series.co2_g_per_kwh.between(100, 1000).all()


def test_typical_year_keeps_weekdays(site) -> None:
    """A Saturday of 2026 gets a Saturday of the typical year: cheaper than the Wednesday before."""
    wednesday = tariff_series(site.config, local_day_slots(dt.date(2026, 6, 10), "Europe/Berlin"))
    sunday = tariff_series(site.config, local_day_slots(dt.date(2026, 6, 14), "Europe/Berlin"))
    assert sunday.price_import_eur_per_kwh.mean() < wednesday.price_import_eur_per_kwh.mean()


def test_time_of_use_bands_in_local_time(site) -> None:
    config = _with_tariff(
        site.config,
        kind="time_of_use",
        default_price_eur_per_kwh=0.30,
        time_of_use=[
            TimeOfUseBand(start_local=dt.time(22), end_local=dt.time(6), price_eur_per_kwh=0.20)
        ],
    )
    index = local_day_slots(dt.date(2026, 3, 29), "Europe/Berlin")
    prices = tariff_series(config, index).price_import_eur_per_kwh
    local_hours = index.tz_convert("Europe/Berlin").hour
    assert (prices[(local_hours < 6) | (local_hours >= 22)] == 0.20).all()
    assert (prices[(local_hours >= 6) & (local_hours < 22)] == 0.30).all()
    assert len(prices) == 92


def test_csv_series_must_cover_the_slots(tmp_path: Path) -> None:
    csv = tmp_path / "prices.csv"
    times = pd.date_range("2026-01-01", periods=3, freq="h", tz="UTC")
    pd.DataFrame(
        {"timestamp": [t.isoformat() for t in times], "price_eur_per_mwh": [10.0, 20.0, 30.0]}
    ).to_csv(csv, index=False)
    index = slot_grid(times[0], times[-1] + pd.Timedelta("1h"))
    values = load_series_file(str(csv), "price_eur_per_mwh", index)
    np.testing.assert_allclose(values.to_numpy(), np.repeat([10.0, 20.0, 30.0], 4))
    with pytest.raises(TariffSeriesError, match="no value for slot 2026-01-01T03:00:00"):
        load_series_file(
            str(csv), "price_eur_per_mwh", slot_grid(times[0], times[-1] + pd.Timedelta("2h"))
        )


def test_csv_without_offset_is_refused(tmp_path: Path) -> None:
    csv = tmp_path / "prices.csv"
    csv.write_text("timestamp,price_eur_per_mwh\n2026-01-01 00:00,10\n")
    with pytest.raises(TariffSeriesError, match="UTC offset"):
        load_series_file(
            str(csv),
            "price_eur_per_mwh",
            slot_grid(
                pd.Timestamp("2026-01-01", tz="UTC"), pd.Timestamp("2026-01-01 01:00", tz="UTC")
            ),
        )


def test_missing_package_is_named() -> None:
    index = slot_grid(
        pd.Timestamp("2026-01-01", tz="UTC"), pd.Timestamp("2026-01-01 01:00", tz="UTC")
    )
    with pytest.raises(TariffSeriesError, match="not installed"):
        load_series_file("package:no_such_pkg/x.txt", "v", index)
