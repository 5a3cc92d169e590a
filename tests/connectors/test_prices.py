"""Day-ahead price sources against documents in ENTSO-E's and Energy-Charts' published layouts,
served by a local replay server; parsers checked by property-based tests."""

from __future__ import annotations

from pathlib import Path

import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings

from connectors.prices import (
    EnergyChartsClient,
    EntsoeClient,
    parse_energy_charts,
    parse_entsoe_a44,
    read_price_csv,
)
from energy.prices import PriceFeedError
from energy.timegrid import local_day_slots
from tests.connectors.replay_server import (
    ReplayServer,
    energy_charts_route,
    entsoe_a44,
    entsoe_no_data,
    entsoe_route,
)

DATA = Path(__file__).parent / "data"
FALL_BACK = local_day_slots(pd.Timestamp("2026-10-25").date(), "Europe/Berlin")


def _prices(index: pd.DatetimeIndex) -> pd.Series:
    # a plateau (repeated prices: omitted points in curve A03) and negative midday prices
    values = 80.0 + 40.0 * np.sin(np.arange(len(index)) / 9.0)
    values[20:28] = 55.5
    values[44:56] = -12.25
    return pd.Series(np.round(values, 2), index=index)


def test_the_dst_day_has_100_quarter_hours_and_omitted_points_repeat() -> None:
    prices = _prices(FALL_BACK)
    xml = (DATA / "entsoe_a44_DE-LU_2026-10-25.xml").read_text()
    parsed = parse_entsoe_a44(xml)
    assert len(parsed) == 100
    assert parsed.index[0] == pd.Timestamp("2026-10-24T22:00Z")
    assert parsed.index[-1] == pd.Timestamp("2026-10-25T22:45Z")
    assert xml.count("<Point>") < 100
    np.testing.assert_allclose(parsed.to_numpy(), prices.to_numpy())
    assert parsed.loc["2026-10-25T09:00Z"] == -12.25


def test_hourly_periods_hold_over_their_quarter_hours() -> None:
    hours = pd.date_range("2026-10-24T22:00Z", periods=25, freq="h")
    hourly = pd.Series(np.arange(25, dtype=float) - 5.0, index=hours)
    parsed = parse_entsoe_a44(entsoe_a44(hourly, resolution="PT60M"))
    assert len(parsed) == 100
    assert (parsed.iloc[:4] == -5.0).all()
    assert parsed.loc["2026-10-25T22:45Z"] == 19.0


def test_an_acknowledgement_is_an_error_naming_its_reason() -> None:
    xml = entsoe_no_data(pd.Timestamp("2026-12-06T23:00Z"), pd.Timestamp("2026-12-07T23:00Z"))
    with pytest.raises(PriceFeedError, match="999: No matching data found"):
        parse_entsoe_a44(xml)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda x: x.replace("PT15M", "PT5M"), "resolution 'PT5M' not supported"),
        (
            lambda x: x.replace("<position>1</position>", "<position>101</position>"),
            r"TimeSeries 1: Point position 101 outside 1..8",
        ),
        (lambda x: x.replace("<price.amount>", "<price.amount>x", 1), "not a number"),
        (lambda x: x[:200], "not well-formed XML"),
        (
            lambda x: x.replace("Publication_MarketDocument", "Other_Document"),
            "found <Other_Document>",
        ),
    ],
)
def test_malformed_documents_are_refused_with_what_and_where(change, message) -> None:
    xml = (DATA / "entsoe_a44_DE-LU_2026-10-25.xml").read_text()
    with pytest.raises(PriceFeedError, match=message):
        parse_entsoe_a44(change(xml))


def test_entity_expansion_is_refused() -> None:
    bomb = '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><d>&a;</d>'
    with pytest.raises(PriceFeedError, match="not well-formed XML"):
        parse_entsoe_a44(bomb)


prices_strategy = st.lists(
    st.floats(min_value=-500, max_value=4000, allow_nan=False).map(lambda v: round(v, 2)),
    min_size=1,
    max_size=200,
)


@settings(max_examples=40, deadline=None)
@given(values=prices_strategy, curve=st.sampled_from(["A01", "A03"]))
def test_any_published_series_parses_back_to_itself(values: list[float], curve: str) -> None:
    index = pd.date_range("2026-03-28T22:00Z", periods=len(values), freq="15min")
    prices = pd.Series(values, index=index)
    parsed = parse_entsoe_a44(entsoe_a44(prices, curve=curve))
    np.testing.assert_allclose(parsed.to_numpy(), prices.to_numpy())
    assert list(parsed.index) == list(index)


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.floats(-500, 4000)), min_size=1, max_size=100))
def test_energy_charts_nulls_are_unpublished_slots(values: list[float | None]) -> None:
    start = int(pd.Timestamp("2026-03-29T00:00Z").timestamp())
    payload = {
        "unix_seconds": [start + 900 * i for i in range(len(values))],
        "price": values,
        "unit": "EUR / MWh",
    }
    parsed = parse_energy_charts(payload)
    assert len(parsed) == sum(v is not None for v in values)
    assert parsed.index.tz is not None


def test_energy_charts_reply_must_match_in_length_and_unit() -> None:
    with pytest.raises(PriceFeedError, match="2 unix_seconds but 1 prices"):
        parse_energy_charts({"unix_seconds": [0, 900], "price": [1.0], "unit": "EUR / MWh"})
    with pytest.raises(PriceFeedError, match="unit 'EUR / kWh'"):
        parse_energy_charts({"unix_seconds": [0], "price": [1.0], "unit": "EUR / kWh"})


def test_a_csv_of_exchange_results_across_the_dst_change(tmp_path: Path) -> None:
    file = tmp_path / "epex.csv"
    stamps = [t.tz_convert("Europe/Berlin").isoformat() for t in FALL_BACK[::4]]
    file.write_text(
        "timestamp,price_eur_per_mwh\n" + "".join(f"{s},{i}.5\n" for i, s in enumerate(stamps))
    )
    prices = read_price_csv(file)
    assert len(prices) == 100
    assert prices.iloc[4] == 1.5
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "timestamp,price_eur_per_mwh\n2026-10-25T01:00:00+02:00,1\n2026-10-25T02:00:00,2\n"
    )
    with pytest.raises(
        PriceFeedError, match=r"bad.csv, line 3: timestamp '2026-10-25T02:00:00' has no UTC offset"
    ):
        read_price_csv(bad)


def test_the_clients_ask_the_documented_queries_and_keep_the_token_out_of_errors() -> None:
    prices = _prices(FALL_BACK)
    server = ReplayServer({"/api": entsoe_route(prices), "/price": energy_charts_route(prices)})
    with server.running():
        entsoe = EntsoeClient("secret-token", base_url=server.url)
        got = entsoe.day_ahead(FALL_BACK[0], FALL_BACK[-1] + pd.Timedelta(minutes=15))
        np.testing.assert_allclose(got.to_numpy(), prices.to_numpy())
        path, query = server.requests[-1]
        assert path == "/api"
        assert query["documentType"] == "A44"
        assert query["in_Domain"] == query["out_Domain"] == "10Y1001A1001A82H"
        assert (query["periodStart"], query["periodEnd"]) == ("202610242200", "202610252300")
        charts = EnergyChartsClient(base_url=server.url)
        other = charts.day_ahead(FALL_BACK[0], FALL_BACK[-1] + pd.Timedelta(minutes=15))
        np.testing.assert_allclose(other.to_numpy(), prices.to_numpy())
        assert server.requests[-1][1]["bzn"] == "DE-LU"
        server.fail_with = 503
        with pytest.raises(PriceFeedError, match="answered 503") as info:
            entsoe.day_ahead(FALL_BACK[0], FALL_BACK[-1])
        assert "secret-token" not in str(info.value)
    with pytest.raises(PriceFeedError, match="no security token"):
        EntsoeClient("")
