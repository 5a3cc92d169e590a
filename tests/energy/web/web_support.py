"""Helpers of the web tests: a settable clock, users of every role with tokens, plans, login."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pandas as pd
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from energy.site import AssetKind, Site
from energy.store import Store
from energy.store.plans import PlanRecord, save_plan
from energy.store.users import Role, create_token, create_user
from energy.web import WebSettings, create_app

NOW = dt.datetime(2026, 11, 24, 6, 0, tzinfo=dt.UTC)
PASSWORD = "correct horse battery"
SECRET = "test-secret-" + "x" * 40


class Clock:
    """A settable clock for the app (WebSettings.clock)."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@dataclass
class Web:
    site: Site
    store: Store
    clock: Clock
    app: FastAPI
    client: TestClient
    tokens: dict[Role, str]

    def auth(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def plan_values(site: Site, start: dt.datetime, slots: int, level: float = 1.0) -> pd.DataFrame:
    """Values of a small plan: battery/HP power, SoC, tank temperature, grid and prices."""
    times = pd.date_range(start, periods=slots, freq="15min", tz="UTC")
    rows = []
    for index, t in enumerate(times):
        for asset in site.of_kind(AssetKind.BATTERY):
            rows.append((asset.id, "power_kw", t, level * (index % 4 - 1.5)))
            rows.append((asset.id, "soc_frac", t, 0.2 + 0.6 * (index % 48) / 48))
        for asset in site.of_kind(AssetKind.HEAT_PUMP):
            rows.append((asset.id, "power_kw", t, level * 1.2))
        for asset in site.of_kind(AssetKind.TANK):
            rows.append((asset.id, "tank_temp_c", t, 45.0 + 5.0 * (index % 32) / 32))
        for asset in site.of_kind(AssetKind.PV):
            rows.append((asset.id, "pv_kw", t, 2.0))
        rows.append(("grid", "import_kw", t, 10.0 * level))
        rows.append(("grid", "export_kw", t, 0.0))
        rows.append(("grid", "price_import_eur_per_kwh", t, 0.30 + 0.01 * (index % 3)))
        rows.append(("grid", "price_export_eur_per_kwh", t, 0.0786))
    return pd.DataFrame(rows, columns=["asset_id", "quantity", "slot_start", "value"])


def make_plan(
    site: Site,
    store: Store,
    start: dt.datetime = NOW,
    slots: int = 8,
    level: float = 1.0,
    summary: dict | None = None,
) -> PlanRecord:
    return save_plan(
        store,
        site.id,
        plan_values(site, start, slots, level),
        created_at=start - dt.timedelta(minutes=5),
        horizon_start=start,
        horizon_end=start + dt.timedelta(minutes=15 * slots),
        slot_minutes=15,
        solver_status="optimal",
        termination="optimal",
        objective_eur=12.5,
        solve_seconds=0.04,
        summary=summary
        if summary is not None
        else {
            "cost_breakdown": {"energy_import": 14.0, "feed_in": -1.5},
            "violations": [
                {
                    "limit": "tank_temp_min_c",
                    "asset_id": "house-01.tank",
                    "slot_start": start.isoformat(),
                    "amount": 0.4,
                    "unit": "K",
                }
            ],
        },
    )


def seed_users(store: Store) -> dict[Role, str]:
    """One user per role (named after it, password PASSWORD) and an API token each."""
    tokens = {}
    for role in Role:
        create_user(store, role.value, PASSWORD, role, "test", NOW)
        tokens[role], _ = create_token(store, role.value, "tests", "test", NOW)
    return tokens


def build_web(site: Site, store: Store, clock: Clock | None = None) -> Web:
    clock = clock or Clock(NOW)
    tokens = seed_users(store)
    app = create_app(site, store, WebSettings(secret_key=SECRET, clock=clock, wall_clock=clock))
    # the tests read English texts; German is tested by name (test_i18n.py)
    client = TestClient(app, follow_redirects=False, headers={"Accept-Language": "en"})
    return Web(site, store, clock, app, client, tokens)


def login(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns the session's CSRF token."""
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    response = client.post(
        "/login",
        data={"username": name, "password": password, "csrf_token": token.group(1)},
    )
    assert response.status_code == 303, response.text
    status = client.get("/status")
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', status.text)
    assert csrf is not None
    return csrf.group(1)


def scrape(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition text by (name, sorted labels)."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
