"""Live day-ahead prices: fetched from a replayed ENTSO-E (and Energy-Charts when it fails) into
the store with their issue time, forecast beyond the published slots, and a re-plan once the
next day's auction results arrive."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from connectors.prices import EnergyChartsClient, EntsoeClient
from energy.control.planner import LivePlanner, ProfileForecaster
from energy.control.planning import PlanningCycle
from energy.control.prices import DayAheadPrices
from energy.physics.weather_feed import TryWeatherFeed
from energy.prices import forecast_prices
from energy.site import Site
from energy.store import Store
from energy.store.alarms import list_alarms
from energy.store.prices import read_prices
from energy.timegrid import SLOT, local_day_slots
from optimizer import DispatchOptimizer
from tests.connectors.replay_server import ReplayServer, energy_charts_route, entsoe_route

BERLIN = ZoneInfo("Europe/Berlin")
TODAY = dt.date(2026, 12, 5)
TOMORROW = dt.date(2026, 12, 6)
PUBLISHED_AT = dt.datetime(2026, 12, 5, 11, 45, tzinfo=dt.UTC)  # 12:45 CET


def _exchange() -> pd.Series:
    """What the exchange publishes for today and tomorrow (tomorrow cheaper by 30 EUR/MWh)."""
    index = local_day_slots(TODAY, BERLIN).append(local_day_slots(TOMORROW, BERLIN))
    quarter = np.arange(len(index)) % 96
    values = 90.0 + 30.0 * np.sin(quarter / 96 * 2 * np.pi) - 30.0 * (np.arange(len(index)) >= 96)
    return pd.Series(np.round(values, 2), index=index)


class _Published:
    """The replayed publication state: slots after `until` are not published yet."""

    def __init__(self) -> None:
        self.until: pd.Timestamp | None = pd.Timestamp(local_day_slots(TOMORROW, BERLIN)[0])

    def __call__(self) -> pd.Timestamp | None:
        return self.until


def _service(site: Site, store: Store, server: ReplayServer) -> DayAheadPrices:
    sources = [EntsoeClient("token", base_url=server.url), EnergyChartsClient(base_url=server.url)]
    return DayAheadPrices(
        site.id, store, "DE-LU", sources, BERLIN, dt.time(12, 45), dt.timedelta(minutes=60)
    )


def _codes(store: Store, site: Site) -> set[str]:
    return {str(a["code"]) for a in list_alarms(store, site.id, open_only=True)}


def test_forecast_prices_repeat_the_newest_published_day_by_local_quarter_hour() -> None:
    exchange = _exchange()
    today = exchange.iloc[:96]
    tomorrow = local_day_slots(TOMORROW, BERLIN)
    prices, published = forecast_prices(today, today.index[-8:].append(tomorrow[:16]), BERLIN)
    assert published.tolist() == [True] * 8 + [False] * 16
    np.testing.assert_allclose(prices.to_numpy()[8:], today.to_numpy()[:16])


def test_fetch_stores_with_issue_time_and_the_second_source_stands_in(
    site: Site, store: Store
) -> None:
    exchange = _exchange()
    published = _Published()
    server = ReplayServer(
        {"/api": entsoe_route(exchange, published), "/price": energy_charts_route(exchange)}
    )
    morning = dt.datetime(2026, 12, 5, 7, 0, tzinfo=dt.UTC)
    with server.running():
        prices = _service(site, store, server)
        outcome = prices.fetch(morning)
        assert outcome.source == "entsoe"
        assert outcome.slots_stored == 96
        assert outcome.published_until == local_day_slots(TOMORROW, BERLIN)[0].to_pydatetime()
        assert prices.due(morning) is False
        assert prices.due(PUBLISHED_AT) is True
        stored = read_prices(store, "DE-LU", exchange.index[0], exchange.index[-1], morning)
        assert (stored["issue_time"] == pd.Timestamp(morning)).all()
        np.testing.assert_allclose(stored["price_eur_per_mwh"], exchange.iloc[:96])
        # ENTSO-E is down after the auction: Energy-Charts delivers tomorrow, with a warning
        server.routes["/api"] = lambda query: (503, "text/plain", b"maintenance")
        later = PUBLISHED_AT + dt.timedelta(minutes=20)
        outcome = prices.fetch(later)
        assert outcome.source == "energy-charts"
        assert "entsoe" in outcome.problems[0]
        assert (
            prices.published_until(later)
            == local_day_slots(dt.date(2026, 12, 7), BERLIN)[0].to_pydatetime()
        )
        assert "price_feed" in _codes(store, site)
        assert "prices_missing" not in _codes(store, site)


def test_missing_prices_are_alarmed_only_once_overdue(site: Site, store: Store) -> None:
    exchange = _exchange()
    server = ReplayServer({"/api": entsoe_route(exchange, _Published())})
    with server.running():
        prices = DayAheadPrices(
            site.id,
            store,
            "DE-LU",
            [EntsoeClient("token", base_url=server.url)],
            BERLIN,
            dt.time(12, 45),
            dt.timedelta(minutes=60),
        )
        prices.fetch(PUBLISHED_AT + dt.timedelta(minutes=30))
        assert "prices_missing" not in _codes(store, site)
        prices.fetch(PUBLISHED_AT + dt.timedelta(minutes=61))
        assert "prices_missing" in _codes(store, site)


@pytest.mark.slow
def test_the_planner_plans_on_stored_prices_and_replans_when_tomorrow_arrives(
    site: Site, store: Store, measure: Callable[..., None]
) -> None:
    exchange = _exchange()
    published = _Published()
    server = ReplayServer({"/api": entsoe_route(exchange, published)})
    horizon = 96
    cycle = PlanningCycle(
        site, DispatchOptimizer(site, horizon_slots=horizon), ProfileForecaster(site, horizon)
    )
    with server.running():
        prices = _service(site, store, server)
        planner = LivePlanner(site, store, cycle, TryWeatherFeed(site), 30, prices)
        before = PUBLISHED_AT - dt.timedelta(minutes=14)  # 11:31 UTC, 12:31 local
        prices.fetch(before)
        measure(before - dt.timedelta(seconds=5))
        first = planner.run(before)
        assert first.plan is not None
        summary = first.plan.summary["prices"]
        assert summary["source"] == "store"
        assert summary["published_slots"] == 46  # 11:30 UTC to the local day's end (23:00 UTC)
        assert summary["forecast_slots"] == 50
        inputs = cycle.last_inputs
        assert inputs is not None
        tariff = site.config.tariff
        expected_today = (
            exchange.loc[inputs.index[0] :].iloc[:46] / 1000 + tariff.fees_and_levies_eur_per_kwh
        ) * (1 + tariff.vat_frac)
        np.testing.assert_allclose(inputs.price_import_eur_per_kwh[:46], expected_today)
        # the same period again: nothing new, no second plan
        assert planner.run(before + dt.timedelta(minutes=1)).plan is None
        # tomorrow's auction results are published and fetched: the planner re-plans at once
        published.until = None
        arrived = before + dt.timedelta(minutes=2)
        prices.fetch(arrived)
        measure(arrived - dt.timedelta(seconds=5))
        second = planner.run(arrived)
        assert second.plan is not None
        assert second.plan.summary["prices"]["forecast_slots"] == 0
        inputs = cycle.last_inputs
        assert inputs is not None
        market = exchange.reindex(inputs.index).to_numpy()
        expected = (market / 1000 + tariff.fees_and_levies_eur_per_kwh) * (1 + tariff.vat_frac)
        np.testing.assert_allclose(inputs.price_import_eur_per_kwh, expected)
        assert inputs.index[-1] + SLOT > pd.Timestamp(local_day_slots(TOMORROW, BERLIN)[0])
