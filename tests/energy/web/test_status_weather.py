"""The status page's weather light: where the newest plan's weather came from."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from energy.site import Site
from energy.store import Store
from energy.store.plans import save_plan
from energy.web.i18n import language_scope
from energy.web.status_view import Level, _weather_light

NOW = dt.datetime(2026, 12, 5, 6, 0, tzinfo=dt.UTC)


def _plan(store: Store, site: Site, weather: dict[str, str]) -> None:
    values = pd.DataFrame(
        {
            "asset_id": ["grid"],
            "quantity": ["grid_kw"],
            "slot_start": [pd.Timestamp(NOW)],
            "value": [1.0],
        }
    )
    save_plan(
        store,
        site.id,
        values,
        created_at=NOW,
        horizon_start=NOW,
        horizon_end=NOW + dt.timedelta(minutes=15),
        slot_minutes=15,
        solver_status="optimal",
        summary={"weather": weather},
    )


@pytest.mark.parametrize(
    ("step", "level", "words"),
    [
        ("live", Level.OK, "bright-sky forecast issued 05.12.2026 07:00"),
        ("stored", Level.WARN, "the live feed failed (GET /weather answered 503)"),
        ("climatology", Level.BAD, "climatology (test reference year)"),
    ],
)
def test_the_light_names_the_step_the_weather_came_from(
    sqlite_store: Store, site: Site, step: str, level: Level, words: str
) -> None:
    assert _weather_light(sqlite_store, site).level is Level.UNKNOWN
    reason = "" if step == "live" else "GET /weather answered 503"
    _plan(
        sqlite_store,
        site,
        {"step": step, "source": "bright-sky", "issue_time": NOW.isoformat(), "reason": reason},
    )
    with language_scope("en"):
        light = _weather_light(sqlite_store, site)
    assert light.level is level
    assert words in light.text
