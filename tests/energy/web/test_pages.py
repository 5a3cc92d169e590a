"""Pages in local time: the plan page's charts and tables, DST days, status lights, audit search."""

from __future__ import annotations

import datetime as dt
import json
import re
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from web_support import NOW, Web, build_web, login, make_plan

from energy.quality import Quality
from energy.site import Site
from energy.store import Store
from energy.store.measurements import write_measurements
from energy.store.plans import PlanState, activate_plan, decide_plan, get_plan, save_plan
from energy.store.users import Role
from energy.timegrid import local_day_bounds, local_day_slots
from energy.web.i18n import language_scope
from energy.web.localtime import format_local, local_detail, local_labels
from energy.web.plan_charts import axis_ticks
from energy.web.plan_view import build_plan_view, change_unit

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def sweb(site: Site, sqlite_store: Store) -> Web:
    return build_web(site, sqlite_store)


def _figures(html: str) -> dict[str, dict]:
    blocks = re.findall(
        r'<script type="application/json" id="fig-([\w-]+)">(.*?)</script>', html, re.S
    )
    return {name: json.loads(body) for name, body in blocks}


def test_format_local_shows_the_offset_and_refuses_naive_times() -> None:
    assert format_local(dt.datetime(2026, 7, 1, 10, 0, tzinfo=dt.UTC), BERLIN) == (
        "01.07.2026 12:00 +02:00"
    )
    assert format_local(None, BERLIN) == "-"
    with pytest.raises(ValueError, match="naive"):
        format_local(dt.datetime(2026, 7, 1, 10, 0), BERLIN)


def test_autumn_dst_day_has_100_distinct_labels_with_the_repeated_hour_marked() -> None:
    labels = local_labels(local_day_slots(dt.date(2026, 10, 25), BERLIN), BERLIN)
    assert len(labels) == 100
    assert len(set(labels)) == 100
    assert labels.index("25.10.2026 02:00 +02:00") < labels.index("25.10.2026 02:00 +01:00")
    assert labels[0] == "25.10.2026 00:00 +02:00"
    assert labels[-1] == "25.10.2026 23:45 +01:00"


def test_spring_dst_day_has_92_labels_and_skips_2am() -> None:
    labels = local_labels(local_day_slots(dt.date(2026, 3, 29), BERLIN), BERLIN)
    assert len(labels) == 92
    assert not any(" 02:" in label for label in labels)


@settings(max_examples=60, deadline=None)
@given(
    start=st.datetimes(min_value=dt.datetime(2024, 1, 1), max_value=dt.datetime(2030, 12, 31)).map(
        lambda t: pd.Timestamp(t, tz="UTC").floor("15min")
    ),
    slots=st.integers(min_value=1, max_value=400),
)
def test_slot_labels_are_unique_and_parse_back_to_their_instant(
    start: pd.Timestamp, slots: int
) -> None:
    times = pd.date_range(start, periods=slots, freq="15min")
    labels = local_labels(times, BERLIN)
    assert len(set(labels)) == slots
    parsed = [dt.datetime.strptime(label, "%d.%m.%Y %H:%M %z") for label in labels]
    assert parsed == [t.to_pydatetime() for t in times]


@settings(max_examples=60, deadline=None)
@given(
    start=st.datetimes(min_value=dt.datetime(2024, 1, 1), max_value=dt.datetime(2030, 12, 31)).map(
        lambda t: pd.Timestamp(t, tz="UTC").floor("15min")
    ),
    slots=st.integers(min_value=4, max_value=400),
)
def test_axis_ticks_are_ordered_whole_local_hours_of_the_axis(
    start: pd.Timestamp, slots: int
) -> None:
    times = pd.date_range(start, periods=slots, freq="15min")
    labels = dict(zip(times, local_labels(times, BERLIN), strict=True))
    values, texts = axis_ticks(labels, BERLIN)
    order = list(labels.values())
    positions = [order.index(v) for v in values]
    assert positions == sorted(set(positions))
    assert values, "a span of an hour or more has a whole local hour"
    for value, text in zip(values, texts, strict=True):
        assert value.endswith(":00 " + value[-6:])  # a whole local hour
        assert text.endswith(value[-6:-3])  # the tick text keeps the offset's hours


def test_plan_across_the_autumn_dst_change_charts_all_100_quarter_hours(
    site: Site, sqlite_store: Store
) -> None:
    start, _ = local_day_bounds(dt.date(2026, 10, 25), BERLIN)
    plan = make_plan(site, sqlite_store, start=start.to_pydatetime(), slots=100)
    view = build_plan_view(site, sqlite_store, plan, now=NOW)
    assert len(view.slot_labels) == 100
    prices = json.loads(next(c.figure for c in view.charts if c.id == "prices"))
    x = prices["data"][0]["x"]
    assert len(x) == 100
    assert x.count("25.10.2026 02:30 +02:00") == 1
    assert x.count("25.10.2026 02:30 +01:00") == 1
    axis = prices["layout"]["xaxis"]
    assert axis["type"] == "category"
    assert axis["ticktext"][:5] == [
        "25.10. 00:00 +02",
        "02:00 +02",
        "02:00 +01",
        "03:00 +01",
        "06:00 +01",
    ]
    assert axis["tickvals"][2] == "25.10.2026 02:00 +01:00"


def test_plan_page_shows_charts_costs_violations_and_diff(web: Web) -> None:
    """On both backends: the measured values per slot come from one SQL query."""
    running = make_plan(web.site, web.store, start=NOW - dt.timedelta(hours=1), slots=12)
    decide_plan(web.store, running.id, True, "operator", NOW)
    activate_plan(web.store, running.id, NOW)
    proposed = make_plan(web.site, web.store, level=2.0)
    measured = pd.DataFrame(
        {
            "asset_id": "house-01.battery",
            "quantity": "power_kw",
            "time": pd.date_range(NOW - dt.timedelta(hours=1), periods=12, freq="5min", tz="UTC"),
            "value": [float(i) for i in range(12)],
            "quality": [int(Quality.GOOD)] * 11 + [int(Quality.STALE)],
        }
    )
    write_measurements(web.store, web.site.id, measured)
    login(web.client, "operator")

    page = web.client.get(f"/plans/{running.id}").text
    figures = _figures(page)
    assert {"prices", "grid", "battery-power", "battery-soc", "hp-power", "tank-temp", "pv"} <= set(
        figures
    )
    battery_traces = {(t["legendgroup"], t["name"]): t for t in figures["battery-power"]["data"]}
    measured_trace = battery_traces[("Haus 1", "measured")]
    assert measured_trace["x"] == [
        "24.11.2026 06:00 +01:00",
        "24.11.2026 06:15 +01:00",
        "24.11.2026 06:30 +01:00",
        "24.11.2026 06:45 +01:00",
    ]
    assert measured_trace["y"] == [1.0, 4.0, 7.0, 9.5]  # slot means of good values only
    # every category in time order: the measured series (starting before the plan's first
    # labelled slot shown by another trace) is drawn where it belongs, not at the far right
    axis = figures["battery-soc"]["layout"]["xaxis"]
    assert axis["categoryorder"] == "array"
    assert axis["categoryarray"][0] == "24.11.2026 06:00 +01:00"
    assert axis["categoryarray"][-1] == "24.11.2026 09:00 +01:00"  # the horizon's end
    grid_names = [t["name"] for t in figures["grid"]["data"]]
    limit = web.site.config.grid.import_limit_kw
    assert f"import limit {limit:g} kW" in grid_names

    page = web.client.get(f"/plans/{proposed.id}").text
    assert 'id="approve"' in page
    assert "12.50" in page  # cost total 14.00 - 1.50
    assert "tank_temp_min_c" in page
    assert "24.11.2026 07:00 +01:00" in page  # the violation's slot in local time
    diff_table = page[page.index('id="diff"') :]
    assert "import_kw" in diff_table
    assert "+10.000 kW" in diff_table
    assert "export_kw" not in diff_table  # unchanged series are only counted
    assert "further series unchanged" in diff_table


def test_change_units_come_from_the_quantity_names() -> None:
    assert [
        change_unit(q)
        for q in ("power_kw", "tank_temp_c", "soc_frac", "price_import_eur_per_kwh", "odd")
    ] == ["kW", "K", "(0..1)", "EUR/kWh", ""]


def test_plan_with_only_some_quantities_renders_what_exists(
    site: Site, sqlite_store: Store
) -> None:
    values = pd.DataFrame(
        {
            "asset_id": "grid",
            "quantity": "price_import_eur_per_kwh",
            "slot_start": pd.date_range(NOW, periods=4, freq="15min"),
            "value": 0.3,
        }
    )
    plan = save_plan(
        sqlite_store,
        site.id,
        values,
        created_at=NOW,
        horizon_start=NOW,
        horizon_end=NOW + dt.timedelta(hours=1),
        slot_minutes=15,
        solver_status="optimal",
        summary={"cost_breakdown": "not a dict", "violations": ["junk"]},
    )
    view = build_plan_view(site, sqlite_store, plan, now=NOW)
    assert [c.id for c in view.charts] == ["prices"]
    assert view.violations == []


def test_plan_in_the_optimizer_layout(site: Site, sqlite_store: Store) -> None:
    """End-of-slot states sit at the next slot's start, prices come from the tariff when the plan
    has none, violations span slots and the breakdown keeps its units."""
    slots = pd.date_range(NOW, periods=4, freq="15min")
    rows = [("house-01.battery", "soc_end_frac", t, 0.5 + 0.1 * i) for i, t in enumerate(slots)]
    rows += [("house-01.tank", "temp_end_c", t, 50.0 + i) for i, t in enumerate(slots)]
    rows += [("house-01.pv", "power_kw", t, 3.0) for t in slots]
    rows += [("grid", "import_kw", t, 5.0) for t in slots]
    plan = save_plan(
        sqlite_store,
        site.id,
        pd.DataFrame(rows, columns=["asset_id", "quantity", "slot_start", "value"]),
        created_at=NOW,
        horizon_start=NOW,
        horizon_end=NOW + dt.timedelta(hours=1),
        slot_minutes=15,
        solver_status="optimal",
        objective_eur=3.25,
        summary={
            "cost_breakdown": {"import_eur": 4.0, "import_kwh": 20.0, "peak_import_kw": 5.0},
            "horizon_start": "2026-11-24T06:00:00+00:00",
            "issued_at": "2026-11-24T06:00:00+00:00",
            "total_seconds": 0.2073772,
            "violations": [
                {
                    "limit": "tank_temp_min_c",
                    "asset_id": "house-01.tank",
                    "first_slot": "2026-11-24T06:15:00+00:00",
                    "last_slot": "2026-11-24T06:45:00+00:00",
                    "n_slots": 3,
                    "max_amount": 0.7,
                    "unit": "K",
                    "detail": "cold start",
                }
            ],
        },
    )
    with language_scope("en"):
        view = build_plan_view(site, sqlite_store, plan, now=NOW)
    figures = {c.id: json.loads(c.figure) for c in view.charts}
    soc = figures["battery-soc"]["data"][0]
    assert soc["x"][0] == "24.11.2026 07:15 +01:00"
    assert soc["x"][-1] == "24.11.2026 08:00 +01:00"  # the horizon's end
    assert soc["y"] == pytest.approx([50.0, 60.0, 70.0, 80.0])
    assert figures["tank-temp"]["data"][0]["y"] == [50.0, 51.0, 52.0, 53.0]
    assert (figures["pv"]["data"][0]["legendgroup"], figures["pv"]["data"][0]["name"]) == (
        "Haus 1",
        "plan",
    )
    prices = {t["name"]: t for t in figures["prices"]["data"]}
    assert len(prices["import price"]["y"]) == 4
    assert prices["export price"]["y"] == [site.config.tariff.feed_in_eur_per_kwh] * 4
    # labels instead of identifiers
    assert view.cost_breakdown == [
        ("Grid import", 4.0, "EUR"),
        ("Grid import energy", 20.0, "kWh"),
        ("Peak import power", 5.0, "kW"),
    ]
    assert view.cost_total_eur == 3.25
    details = dict(view.details)
    assert details["issued_at"] == "24.11.2026 07:00 +01:00"
    assert details["total_seconds"] == "0.2074"
    assert "horizon_start" not in details  # shown in the page header already
    (violation,) = view.violations
    assert violation["slot_local"] == "24.11.2026 07:15 +01:00 – 24.11.2026 07:45 +01:00"
    assert (violation["slots"], violation["amount"], violation["detail"]) == (3, 0.7, "cold start")


def test_status_page_shows_lights_and_local_times(sweb: Web) -> None:
    frame = pd.DataFrame(
        {
            "asset_id": ["grid.meter"],
            "quantity": ["power_kw"],
            "time": pd.to_datetime([NOW - dt.timedelta(seconds=10)], utc=True),
            "value": [12.0],
            "quality": [int(Quality.GOOD)],
        }
    )
    write_measurements(sweb.store, sweb.site.id, frame)
    login(sweb.client, "viewer")
    page = sweb.client.get("/status").text
    assert "Device communication" in page
    assert "24.11.2026 06:59:50 +01:00" in page
    assert 'class="light ok"' in page
    assert 'class="light bad"' in page


def test_audit_page_search_filters(sweb: Web) -> None:
    plan = make_plan(sweb.site, sweb.store)
    decide_plan(sweb.store, plan.id, False, "operator", NOW, "bad prices")
    login(sweb.client, "viewer")
    page = sweb.client.get("/audit?q=reject").text
    table = page[page.index('id="audit"') :]
    assert "plan.reject" in table
    assert "plan.propose" not in table
    assert "24.11.2026 07:00:00 +01:00" in table


def test_audit_details_show_local_times_not_utc_stamps() -> None:
    tz = ZoneInfo("Europe/Berlin")
    detail = {"asset_id": "house-01.battery", "expires_at": "2026-11-24T07:00:00.123456+00:00"}
    text = local_detail(detail, tz)
    assert text == "asset_id: house-01.battery; expires_at: 24.11.2026 08:00:00 +01:00"
    assert local_detail({"value": 1.5, "ids": [1, 2]}, tz) == "value: 1.5; ids: [1, 2]"


def test_a_proposal_shows_its_validity_and_after_it_can_no_longer_be_approved(sweb: Web) -> None:
    """control.proposal_valid_min (60 by default): the page says until when a proposal may be
    approved; past it the buttons are gone, the page says why and an approval is refused."""
    plan = make_plan(sweb.site, sweb.store, start=NOW, slots=96)  # made at NOW - 5 min
    login(sweb.client, "operator")
    page = sweb.client.get(f"/plans/{plan.id}").text
    valid_until = NOW - dt.timedelta(minutes=5) + sweb.site.config.control.proposal_valid
    assert format_local(valid_until, BERLIN) in page[page.index('id="plan-valid"') :]
    assert 'id="approve"' in page
    sweb.clock.advance(minutes=56)
    page = sweb.client.get(f"/plans/{plan.id}").text
    assert 'id="approve"' not in page
    assert 'id="plan-lapsed"' in page
    refused = sweb.client.post(
        f"/api/plans/{plan.id}/approve", json={}, headers=sweb.auth(Role.OPERATOR)
    )
    assert refused.status_code == 409
    assert "a proposal is valid for 60 min" in refused.json()["detail"]
    assert get_plan(sweb.store, plan.id).state is PlanState.EXPIRED
