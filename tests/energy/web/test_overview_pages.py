"""The district overview shows the stored newest values with their age, marks stale ones, and
links each house to its page of measured days and planned hours."""

from __future__ import annotations

import datetime as dt
import json
import re

import pandas as pd
import pytest
from web_support import NOW, Web, build_web, login, make_plan

from energy.grid_limits import GridLimit, LimitKind, LimitsInForce
from energy.quality import Quality
from energy.site import Site
from energy.store import Store
from energy.store.audit import append_audit
from energy.store.grid_limits import APPLIED_ACTION
from energy.store.measurements import write_measurements
from energy.store.plans import activate_plan, decide_plan
from energy.store.users import Role


@pytest.fixture
def sweb(community_site: Site, sqlite_store: Store) -> Web:
    """The console of the default site with a community battery: both kinds of shared cards."""
    return build_web(community_site, sqlite_store)


def _store(web: Web, rows: list[tuple[str, str, dt.datetime, float, Quality]]) -> None:
    frame = pd.DataFrame(rows, columns=["asset_id", "quantity", "time", "value", "quality"])
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    frame["quality"] = frame["quality"].map(int)
    write_measurements(web.store, web.site.id, frame)


def _readings(page: str, card_id: str) -> dict[str, tuple[str, str, bool]]:
    """reading id -> (value text, age text, marked stale) of one card."""
    card = re.search(rf'id="card-{re.escape(card_id)}">(.*?)</section>', page, re.S)
    assert card is not None, card_id
    rows = re.findall(
        r'<tr class="reading( stale)?" data-reading="([\w-]+)">.*?<td class="num value">(.*?)</td>'
        r'\s*<td class="age"[^>]*>(.*?)</td>',
        card.group(1),
        re.S,
    )
    return {
        rid: (value.strip(), re.sub(r"<[^>]+>", "", age).strip(), bool(s))
        for s, rid, value, age in rows
    }


def _seed(web: Web) -> None:
    fresh = NOW - dt.timedelta(seconds=10)
    _store(
        web,
        [
            ("house-01.pv", "power_kw", fresh, 3.4, Quality.GOOD),
            ("house-01.battery", "soc_frac", fresh, 0.62, Quality.GOOD),
            ("house-01.battery", "power_kw", fresh, -1.5, Quality.GOOD),
            ("house-01.hp", "on", fresh, 1.0, Quality.GOOD),
            ("house-01.hp", "electric_power_kw", fresh, 1.85, Quality.GOOD),
            ("house-01.hp", "tank_temp_c", fresh, 48.3, Quality.GOOD),
            ("house-02.pv", "power_kw", NOW - dt.timedelta(hours=3), 0.7, Quality.GOOD),
            ("house-02.battery", "soc_frac", fresh, 0.5, Quality.STALE),
            ("house-03.hp", "on", fresh, 0.0, Quality.GOOD),
            ("house-03.hp", "sg_ready_state", fresh, 1.0, Quality.GOOD),
            ("grid.meter", "power_kw", fresh, 42.0, Quality.GOOD),
            ("quartier-flow", "soc_frac", fresh, 0.3, Quality.GOOD),
            ("carport-ev", "power_kw", fresh, 7.4, Quality.GOOD),
            ("carport-ev", "need_kwh", fresh, 12.5, Quality.GOOD),
        ],
    )


def test_cards_show_the_stored_values_with_their_age(sweb: Web) -> None:
    _seed(sweb)
    login(sweb.client, "viewer")
    page = sweb.client.get("/overview").text
    house = _readings(page, "house-01")
    assert house["pv"] == ("3.4 kW", "10 s ago", False)
    assert house["battery-soc"][0] == "62 %"
    assert house["battery-power"][0] == "-1.5 kW"
    assert house["hp-state"][0] == "running"
    assert house["hp-power"][0] == "1.85 kW"
    assert house["tank-temp"][0] == "48.3 °C"
    assert _readings(page, "house-03")["hp-state"][0] == "off · SG Ready lock"
    assert _readings(page, "quartier-flow")["battery-soc"][0] == "30 %"
    charger = _readings(page, "carport-ev")
    assert charger["ev-power"][0] == "7.4 kW"
    assert charger["ev-need"][0] == "12.5 kWh"
    grid = _readings(page, "grid")["grid"]
    assert grid[0] == "42.0 kW"
    assert "Connection limits: import 90 kW, export 70 kW" in page
    assert "47 % of the limit in use" in page  # 42 of 90 kW
    assert "No limit of the grid operator in force." in page
    assert page.count('class="card house') == len(sweb.site.config.houses)
    assert '<a href="/houses/house-03">Haus 3</a>' in page


def test_late_or_bad_values_are_marked_stale(sweb: Web) -> None:
    _seed(sweb)
    login(sweb.client, "viewer")
    page = sweb.client.get("/overview").text
    house = _readings(page, "house-02")
    assert house["pv"] == ("0.7 kW", "3 h ago stale", True)
    assert house["battery-soc"][2]  # fresh, but stored with quality STALE
    assert house["tank-temp"] == ("no value", "", True)
    assert not _readings(page, "house-01")["pv"][2]


def test_numbers_are_german_on_a_german_page(sweb: Web) -> None:
    _seed(sweb)
    sweb.client.headers["Accept-Language"] = "de-DE"
    login(sweb.client, "viewer")
    page = sweb.client.get("/overview").text
    house = _readings(page, "house-01")
    assert house["pv"] == ("3,4 kW", "vor 10 s", False)
    assert house["hp-state"][0] == "läuft"
    assert _readings(page, "house-02")["pv"][1] == "vor 3 h veraltet"


def test_a_grid_limit_in_force_is_shown(sweb: Web) -> None:
    limits = LimitsInForce(dimming=GridLimit(LimitKind.DIMMING, 30.0, "eebus", None))
    append_audit(
        sweb.store,
        "system:grid",
        APPLIED_ACTION,
        f"site:{sweb.site.id}",
        {"before": LimitsInForce().as_dict(), "after": limits.as_dict()},
        NOW,
    )
    login(sweb.client, "viewer")
    page = sweb.client.get("/overview").text
    assert "§14a dimming of the controllable devices to 30.0 kW while signalled (eebus)" in page


def test_the_landing_page_is_the_overview(sweb: Web) -> None:
    assert sweb.client.get("/").headers["location"] == "/overview"
    assert sweb.client.get("/overview").headers["location"] == "/login?next=/overview"
    login(sweb.client, "viewer")
    assert '<a href="/overview">Overview</a>' in sweb.client.get("/status").text


@pytest.mark.parametrize("path", ["/overview", "/houses/house-01"])
def test_every_reader_sees_the_pages_and_the_grid_operator_does_not(sweb: Web, path: str) -> None:
    for role in (Role.VIEWER, Role.OPERATOR, Role.ANALYST, Role.ADMIN):
        sweb.client.cookies.clear()
        login(sweb.client, role.value)
        assert sweb.client.get(path).status_code == 200, role
    sweb.client.cookies.clear()
    login(sweb.client, Role.GRID_OPERATOR.value)
    assert sweb.client.get(path).status_code == 403


def _figure(page: str, chart_id: str) -> dict:
    match = re.search(rf'<script type="application/json" id="fig-{chart_id}">(.*?)</script>', page)
    assert match is not None, chart_id
    return json.loads(match.group(1))


def test_house_page_charts_measured_days_and_planned_hours(sweb: Web) -> None:
    history = pd.date_range(NOW - dt.timedelta(hours=2), NOW, freq="15min", inclusive="left")
    _store(
        sweb,
        [
            ("house-01.battery", "soc_frac", t, 0.4 + 0.01 * i, Quality.GOOD)
            for i, t in enumerate(history)
        ]
        + [("house-02.battery", "soc_frac", t, 0.9, Quality.GOOD) for t in history],
    )
    plan = make_plan(sweb.site, sweb.store, start=NOW, slots=8)
    decide_plan(sweb.store, plan.id, True, "operator", NOW)
    activate_plan(sweb.store, plan.id, NOW)
    login(sweb.client, "viewer")
    page = sweb.client.get("/houses/house-01").text
    assert "<h1>Haus 1</h1>" in page
    assert f'the running plan <a href="/plans/{plan.id}">{plan.id}</a>' in page
    figure = _figure(page, "battery-soc")
    traces = {trace["name"]: trace for trace in figure["data"]}
    assert set(traces) == {"plan", "measured"}  # house 1 only
    assert {t["legendgroup"] for t in figure["data"]} == {"Haus 1"}
    assert traces["measured"]["y"] == pytest.approx([100 * (0.4 + 0.01 * i) for i in range(8)])
    assert traces["plan"]["y"] == pytest.approx([100 * (0.2 + 0.6 * i / 48) for i in range(8)])
    categories = figure["layout"]["xaxis"]["categoryarray"]
    # two days of history, the plan's 8 slots: measured first, then planned, in time order
    assert len(categories) == 2 * 96 + 8 + 1
    assert categories.index(traces["measured"]["x"][-1]) < categories.index(traces["plan"]["x"][0])
    assert "/static/vendor/plotly.min.js" in page


def test_house_page_without_a_plan_and_with_another_history(sweb: Web) -> None:
    login(sweb.client, "viewer")
    page = sweb.client.get("/houses/house-05?days=1").text
    assert "No plan stored: only measured values are shown." in page
    assert "No measured or planned values for this house." in page
    assert sweb.client.get("/houses/house-05?days=30").status_code == 422


def test_an_unknown_house_is_a_404_page(sweb: Web) -> None:
    login(sweb.client, "viewer")
    response = sweb.client.get("/houses/house-99")
    assert response.status_code == 404
    assert "The district has no house house-99." in response.text
    assert "<html" in response.text
