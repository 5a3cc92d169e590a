"""The grid operator's limits through the API: set with a token, applied by the control loop at
its next cycle, shown on the status page with source and end, lifted, audited."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator

import pytest
from web_support import NOW, Web, build_web, login

from energy.config import GridSignalsConfig
from energy.control.grid_signals import GridSignals
from energy.site import Site
from energy.store import Store
from energy.store.audit import read_audit
from energy.store.chain import verify_chain
from energy.store.users import Role


@pytest.fixture
def signalled(site: Site, store: Store) -> Iterator[Web]:
    config = site.config.model_copy(update={"grid_signals": GridSignalsConfig(max_api_limit_h=4)})
    instance = build_web(Site.from_config(config), store)
    with instance.client:
        yield instance


def _post(web: Web, role: Role = Role.GRID_OPERATOR, **body: object) -> dict:
    response = web.client.post("/api/grid-limits", json=body, headers=web.auth(role))
    return {"status": response.status_code, **response.json()}


def test_a_limit_set_through_the_api_is_applied_shown_and_lifted(signalled: Web) -> None:
    web = signalled
    made = _post(web, kind="dimming", limit_kw=12.5, duration_minutes=90, reason="Engpass")
    assert made["status"] == 201
    assert made["valid_until"] == "2026-11-24T07:30:00Z"
    listed = web.client.get("/api/grid-limits", headers=web.auth(Role.GRID_OPERATOR)).json()
    assert [(r["kind"], r["limit_kw"]) for r in listed["api_limits"]] == [("dimming", 12.5)]
    assert listed["applied"] is None  # the control loop has not run yet

    signals = GridSignals(web.site, web.store)
    in_force = asyncio.run(signals.refresh(NOW))
    assert in_force.dimming is not None
    assert in_force.dimming.limit_kw == 12.5
    assert in_force.dimming.source == f"api:grid_operator#{made['id']}"
    assert in_force.dimming.until == NOW + dt.timedelta(minutes=90)
    light = next(
        li
        for li in web.client.get("/api/status", headers=web.auth(Role.VIEWER)).json()["lights"]
        if li["name"] == "Grid limits"
    )
    assert light["level"] == "warn"
    assert "12.5 kW" in light["text"]
    assert f"api:grid_operator#{made['id']}" in light["text"]
    assert light["rows"][0]["until"] == "2026-11-24T07:30:00+00:00"
    login(web.client, "viewer")
    page = web.client.get("/status").text
    assert "Grid limits" in page
    assert "§14a dimming of the controllable devices to 12.5 kW" in page

    lifted = web.client.post(
        f"/api/grid-limits/{made['id']}/lift", headers=web.auth(Role.GRID_OPERATOR)
    )
    assert lifted.status_code == 200
    assert asyncio.run(signals.refresh(NOW + dt.timedelta(seconds=5))).dimming is None
    again = web.client.post(f"/api/grid-limits/{made['id']}/lift", headers=web.auth(Role.OPERATOR))
    assert again.status_code == 409
    actions = [e["action"] for e in read_audit(web.store) if e["action"].startswith("grid_limit")]
    assert actions == [
        "grid_limit.in_force",
        "grid_limit.lift",
        "grid_limit.in_force",
        "grid_limit.add",
    ]
    assert verify_chain(web.store, "audit_log").ok  # every entry in the hash chain


def test_the_tightest_limit_of_each_kind_is_in_force(signalled: Web) -> None:
    web = signalled
    _post(web, kind="feed_in", limit_kw=30.0, duration_minutes=60)
    tight = _post(web, kind="feed_in", limit_kw=10.0, duration_minutes=30)
    in_force = asyncio.run(GridSignals(web.site, web.store).refresh(NOW))
    assert in_force.feed_in is not None
    assert (in_force.feed_in.limit_kw, in_force.feed_in.source) == (
        10.0,
        f"api:grid_operator#{tight['id']}",
    )
    # after the tight one ends, the looser one holds
    later = asyncio.run(GridSignals(web.site, web.store).refresh(NOW + dt.timedelta(minutes=45)))
    assert later.feed_in is not None
    assert later.feed_in.limit_kw == 30.0


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"kind": "dimming", "limit_kw": 5.0, "duration_minutes": 5 * 60}, "at most 4 h ahead"),
        ({"kind": "dimming", "limit_kw": 5.0}, "exactly one of valid_until and duration_minutes"),
        (
            {"kind": "feed_in", "limit_kw": 5.0, "valid_until": "2026-11-24T05:00:00Z"},
            "in the future",
        ),
    ],
)
def test_a_bad_limit_is_refused_with_the_reason(signalled: Web, body: dict, expected: str) -> None:
    response = signalled.client.post(
        "/api/grid-limits", json=body, headers=signalled.auth(Role.GRID_OPERATOR)
    )
    assert response.status_code == 422
    assert expected in " ".join(d["msg"] for d in response.json()["detail"])


def test_a_negative_limit_fails_validation(signalled: Web) -> None:
    made = _post(signalled, kind="dimming", limit_kw=-1.0, duration_minutes=10)
    assert made["status"] == 422


def test_a_site_without_grid_signals_refuses_limits(web: Web) -> None:
    made = _post(web, kind="dimming", limit_kw=5.0, duration_minutes=10)
    assert made["status"] == 409
    assert "grid_signals" in made["detail"]


def test_the_grid_operator_sees_nothing_else_and_operators_may_set_limits(signalled: Web) -> None:
    web = signalled
    for path in ("/api/measurements/latest", "/api/plans", "/api/status", "/api/audit"):
        response = web.client.get(path, headers=web.auth(Role.GRID_OPERATOR))
        assert response.status_code == 403, path
    assert (
        _post(web, Role.OPERATOR, kind="feed_in", limit_kw=20.0, duration_minutes=15)["status"]
        == 201
    )
    for role in (Role.VIEWER, Role.ANALYST):
        assert _post(web, role, kind="feed_in", limit_kw=20.0, duration_minutes=15)["status"] == 403
