"""The plan in words: computed from the plan's values and its comparison with local control."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from web_support import NOW, Web, login, make_plan

from energy.site import Site
from energy.web.api_docs import operations
from energy.web.i18n import language_scope
from energy.web.plan_story import plan_story


def _values(site: Site, rows: list[tuple[str, str, int, float]]) -> pd.DataFrame:
    times = pd.date_range(NOW, periods=8, freq="15min", tz="UTC")
    return pd.DataFrame(
        [(a, q, times[i], v) for a, q, i, v in rows],
        columns=["asset_id", "quantity", "slot_start", "value"],
    )


def test_a_battery_charging_cheaply_and_discharging_dearly_is_told_with_its_value(
    site: Site,
) -> None:
    prices = [0.10] * 4 + [0.40] * 4
    power = [4.0, 4.0, 0.0, 0.0, -2.0, -2.0, -2.0, -2.0]
    rows = [("grid", "price_import_eur_per_kwh", i, p) for i, p in enumerate(prices)]
    rows += [("grid", "import_kw", i, 10.0) for i in range(8)]
    rows += [("grid", "export_kw", i, 0.0) for i in range(8)]
    rows += [("house-01.battery", "power_kw", i, p) for i, p in enumerate(power)]
    summary = {
        "local_control": {
            "saving_eur": 0.5,
            "plan": {"objective_eur": 2.0},
            "local": {"objective_eur": 2.5},
            "assets": {"house-01.battery": {"saving_eur": 0.5, "shifted_kwh": 4.0}},
        }
    }
    with language_scope("de"):
        story = plan_story(site, _values(site, rows), summary, 2.0)
    assert "spart 0,50 €" in story.headline
    assert "2,00 €" in story.headline
    assert "2,50 €" in story.headline
    battery = next(d for d in story.devices if d.asset_id == "house-01.battery")
    assert battery.label == "Haus 1 · Batterie"
    # 2 slots x 4 kW x 0.25 h = 2 kWh at 0.10; 4 slots x 2 kW x 0.25 h = 2 kWh at 0.40
    assert "lädt 2,0 kWh 07:00–07:30 zu im Mittel 0,10 €/kWh" in battery.text
    assert "entlädt 2,0 kWh 08:00–09:00" in battery.text
    assert "0,40 €/kWh" in battery.text
    assert battery.saving_eur == 0.5
    assert any("am günstigsten" in s for s in story.sentences)


def test_a_plan_dearer_than_local_control_says_so_and_an_old_plan_says_it_has_no_comparison(
    site: Site,
) -> None:
    rows = [("grid", "import_kw", i, 1.0) for i in range(8)]
    dearer = {
        "local_control": {
            "saving_eur": -1.0,
            "plan": {"objective_eur": 3.0},
            "local": {"objective_eur": 2.0},
        }
    }
    with language_scope("en"):
        assert "EUR 1.00 more than" in plan_story(site, _values(site, rows), dearer, 2.0).headline
        assert "no comparison" in plan_story(site, _values(site, rows), {}, 2.0).headline


def test_the_headline_names_the_limits_that_bind_per_device_in_plain_words(site: Site) -> None:
    """NOW is 07:00 local. The import limit (90 kW) is reached 07:30-08:00; house 3's battery is
    full (its flow battery's 1.0) at the end of the 08:15 slot; house 1's tank reaches its 60 °C maximum from 07:15
    (short layout); house 2's battery sits at its minimum from the start."""
    limit = site.config.grid.import_limit_kw
    imports = [10.0, 10.0, limit, limit, 10.0, 10.0, 10.0, 10.0]
    rows = [("grid", "import_kw", i, v) for i, v in enumerate(imports)]
    rows += [("grid", "export_kw", i, 0.0) for i in range(8)]
    rows += [("house-03.battery", "soc_end_frac", i, min(0.5 + 0.1 * i, 1.0)) for i in range(8)]
    rows += [("house-01.tank", "tank_temp_c", i, 58.0 if i == 0 else 60.0) for i in range(8)]
    rows += [("house-02.battery", "soc_frac", i, 0.1) for i in range(8)]
    rows += [("house-04.battery", "soc_frac", i, 0.5) for i in range(8)]
    with language_scope("de"):
        story = plan_story(site, _values(site, rows), {}, 2.0)
    assert story.limits == [
        "Netzbezugsgrenze des Anschlusses 90 kW 07:30–08:00",
        "Haus 1 · Wärmespeicher ab 07:15 auf dem Höchstwert von 60 °C",
        "Haus 2 · Batterie leer ab 07:00",
        "Haus 3 · Batterie voll ab 08:30",
    ]
    with language_scope("en"):
        quiet = plan_story(site, _values(site, rows[:16]), {}, 2.0)
    assert quiet.limits == ["grid connection import limit 90 kW 07:30–08:00"]


def test_the_headline_names_full_device_power_and_the_grid_operators_limits_in_force(
    site: Site,
) -> None:
    """House 1's battery (5 kW) charges at its full power 07:00-07:30 and discharges at it
    08:30-09:00; house 2's heat pump (3.2 kW) runs at its rating 07:15-07:45; the grid operator
    dimmed the controllable devices to 12 kW until 10:00 local and capped feed-in at 30 kW."""
    battery = [5.0, 5.0, 1.0, 0.0, 0.0, 0.0, -5.0, -4.95]
    pump = [1.0, 3.2, 3.2, 0.5, 0.5, 0.5, 0.5, 0.5]
    rows = [("house-01.battery", "power_kw", i, v) for i, v in enumerate(battery)]
    rows += [("house-02.hp", "power_kw", i, v) for i, v in enumerate(pump)]
    rows += [("house-03.battery", "power_kw", i, 1.0) for i in range(8)]
    summary = {
        "grid_limits": {
            "dimming": {
                "kind": "dimming",
                "limit_kw": 12.0,
                "source": "control box",
                "until": "2026-11-24T09:00:00+00:00",
            },
            "feed_in": {"kind": "feed_in", "limit_kw": 30.0, "source": "api", "until": None},
        }
    }
    with language_scope("de"):
        story = plan_story(site, _values(site, rows), summary, 2.0)
    assert story.limits == [
        "§14a-Dimmung durch den Netzbetreiber: steuerbare Geräte zusammen höchstens 12,0 kW "
        "bis 10:00",
        "Einspeisegrenze des Netzbetreibers 30,0 kW",
        "Haus 1 · Batterie lädt mit voller Leistung 5,0 kW 07:00–07:30",
        "Haus 1 · Batterie entlädt mit voller Leistung 5,0 kW 08:30–09:00",
        "Haus 2 · Wärmepumpe mit voller Leistung 3,2 kW 07:15–07:45",
    ]
    with language_scope("en"):
        english = plan_story(site, _values(site, rows), {"grid_limits": {"dimming": None}}, 2.0)
    assert english.limits[0] == "Haus 1 · Battery charging at its full 5.0 kW 07:00–07:30"
    assert len(english.limits) == 3  # no operator limit in force, house 3 below its rating


def test_the_plan_page_shows_the_explanation_and_the_device_table(web: Web) -> None:
    summary = {
        "local_control": {
            "saving_eur": 3.2,
            "plan": {"objective_eur": 12.5},
            "local": {"objective_eur": 15.7},
            "assets": {"house-01.battery": {"saving_eur": 1.1, "shifted_kwh": 4.0}},
        }
    }
    plan = make_plan(web.site, web.store, start=NOW + dt.timedelta(hours=1), summary=summary)
    login(web.client, "operator")
    page = web.client.get(f"/plans/{plan.id}").text
    assert "The plan saves EUR 3.20." in page
    assert "House 1 · Battery" not in page  # the house keeps its configured name
    assert "Haus 1 · Battery" in page
    assert 'data-confirm="Approve plan' in page
    assert "No limit binds." in page[page.index('id="plan-limits"') :]


def test_the_api_documentation_lists_every_operation_and_loads_nothing_from_outside(
    web: Web,
) -> None:
    login(web.client, "viewer")
    page = web.client.get("/api/docs").text
    document = web.app.openapi()
    listed = operations(document)
    assert len(listed) == sum(
        1
        for item in document["paths"].values()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    )
    for operation in listed:
        assert f"<code>{operation.path}</code>" in page
    assert "http://" not in page
    assert "https://" not in page
    assert "<script src=" not in page.replace('<script src="/static/app.js">', "")


def test_the_api_documentation_page_sends_a_stranger_to_the_login(web: Web) -> None:
    response = web.client.get("/api/docs")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/api/docs"
