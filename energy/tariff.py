"""Per-slot prices and emission factors from a site's tariff configuration.

- import price: fixed, time-of-use bands in local time, or a dynamic supply tariff (§41a EnWG):
  (day-ahead market price + supplier margin + fees and levies + the network fee of the slot) x
  (1 + VAT) [EUR/kWh]. The network fee follows the §14a EnWG module (energy.config
  NetworkFeeConfig): Modul 3 sets its tier per slot from the operator's windows in local time;
  Modul 2 gives the separately metered devices their own, reduced price
  (`price_import_modul2_eur_per_kwh`); Modul 1's flat yearly reduction is no slot price but a
  credit over a period (`modul_1_credit_eur`, pro rata by time);
- export price: the feed-in tariff (EUR/kWh), zero in slots with a negative day-ahead price
  when §51 EEG applies;
- CO2: a constant factor or a series (g/kWh).

Series files are CSV (`timestamp` with UTC offset, and the value column) or, written as
`package:<distribution>/<path>`, a one-column text file shipped inside an installed package with
one value per quarter hour of a non-leap year in CET (UTC+1, no DST; as pycity_scheduling ships the
German 2015 day-ahead prices and CO2 factors). Such a typical year is mapped onto any requested
year by ISO week and weekday, so that weekends stay weekends.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from energy.config import NetworkFeeConfig, SiteConfig, TariffConfig
from energy.timegrid import align_to_slots

__all__ = [
    "TariffSeries",
    "TariffSeriesError",
    "load_series_file",
    "modul_1_credit_eur",
    "network_fee_eur_per_kwh",
    "tariff_series",
]

_TYPICAL_YEAR_OFFSET = dt.timezone(dt.timedelta(hours=1))
_SLOTS_PER_DAY = 96


class TariffSeriesError(ValueError):
    """A price or emission series cannot be read or does not cover the requested slots."""


@dataclass(frozen=True)
class TariffSeries:
    """Per-slot inputs of the dispatch, indexed by slot start (UTC)."""

    price_import_eur_per_kwh: pd.Series
    price_export_eur_per_kwh: pd.Series
    co2_g_per_kwh: pd.Series
    #: §14a Modul 2: the import price of the separately metered devices (None: no Modul 2)
    price_import_modul2_eur_per_kwh: pd.Series | None = None

    def frame(self) -> pd.DataFrame:
        columns = {
            "price_import_eur_per_kwh": self.price_import_eur_per_kwh,
            "price_export_eur_per_kwh": self.price_export_eur_per_kwh,
            "co2_g_per_kwh": self.co2_g_per_kwh,
        }
        if self.price_import_modul2_eur_per_kwh is not None:
            columns["price_import_modul2_eur_per_kwh"] = self.price_import_modul2_eur_per_kwh
        return pd.DataFrame(columns)


def _resolve(reference: str, base: Path | None) -> tuple[Path, bool]:
    """Return (path, is_package_typical_year)."""
    if reference.startswith("package:"):
        distribution, _, inner = reference.removeprefix("package:").partition("/")
        spec = importlib.util.find_spec(distribution)
        if spec is None or spec.origin is None:
            raise TariffSeriesError(
                f"series {reference!r}: package {distribution!r} is not installed "
                "(`make install` installs it)"
            )
        return Path(spec.origin).parent / inner, True
    path = Path(reference)
    if not path.is_absolute() and base is not None:
        path = base / path
    return path, False


@functools.lru_cache(maxsize=16)
def _typical_year(path: Path) -> np.ndarray:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise TariffSeriesError(f"{path}: cannot read ({exc.strerror})") from exc
    values = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            values.append(float(line))
        except ValueError as exc:
            raise TariffSeriesError(
                f"{path}, line {number}: expected a number, found {line!r}"
            ) from exc
    if len(values) != 365 * _SLOTS_PER_DAY:
        raise TariffSeriesError(
            f"{path}: expected {365 * _SLOTS_PER_DAY} quarter-hour values of a typical year, "
            f"found {len(values)}"
        )
    return np.asarray(values)


def _map_typical_year(year_values: np.ndarray, index: pd.DatetimeIndex) -> np.ndarray:
    """Pick, for each slot, the typical year's value at the same ISO week, weekday and CET time."""
    local = index.tz_convert(_TYPICAL_YEAR_OFFSET)
    iso = local.isocalendar()
    week = np.minimum(iso["week"].to_numpy(dtype=int), 52)
    weekday = iso["day"].to_numpy(dtype=int)
    reference_start = dt.date.fromisocalendar(2015, 1, 1)
    day_of_year = (
        (week - 1) * 7 + (weekday - 1) + (reference_start - dt.date(2015, 1, 1)).days
    ) % 365
    slot_of_day = local.hour.to_numpy() * 4 + local.minute.to_numpy() // 15
    return year_values[day_of_year * _SLOTS_PER_DAY + slot_of_day]


@functools.lru_cache(maxsize=16)
def _csv_series(path: Path, column: str) -> pd.Series:
    try:
        frame = pd.read_csv(path)
    except (OSError, pd.errors.ParserError) as exc:
        raise TariffSeriesError(f"{path}: cannot read CSV ({exc})") from exc
    for needed in ("timestamp", column):
        if needed not in frame.columns:
            raise TariffSeriesError(
                f"{path}: expected a column {needed!r}, found columns {list(frame.columns)}"
            )
    try:
        times = pd.to_datetime(frame["timestamp"], utc=False, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise TariffSeriesError(f"{path}: column 'timestamp': {exc}") from exc
    if getattr(times.dt, "tz", None) is None:
        raise TariffSeriesError(
            f"{path}: column 'timestamp' must carry a UTC offset, found {frame['timestamp'].iloc[0]!r}"
        )
    return pd.Series(frame[column].to_numpy(dtype=float), index=times.dt.tz_convert("UTC"))


def load_series_file(
    reference: str, column: str, index: pd.DatetimeIndex, base: Path | None = None
) -> pd.Series:
    """Values of a series file on the slots of `index`; a coarser (e.g. hourly) value holds over
    its interval."""
    path, typical = _resolve(reference, base)
    if typical:
        return pd.Series(_map_typical_year(_typical_year(path), index), index=index)
    series = _csv_series(path, column).sort_index()
    # a price or factor holds over its own interval, like an average power
    values = align_to_slots(series, "power").reindex(index)
    if values.isna().any():
        first = values.index[values.isna()][0]
        raise TariffSeriesError(
            f"{path}: column {column!r} has no value for slot {first.isoformat()} "
            f"(file covers {series.index[0].isoformat()} to {series.index[-1].isoformat()})"
        )
    return values


def network_fee_eur_per_kwh(fee: NetworkFeeConfig, index: pd.DatetimeIndex, tz: str) -> np.ndarray:
    """The network fee's energy price per slot [EUR/kWh, net]: Modul 3's tier from the
    operator's windows (local time, quarter of the local date), else the standard price."""
    prices = np.full(len(index), fee.energy_price_eur_per_kwh)
    if fee.module != "modul_3":
        return prices
    local = index.tz_convert(tz)
    minutes = np.asarray(local.hour * 60 + local.minute)
    quarters = np.asarray(local.quarter)
    tiers = {"low": fee.modul_3_low_eur_per_kwh, "high": fee.modul_3_high_eur_per_kwh}
    for window in fee.modul_3_windows:
        start = window.start_local.hour * 60 + window.start_local.minute
        end = window.end_local.hour * 60 + window.end_local.minute or 24 * 60
        inside = np.isin(quarters, window.quarters) & (minutes >= start) & (minutes < end)
        price = tiers[window.tier]
        assert price is not None  # validated with the config
        prices[inside] = price
    return prices


def modul_1_credit_eur(tariff: TariffConfig, start: pd.Timestamp, end: pd.Timestamp) -> float:
    """§14a Modul 1: the flat yearly network-fee reduction over [start, end), pro rata by time
    (a 365-day year), gross with VAT; 0 without Modul 1 or 3 (which includes Modul 1)."""
    fee = tariff.network_fee
    if fee is None or fee.module not in ("modul_1", "modul_3"):
        return 0.0
    share = (end - start) / pd.Timedelta(days=365)
    return fee.modul_1_reduction_eur_per_year * share * (1.0 + tariff.vat_frac)


def _market(
    tariff: TariffConfig,
    index: pd.DatetimeIndex,
    base: Path | None,
    market_eur_per_mwh: pd.Series | None,
) -> np.ndarray:
    """Day-ahead prices [EUR/MWh] on index: handed in (the store's), else the tariff's file."""
    if market_eur_per_mwh is not None:
        market = market_eur_per_mwh.reindex(index)
        if market.isna().any():
            first = market.index[market.isna()][0]
            raise TariffSeriesError(f"day-ahead prices: no value for slot {first.isoformat()}")
        return market.to_numpy(dtype=float)
    if tariff.day_ahead_prices_file is None:
        raise TariffSeriesError("tariff kind 'day_ahead' needs day_ahead_prices_file")
    return load_series_file(
        tariff.day_ahead_prices_file, "price_eur_per_mwh", index, base
    ).to_numpy()


def _import_price(
    tariff: TariffConfig,
    index: pd.DatetimeIndex,
    tz: str,
    market_eur_per_mwh: np.ndarray | None,
) -> np.ndarray:
    if tariff.kind == "fixed":
        assert tariff.fixed_price_eur_per_kwh is not None
        return np.full(len(index), tariff.fixed_price_eur_per_kwh)
    if tariff.kind == "time_of_use":
        assert tariff.default_price_eur_per_kwh is not None
        prices = np.full(len(index), tariff.default_price_eur_per_kwh)
        local_minutes = index.tz_convert(tz).hour * 60 + index.tz_convert(tz).minute
        for band in tariff.time_of_use:
            start = band.start_local.hour * 60 + band.start_local.minute
            end = band.end_local.hour * 60 + band.end_local.minute
            inside = (
                ((local_minutes >= start) & (local_minutes < end))
                if start < end
                else ((local_minutes >= start) | (local_minutes < end))
            )
            prices[np.asarray(inside)] = band.price_eur_per_kwh
        return prices
    assert market_eur_per_mwh is not None
    net = market_eur_per_mwh / 1000.0 + tariff.fees_and_levies_eur_per_kwh
    if tariff.supplier_margin_eur_per_kwh:
        net = net + tariff.supplier_margin_eur_per_kwh
    if tariff.network_fee is not None:
        net = net + network_fee_eur_per_kwh(tariff.network_fee, index, tz)
    return net * (1.0 + tariff.vat_frac)


def tariff_series(
    site: SiteConfig, index: pd.DatetimeIndex, market_eur_per_mwh: pd.Series | None = None
) -> TariffSeries:
    """Import and export prices and the CO2 factor for the slots of `index` (UTC slot starts).

    market_eur_per_mwh: the day-ahead prices to use (the live loop reads them from the store);
    None: the tariff's day_ahead_prices_file (the simulator's and the evaluation's default)."""
    tariff = site.tariff
    base = site.source_path.parent if site.source_path else None
    tz = site.location.timezone
    market = (
        _market(tariff, index, base, market_eur_per_mwh) if tariff.kind == "day_ahead" else None
    )
    price_import = _import_price(tariff, index, tz, market)
    price_export = np.full(len(index), tariff.feed_in_eur_per_kwh)
    if tariff.eeg_no_payment_at_negative_prices and market is not None:
        price_export[market < 0] = 0.0
    modul2 = None
    fee = tariff.network_fee
    if fee is not None and fee.module == "modul_2":
        reduction = fee.energy_price_eur_per_kwh * fee.modul_2_reduction_frac
        modul2 = pd.Series(
            price_import - reduction * (1.0 + tariff.vat_frac),
            index=index,
            name="price_import_modul2_eur_per_kwh",
        )
    if tariff.co2_series_file:
        co2 = load_series_file(tariff.co2_series_file, "co2_g_per_kwh", index, base).to_numpy()
    else:
        co2 = np.full(len(index), tariff.co2_g_per_kwh or 0.0)
    return TariffSeries(
        price_import_eur_per_kwh=pd.Series(
            price_import, index=index, name="price_import_eur_per_kwh"
        ),
        price_export_eur_per_kwh=pd.Series(
            price_export, index=index, name="price_export_eur_per_kwh"
        ),
        co2_g_per_kwh=pd.Series(co2, index=index, name="co2_g_per_kwh"),
        price_import_modul2_eur_per_kwh=modul2,
    )
