"""The live loop's weather fallback chain against a replayed Bright Sky (DWD MOSMIX) service:
live answers are stored with their issue time; a failing or incomplete service falls back to the
newest stored forecast, then to climatology, each step alarmed and recorded with the plan."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
import pytest

from connectors.weather import BrightSkyClient, parse_bright_sky
from energy.control.planner import LivePlanner, ProfileForecaster
from energy.control.planning import PlanningCycle
from energy.control.weather import ALARM_CODE, WeatherChain
from energy.physics.weather_feed import ClimatologyFeed
from energy.site import AssetKind, Site
from energy.store import Store
from energy.store.alarms import list_alarms
from energy.store.weather import read_stored_weather
from energy.timegrid import SLOT
from energy.weather import forecast_window
from optimizer import DispatchOptimizer
from tests.connectors.replay_server import ReplayServer, bright_sky_route, bright_sky_weather

NOW = pd.Timestamp("2026-12-05T06:07Z")
HORIZON = dt.timedelta(hours=12)


def _temp_c(stamp: pd.Timestamp) -> float:
    return 2.0 + 0.1 * stamp.hour


@pytest.fixture
def replay() -> Iterator[ReplayServer]:
    with ReplayServer({"/weather": bright_sky_route(_temp_c)}).running() as server:
        yield server


@pytest.fixture
def chain(site: Site, store: Store, replay: ReplayServer) -> WeatherChain:
    live = BrightSkyClient(51.56, 7.25, base_url=replay.url)
    return WeatherChain(site.id, store, live, ClimatologyFeed(site))


def _expected(start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """What our parser makes of the replayed answer (the replay is in the documented format)."""
    return parse_bright_sky(bright_sky_weather(start, end, _temp_c))


def _open(store: Store, site: Site) -> list[dict[str, object]]:
    return [a for a in list_alarms(store, site.id, open_only=True) if a["code"] == ALARM_CODE]


def test_a_live_answer_is_used_and_stored_with_its_issue_time(
    chain: WeatherChain, store: Store, site: Site, replay: ReplayServer
) -> None:
    frame = chain.forecast(NOW, HORIZON)
    grid = forecast_window(NOW, HORIZON)
    assert list(frame.index) == list(grid)
    expected = _expected(grid[0], grid[-1] + pd.Timedelta(hours=1)).reindex(grid)
    pd.testing.assert_frame_equal(frame, expected, check_names=False, check_freq=False)
    assert replay.requests[0][0] == "/weather"
    assert chain.last is not None
    assert (chain.last.step, chain.last.source) == ("live", "bright-sky")
    stored = read_stored_weather(store, site.id, NOW.to_pydatetime(), grid)
    assert stored is not None
    assert stored.issue_time == NOW.to_pydatetime()
    assert np.allclose(stored.frame["temp_outdoor_c"], frame["temp_outdoor_c"])
    assert _open(store, site) == []


def test_a_failing_service_falls_back_to_the_stored_forecast_then_recovers(
    chain: WeatherChain, store: Store, site: Site, replay: ReplayServer
) -> None:
    first = chain.forecast(NOW, dt.timedelta(hours=24))
    replay.fail_with = 503
    later = NOW + pd.Timedelta(hours=2)
    frame = chain.forecast(later, HORIZON)
    grid = forecast_window(later, HORIZON)
    assert np.allclose(frame["temp_outdoor_c"], first.reindex(grid)["temp_outdoor_c"])
    assert chain.last is not None
    assert chain.last.step == "stored"
    assert chain.last.issue_time == NOW.to_pydatetime()
    (alarm,) = _open(store, site)
    assert alarm["severity"] == "warning"
    assert "503" in str(alarm["message"])
    assert "(2 h old)" in str(alarm["message"])
    replay.fail_with = None
    chain.forecast(later + SLOT, HORIZON)
    assert chain.last.step == "live"
    assert _open(store, site) == []


def test_without_a_stored_forecast_the_chain_plans_on_climatology_and_says_so(
    chain: WeatherChain, store: Store, site: Site, replay: ReplayServer
) -> None:
    replay.fail_with = 500
    frame = chain.forecast(NOW, HORIZON)
    grid = forecast_window(NOW, HORIZON)
    climatology = ClimatologyFeed(site).forecast(NOW, HORIZON)
    pd.testing.assert_frame_equal(frame, climatology.reindex(grid))
    assert frame["temp_outdoor_c"].notna().all()
    assert chain.last is not None
    assert chain.last.step == "climatology"
    (alarm,) = _open(store, site)
    assert alarm["severity"] == "critical"
    assert "climatology" in str(alarm["message"])


def test_an_answer_that_ends_before_the_horizon_counts_as_late(site: Site, store: Store) -> None:
    def short(query: dict[str, str]) -> tuple[int, str, bytes]:
        first = pd.Timestamp(query["date"]).tz_convert("UTC")
        payload = bright_sky_weather(first, first + pd.Timedelta(hours=3), _temp_c)
        return 200, "application/json", json.dumps(payload).encode()

    with ReplayServer({"/weather": short}).running() as server:
        live = BrightSkyClient(51.56, 7.25, base_url=server.url)
        chain = WeatherChain(site.id, store, live, ClimatologyFeed(site))
        chain.forecast(NOW, HORIZON)
    assert chain.last is not None
    assert chain.last.step == "climatology"
    assert "answer incomplete" in chain.last.reason


@pytest.mark.slow
def test_the_plan_is_made_with_the_replayed_weather(
    site: Site,
    store: Store,
    replay: ReplayServer,
    measure: Callable[..., None],
) -> None:
    horizon_slots = 8
    cycle = PlanningCycle(
        site,
        DispatchOptimizer(site, horizon_slots=horizon_slots),
        ProfileForecaster(site, horizon_slots),
    )
    live = BrightSkyClient(51.56, 7.25, base_url=replay.url)
    planner = LivePlanner(
        site, store, cycle, WeatherChain(site.id, store, live, ClimatologyFeed(site)), 30
    )
    now = NOW.to_pydatetime()
    measure(now - dt.timedelta(seconds=5))
    outcome = planner.run(now)
    assert outcome.plan is not None
    grid = forecast_window(NOW, horizon_slots * SLOT)
    expected = _expected(grid[0], grid[-1] + pd.Timedelta(hours=1)).reindex(grid)
    assert cycle.last_inputs is not None
    assert np.allclose(cycle.last_inputs.temp_outdoor_c, expected["temp_outdoor_c"])
    assert outcome.plan.summary["weather"]["step"] == "live"
    assert outcome.plan.summary["weather"]["source"] == "bright-sky"
    # the plan carries its comparison with local control over the same inputs
    comparison = outcome.plan.summary["local_control"]
    assert comparison["plan"]["objective_eur"] == pytest.approx(outcome.plan.objective_eur)
    assert comparison["saving_eur"] == pytest.approx(
        comparison["local"]["objective_eur"] - comparison["plan"]["objective_eur"]
    )
    # the optimizer does no worse than the rules (within its MIP gap)
    assert comparison["saving_eur"] >= -0.01 * abs(comparison["local"]["objective_eur"]) - 1e-6
    assert set(comparison["assets"]) >= {a.id for a in site.of_kind(AssetKind.BATTERY)}
