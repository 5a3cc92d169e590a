"""The 2026 tariff elements, each against a hand-computed price: the dynamic supply tariff
(§41a EnWG), the §14a EnWG network-fee modules 1, 2 and 3 (on both DST days), §51 EEG (no feed-in
payment at negative prices) and the 60 % PV feed-in cap (Solarspitzengesetz)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from energy.config import NetworkFeeConfig, SiteConfig, TariffConfig
from energy.tariff import modul_1_credit_eur, tariff_series
from energy.timegrid import local_day_slots

# the grid operator's Modul 3 table (an example of one operator; each publishes its own)
MODUL_3 = {
    "energy_price_eur_per_kwh": 0.0862,
    "module": "modul_3",
    "modul_1_reduction_eur_per_year": 110.0,
    "modul_3_low_eur_per_kwh": 0.0345,
    "modul_3_high_eur_per_kwh": 0.1084,
    "modul_3_windows": [
        {"quarters": [1, 4], "start_local": "01:00", "end_local": "04:00", "tier": "low"},
        {"quarters": [1, 4], "start_local": "17:00", "end_local": "19:00", "tier": "high"},
        {"quarters": [2, 3], "start_local": "11:00", "end_local": "15:00", "tier": "low"},
    ],
}


def _site(site_config: SiteConfig, **tariff: Any) -> SiteConfig:
    base = {
        **site_config.tariff.model_dump(),
        "supplier_margin_eur_per_kwh": 0.02,
        "fees_and_levies_eur_per_kwh": 0.05,
        "vat_frac": 0.19,
        "feed_in_eur_per_kwh": 0.0786,
        "eeg_no_payment_at_negative_prices": True,
    }
    return site_config.model_copy(update={"tariff": TariffConfig(**{**base, **tariff})})


def _market(index: pd.DatetimeIndex) -> pd.Series:
    """EUR/MWh: 100 by day, -20 from 00:00 to 01:00 UTC (a windy night), 250 at 17:00 UTC."""
    values = np.full(len(index), 100.0)
    values[index.hour == 0] = -20.0
    values[index.hour == 17] = 250.0
    return pd.Series(values, index=index)


def test_modul_3_on_the_fall_back_day(site) -> None:
    index = local_day_slots(dt.date(2026, 10, 25), "Europe/Berlin")
    assert len(index) == 100
    config = _site(site.config, network_fee=MODUL_3)
    series = tariff_series(config, index, _market(index))
    price = series.price_import_eur_per_kwh
    # 00:30 UTC = 02:30 CEST (before the change): low tier, negative market price
    assert price.loc["2026-10-25T00:30Z"] == pytest.approx((-0.020 + 0.02 + 0.05 + 0.0345) * 1.19)
    # 01:30 UTC = 02:30 CET (the repeated hour): low tier again
    assert price.loc["2026-10-25T01:30Z"] == pytest.approx((0.100 + 0.02 + 0.05 + 0.0345) * 1.19)
    # 03:00 UTC = 04:00 CET: standard
    assert price.loc["2026-10-25T03:00Z"] == pytest.approx((0.100 + 0.02 + 0.05 + 0.0862) * 1.19)
    # 17:15 UTC = 18:15 CET: high tier and the evening peak price
    assert price.loc["2026-10-25T17:15Z"] == pytest.approx((0.250 + 0.02 + 0.05 + 0.1084) * 1.19)
    tiers = np.round(price.to_numpy() / 1.19 - _market(index).to_numpy() / 1000 - 0.07, 6)
    # local 01-04 is four hours on this day (02-03 twice): 16 low slots; 17-19 CET: 8 high
    assert (tiers == 0.0345).sum() == 16
    assert (tiers == 0.1084).sum() == 8
    assert (tiers == 0.0862).sum() == 76


def test_modul_3_on_the_spring_forward_day(site) -> None:
    index = local_day_slots(dt.date(2026, 3, 29), "Europe/Berlin")
    assert len(index) == 92
    config = _site(site.config, network_fee=MODUL_3)
    price = tariff_series(config, index, _market(index)).price_import_eur_per_kwh
    tiers = np.round(price.to_numpy() / 1.19 - _market(index).to_numpy() / 1000 - 0.07, 6)
    # local 01:00-02:00 CET and 03:00-04:00 CEST (02:00-03:00 does not exist): 8 low slots
    assert (tiers == 0.0345).sum() == 8
    assert price.loc["2026-03-29T00:15Z"] == pytest.approx((-0.020 + 0.07 + 0.0345) * 1.19)
    # 17:00 local CEST = 15:00 UTC: high tier (Q1)
    assert price.loc["2026-03-29T15:00Z"] == pytest.approx((0.100 + 0.07 + 0.1084) * 1.19)


def test_quarter_two_windows_follow_the_operators_table(site) -> None:
    index = local_day_slots(dt.date(2026, 6, 10), "Europe/Berlin")
    config = _site(site.config, network_fee=MODUL_3)
    price = tariff_series(config, index, _market(index)).price_import_eur_per_kwh
    # 12:00 CEST = 10:00 UTC: the summer low window
    assert price.loc["2026-06-10T10:00Z"] == pytest.approx((0.100 + 0.07 + 0.0345) * 1.19)
    # 18:00 CEST: no high window in Q2
    assert price.loc["2026-06-10T16:00Z"] == pytest.approx((0.100 + 0.07 + 0.0862) * 1.19)


def test_negative_prices_pay_no_feed_in_under_section_51(site) -> None:
    index = local_day_slots(dt.date(2026, 10, 25), "Europe/Berlin")
    market = _market(index)
    export = tariff_series(_site(site.config), index, market).price_export_eur_per_kwh
    assert (export[market < 0] == 0.0).all()
    assert (export[market >= 0] == 0.0786).all()
    assert (market < 0).sum() == 4
    paid = _site(site.config, eeg_no_payment_at_negative_prices=False)
    assert (tariff_series(paid, index, market).price_export_eur_per_kwh == 0.0786).all()


def test_modul_2_gives_the_separately_metered_devices_a_reduced_price(site) -> None:
    index = local_day_slots(dt.date(2026, 12, 7), "Europe/Berlin")
    fee = {
        "energy_price_eur_per_kwh": 0.0862,
        "module": "modul_2",
        "modul_2_reduction_frac": 0.6,
        "modul_2_assets": ["house-01.hp", "house-02.hp"],
    }
    series = tariff_series(_site(site.config, network_fee=fee), index, _market(index))
    assert series.price_import_modul2_eur_per_kwh is not None
    slot = "2026-12-07T12:00Z"
    full = (0.100 + 0.07 + 0.0862) * 1.19
    assert series.price_import_eur_per_kwh.loc[slot] == pytest.approx(full)
    reduced = (0.100 + 0.07 + 0.0862 * 0.4) * 1.19
    assert series.price_import_modul2_eur_per_kwh.loc[slot] == pytest.approx(reduced)
    assert "price_import_modul2_eur_per_kwh" in series.frame()


def test_modul_1_credits_its_yearly_reduction_pro_rata(site) -> None:
    config = _site(site.config, network_fee={**MODUL_3, "module": "modul_1"})
    day = modul_1_credit_eur(
        config.tariff, pd.Timestamp("2026-12-07T00:00Z"), pd.Timestamp("2026-12-08T00:00Z")
    )
    assert day == pytest.approx(110.0 / 365 * 1.19)
    index = local_day_slots(dt.date(2026, 12, 7), "Europe/Berlin")
    price = tariff_series(config, index, _market(index)).price_import_eur_per_kwh
    assert price.loc["2026-12-07T02:00Z"] == pytest.approx((0.100 + 0.07 + 0.0862) * 1.19)
    assert modul_1_credit_eur(site.config.tariff, index[0], index[-1]) == 0.0


def test_the_default_tariff_is_unchanged(site) -> None:
    index = local_day_slots(dt.date(2026, 10, 25), "Europe/Berlin")
    tariff = site.config.tariff
    assert tariff.network_fee is None
    assert tariff.supplier_margin_eur_per_kwh == 0.0
    assert not tariff.eeg_no_payment_at_negative_prices
    market = _market(index)
    prices = tariff_series(site.config, index, market).price_import_eur_per_kwh.to_numpy()
    expected = (market.to_numpy() / 1000.0 + tariff.fees_and_levies_eur_per_kwh) * (
        1 + tariff.vat_frac
    )
    assert np.array_equal(prices, expected)


def test_the_60_percent_cap_becomes_the_hard_feed_in_limit(site) -> None:
    peak_kw = sum(h.pv.peak_kw for h in site.config.houses if h.pv is not None)
    data = site.config.model_dump()
    data["grid"]["pv_feed_in_cap_frac"] = 0.6
    capped = SiteConfig.model_validate(data)
    assert capped.grid.feed_in_limit_kw == pytest.approx(0.6 * peak_kw)
    assert capped.grid.feed_in_limit_kw < capped.grid.export_limit_kw
    data["grid"]["feed_in_limit_kw"] = 10.0
    tighter = SiteConfig.model_validate(data)
    assert tighter.grid.feed_in_limit_kw == 10.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"module": "modul_3", "modul_3_windows": []}, "needs modul_3_windows"),
        ({"modul_3_low_eur_per_kwh": 0.09}, "low <= energy_price_eur_per_kwh"),
        (
            {
                "modul_3_windows": [
                    {"quarters": [1], "start_local": "19:00", "end_local": "17:00", "tier": "high"}
                ]
            },
            "must lie after start_local",
        ),
        ({"module": "modul_2", "modul_2_assets": []}, "needs modul_2_assets"),
        ({"module": "modul_1", "modul_1_reduction_eur_per_year": 0.0}, "needs modul_1_reduction"),
    ],
)
def test_bad_network_fee_tables_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        NetworkFeeConfig.model_validate({**MODUL_3, **change})


def test_unknown_modul_2_devices_and_dynamic_elements_on_a_fixed_tariff_are_refused(site) -> None:
    data = site.config.model_dump()
    data["tariff"]["network_fee"] = {
        "energy_price_eur_per_kwh": 0.0862,
        "module": "modul_2",
        "modul_2_assets": ["house-99.hp"],
    }
    with pytest.raises(ValidationError, match=r"unknown devices \['house-99.hp'\]"):
        SiteConfig.model_validate(data)
    data["tariff"] = {
        "kind": "fixed",
        "fixed_price_eur_per_kwh": 0.3,
        "supplier_margin_eur_per_kwh": 0.02,
    }
    with pytest.raises(
        ValidationError, match="supplier_margin_eur_per_kwh: only with kind 'day_ahead'"
    ):
        SiteConfig.model_validate(data)
