"""What the API endpoints do, on SQLite and PostgreSQL (authorization is in test_roles.py)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from web_support import NOW, PASSWORD, Web, make_plan

from energy.quality import Quality
from energy.store.audit import read_audit
from energy.store.forecasts import write_backtest
from energy.store.jobs import finish_job_run, start_job_run
from energy.store.leases import try_acquire_lease
from energy.store.measurements import write_measurements
from energy.store.plans import activate_plan, decide_plan
from energy.store.schema import forecast_models, forecasts
from energy.store.setpoints import SetpointWriteRecord, record_setpoint_write
from energy.store.users import Role

OPERATOR, VIEWER, ANALYST, ADMIN = Role.OPERATOR, Role.VIEWER, Role.ANALYST, Role.ADMIN


def test_health_needs_no_login_and_says_little(web: Web) -> None:
    response = web.client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_openapi_document_is_served_to_users_only_and_declares_bearer_auth(web: Web) -> None:
    assert web.client.get("/api/openapi.json").status_code == 401
    spec = web.client.get("/api/openapi.json", headers=web.auth(VIEWER)).json()
    assert "/api/plans/{plan_id}/approve" in spec["paths"]
    assert any(s["scheme"] == "bearer" for s in spec["components"]["securitySchemes"].values())


def test_approve_records_decision_and_audit_and_refuses_a_second_decision(web: Web) -> None:
    plan = make_plan(web.site, web.store)
    response = web.client.post(
        f"/api/plans/{plan.id}/approve", json={"note": "looks fine"}, headers=web.auth(OPERATOR)
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["state"], body["decided_by"], body["decision_note"]) == (
        "approved",
        "operator",
        "looks fine",
    )
    again = web.client.post(f"/api/plans/{plan.id}/reject", headers=web.auth(OPERATOR))
    assert again.status_code == 409
    assert "approved" in again.json()["detail"]
    entries = read_audit(web.store, action="plan.approve")
    assert [(e["actor"], e["target"]) for e in entries] == [("operator", f"plan:{plan.id}")]


def test_reject_and_plan_past_its_horizon(web: Web) -> None:
    rejected = make_plan(web.site, web.store)
    assert (
        web.client.post(f"/api/plans/{rejected.id}/reject", headers=web.auth(OPERATOR)).json()[
            "state"
        ]
        == "rejected"
    )
    old = make_plan(web.site, web.store, start=NOW - dt.timedelta(hours=3))
    late = web.client.post(f"/api/plans/{old.id}/approve", headers=web.auth(OPERATOR))
    assert late.status_code == 409
    assert "ended" in late.json()["detail"]
    assert (
        web.client.post("/api/plans/99999/approve", headers=web.auth(OPERATOR)).status_code == 404
    )


def test_plan_list_detail_values_and_diff_against_active(web: Web) -> None:
    running = make_plan(web.site, web.store, level=1.0)
    decide_plan(web.store, running.id, True, "operator", NOW)
    activate_plan(web.store, running.id, NOW)
    proposed = make_plan(web.site, web.store, level=2.0)
    auth = web.auth(VIEWER)
    listed = web.client.get("/api/plans", headers=auth).json()
    assert [p["id"] for p in listed] == [proposed.id, running.id]
    only_active = web.client.get("/api/plans?state=active", headers=auth).json()
    assert [p["id"] for p in only_active] == [running.id]
    assert web.client.get("/api/plans/active", headers=auth).json()["id"] == running.id
    values = web.client.get(f"/api/plans/{proposed.id}/values", headers=auth).json()
    grid_import = [v for v in values if (v["asset_id"], v["quantity"]) == ("grid", "import_kw")]
    assert len(grid_import) == 8
    assert grid_import[0]["slot_start"] == "2026-11-24T06:00:00Z"
    diff = web.client.get(f"/api/plans/{proposed.id}/diff", headers=auth).json()
    assert diff["reference_plan_id"] == running.id
    row = next(r for r in diff["rows"] if (r["asset_id"], r["quantity"]) == ("grid", "import_kw"))
    assert (row["value"], row["value_reference"], row["change"]) == (20.0, 10.0, 10.0)


def test_plan_detail_reports_the_autarky_figures(web: Web) -> None:
    figures = {"self_sufficiency_frac": 0.62, "self_consumption_frac": 0.81}
    plan = make_plan(web.site, web.store, summary={"cost_breakdown": {**figures, "x": 1.0}})
    older = make_plan(web.site, web.store, summary={"cost_breakdown": {}})
    auth = web.auth(VIEWER)
    assert web.client.get(f"/api/plans/{plan.id}", headers=auth).json()["autarky"] == figures
    assert web.client.get(f"/api/plans/{older.id}", headers=auth).json()["autarky"] == {
        "self_sufficiency_frac": None,
        "self_consumption_frac": None,
    }


def test_diff_without_active_plan_is_404(web: Web) -> None:
    plan = make_plan(web.site, web.store)
    response = web.client.get(f"/api/plans/{plan.id}/diff", headers=web.auth(VIEWER))
    assert response.status_code == 404


def test_plan_csv_download_has_utc_and_local_times(web: Web) -> None:
    plan = make_plan(web.site, web.store, slots=2)
    response = web.client.get(f"/api/plans/{plan.id}/values.csv", headers=web.auth(ANALYST))
    assert response.headers["content-type"].startswith("text/csv")
    lines = response.text.splitlines()
    assert lines[0] == "asset_id,quantity,slot_start,slot_start_local,value"
    assert "2026-11-24T06:00:00Z,24.11.2026 07:00 +01:00" in response.text


def test_override_lifecycle_and_validation(web: Web) -> None:
    auth = web.auth(OPERATOR)
    created = web.client.post(
        "/api/overrides",
        json={
            "asset_id": "house-02.battery",
            "kind": "setpoint",
            "value": -2.0,
            "duration_minutes": 90,
            "reason": "test discharge",
        },
        headers=auth,
    )
    assert created.status_code == 201, created.text
    in_force = web.client.get("/api/overrides", headers=auth).json()
    assert [(o["asset_id"], o["value"]) for o in in_force] == [("house-02.battery", -2.0)]
    assert in_force[0]["expires_at"] == "2026-11-24T07:30:00Z"
    assert in_force[0]["created_by"] == "operator"
    web.clock.advance(minutes=91)
    assert web.client.get("/api/overrides", headers=auth).json() == []
    audit = read_audit(web.store, action="override.add")
    assert audit[0]["actor"] == "operator"


def test_override_refusals(web: Web) -> None:
    auth = web.auth(OPERATOR)
    battery = web.site.asset("house-01.battery").params
    too_much = battery.charge_max_kw + 1  # type: ignore[union-attr]
    cases = [
        ({"asset_id": "house-01.battery", "kind": "setpoint", "value": too_much}, 422),
        ({"asset_id": "house-01.battery", "kind": "setpoint"}, 422),
        ({"asset_id": "house-01.meter", "kind": "local"}, 422),
        ({"asset_id": "house-99.battery", "kind": "local"}, 404),
    ]
    for body, expected in cases:
        response = web.client.post(
            "/api/overrides", json={**body, "duration_minutes": 30}, headers=auth
        )
        assert response.status_code == expected, (body, response.text)
    both = {"asset_id": "house-01.pv", "kind": "local", "duration_minutes": 5}
    both["expires_at"] = "2026-11-24T07:00:00+01:00"
    assert web.client.post("/api/overrides", json=both, headers=auth).status_code == 422
    too_long = {"asset_id": "house-01.pv", "kind": "local", "expires_at": "2026-11-26T07:00:00Z"}
    assert web.client.post("/api/overrides", json=too_long, headers=auth).status_code == 422
    naive = {"asset_id": "house-01.pv", "kind": "local", "expires_at": "2026-11-24T09:00:00"}
    assert web.client.post("/api/overrides", json=naive, headers=auth).status_code == 422


def test_override_cancel(web: Web) -> None:
    auth = web.auth(OPERATOR)
    created = web.client.post(
        "/api/overrides",
        json={"asset_id": "house-01.hp", "kind": "local", "duration_minutes": 30},
        headers=auth,
    ).json()
    cancel = web.client.post(f"/api/overrides/{created['id']}/cancel", headers=auth)
    assert cancel.status_code == 200
    assert web.client.get("/api/overrides", headers=auth).json() == []
    again = web.client.post(f"/api/overrides/{created['id']}/cancel", headers=auth)
    assert again.status_code == 409


def test_asset_mode_change_is_stored_and_audited(web: Web) -> None:
    response = web.client.put(
        "/api/assets/carport-ev/mode", json={"mode": "manual"}, headers=web.auth(OPERATOR)
    )
    assert response.status_code == 200
    modes = web.client.get("/api/modes", headers=web.auth(VIEWER)).json()
    assert modes["carport-ev"] == "manual"
    assert modes["house-01.battery"] == "auto"
    entry = read_audit(web.store, action="asset.mode")[0]
    assert (entry["actor"], entry["target"], entry["detail"]["mode"]) == (
        "operator",
        "carport-ev",
        "manual",
    )
    refused = web.client.put(
        "/api/assets/grid.meter/mode", json={"mode": "manual"}, headers=web.auth(OPERATOR)
    )
    assert refused.status_code == 422


def test_alarm_raise_and_acknowledge(web: Web) -> None:
    auth = web.auth(OPERATOR)
    alarm_id = web.client.post(
        "/api/alarms",
        json={"code": "smell", "severity": "critical", "message": "smoke in house 3"},
        headers=auth,
    ).json()["id"]
    listed = web.client.get("/api/alarms", headers=auth).json()
    assert [(a["id"], a["state"], a["source"]) for a in listed] == [
        (alarm_id, "active", "operator:operator")
    ]
    assert web.client.post(f"/api/alarms/{alarm_id}/acknowledge", headers=auth).status_code == 200
    assert web.client.get("/api/alarms", headers=auth).json()[0]["acknowledged_by"] == "operator"
    assert web.client.post(f"/api/alarms/{alarm_id}/acknowledge", headers=auth).status_code == 409
    assert web.client.post("/api/alarms/4242/acknowledge", headers=auth).status_code == 404


def test_audit_search(web: Web) -> None:
    plan = make_plan(web.site, web.store)
    web.client.post(f"/api/plans/{plan.id}/approve", headers=web.auth(OPERATOR))
    found = web.client.get("/api/audit?text=APPROVE", headers=web.auth(VIEWER)).json()
    assert [e["action"] for e in found] == ["plan.approve"]
    by_actor = web.client.get("/api/audit?actor=operator", headers=web.auth(VIEWER)).json()
    assert {e["actor"] for e in by_actor} == {"operator"}
    later = web.client.get(
        "/api/audit?since=2026-11-24T08:00:00%2B01:00", headers=web.auth(VIEWER)
    ).json()
    assert later == []


def test_latest_measurements_carry_quality_and_age(web: Web) -> None:
    frame = pd.DataFrame(
        {
            "asset_id": ["house-01.battery", "house-01.battery"],
            "quantity": ["soc_frac", "power_kw"],
            "time": pd.to_datetime([NOW - dt.timedelta(seconds=30)] * 2, utc=True),
            "value": [0.61, 1.5],
            "quality": [int(Quality.GOOD), int(Quality.STALE)],
            "unit": ["", "kW"],
        }
    )
    write_measurements(web.store, web.site.id, frame)
    rows = web.client.get("/api/measurements/latest", headers=web.auth(VIEWER)).json()
    by_quantity = {r["quantity"]: r for r in rows}
    assert by_quantity["soc_frac"]["quality"] == "good"
    assert by_quantity["soc_frac"]["age_s"] == 30.0
    assert by_quantity["power_kw"]["quality"] == "stale"
    series = web.client.get(
        "/api/measurements/series",
        params={
            "asset_id": "house-01.battery",
            "quantity": "soc_frac",
            "start": "2026-11-24T00:00:00Z",
            "end": "2026-11-24T07:00:00Z",
        },
        headers=web.auth(VIEWER),
    ).json()
    assert [(r["value"], r["quality"]) for r in series] == [(0.61, "good")]
    too_long = web.client.get(
        "/api/measurements/series",
        params={
            "asset_id": "house-01.battery",
            "quantity": "soc_frac",
            "start": "2026-01-01T00:00:00Z",
            "end": "2026-11-24T07:00:00Z",
        },
        headers=web.auth(VIEWER),
    )
    assert too_long.status_code == 422


def test_forecasts_and_model_metrics(web: Web) -> None:
    with web.store.engine.begin() as conn:
        conn.execute(
            forecast_models.insert().values(
                version="load-gbr-1",
                target="district.load_kw",
                kind="gbr",
                created_at=NOW - dt.timedelta(days=1),
                features=["hour"],
                params={},
                metrics={"mae_kw": 1.7},
            )
        )
        conn.execute(
            forecasts.insert(),
            [
                {
                    "target": "district.load_kw",
                    "model_version": "load-gbr-1",
                    "issue_time": issue,
                    "valid_time": NOW + dt.timedelta(minutes=15 * k),
                    "quantile": 0.5,
                    "value": 10.0 + k + (issue == NOW) * 100,
                }
                for issue in (NOW - dt.timedelta(hours=1), NOW)
                for k in range(4)
            ],
        )
    models = web.client.get("/api/forecast-models", headers=web.auth(VIEWER)).json()
    assert models[0]["metrics"] == {"mae_kw": 1.7}
    issues = web.client.get("/api/forecasts", headers=web.auth(VIEWER)).json()
    assert [(i["target"], i["issue_time"], i["values"]) for i in issues] == [
        ("district.load_kw", "2026-11-24T06:00:00Z", 4)
    ]
    values = web.client.get(
        "/api/forecasts/values?target=district.load_kw", headers=web.auth(ANALYST)
    ).json()
    assert [v["value"] for v in values] == [110.0, 111.0, 112.0, 113.0]
    earlier = web.client.get(
        "/api/forecasts/values",
        params={"target": "district.load_kw", "issue_time": "2026-11-24T07:00:00+02:00"},
        headers=web.auth(ANALYST),
    ).json()
    assert [v["value"] for v in earlier] == [10.0, 11.0, 12.0, 13.0]
    assert models[0]["training_start"] is None
    write_backtest(
        web.store,
        "district.load_kw",
        "load-gbr-1",
        NOW - dt.timedelta(days=30),
        NOW,
        {"horizon_h": 24},
        {"mae_kw": 1.9, "skill": float("nan")},
        created_at=NOW,
    )
    backtests = web.client.get("/api/backtests", headers=web.auth(ANALYST)).json()
    assert [(b["model_version"], b["metrics"]) for b in backtests] == [
        ("load-gbr-1", {"mae_kw": 1.9, "skill": None})
    ]


def test_status_reports_jobs_lease_and_freshness(web: Web) -> None:
    run = start_job_run(web.store, web.site.id, "forecast", "host-a", NOW - dt.timedelta(minutes=2))
    finish_job_run(web.store, run, "ok", NOW - dt.timedelta(minutes=1, seconds=48))
    run = start_job_run(web.store, web.site.id, "optimize", "host-a", NOW - dt.timedelta(minutes=1))
    finish_job_run(web.store, run, "failed", NOW - dt.timedelta(seconds=55), "solver infeasible")
    try_acquire_lease(web.store, web.site.id, "host-a", 30, NOW)
    for seconds, outcome in ((20, "device_error"), (10, "ok")):
        record_setpoint_write(
            web.store,
            SetpointWriteRecord(
                time=NOW - dt.timedelta(seconds=seconds),
                site_id=web.site.id,
                asset_id="house-01.battery",
                point="setpoint_kw",
                requested=2.0,
                clamped=2.0,
                written=2.0,
                read_back=2.0 if outcome == "ok" else None,
                outcome=outcome,
                detail="",
                actor="system:dispatch",
            ),
        )
    record_setpoint_write(
        web.store,
        SetpointWriteRecord(
            time=NOW - dt.timedelta(seconds=5),
            site_id=web.site.id,
            asset_id="house-02.hp",
            point="setpoint_kw",
            requested=1.0,
            clamped=1.0,
            written=1.0,
            read_back=None,
            outcome="unconfirmed",
            detail="read-back timed out",
            actor="system:dispatch",
        ),
    )
    status = web.client.get("/api/status", headers=web.auth(VIEWER)).json()
    lights = {light["name"]: light for light in status["lights"]}
    assert lights["Last forecast"]["level"] == "ok"
    assert "in 12.0 s" in lights["Last forecast"]["text"]
    assert lights["Last solve"]["level"] == "bad"
    assert "solver infeasible" in lights["Last solve"]["text"]
    assert "host-a" in lights["Watchdogs"]["text"]
    assert lights["Device communication"]["level"] == "bad"
    writes = lights["Setpoint writes"]
    assert writes["level"] == "bad"
    assert [(r["asset_id"], r["outcome"], r["age_s"]) for r in writes["rows"]] == [
        ("house-01.battery", "ok", 10.0),
        ("house-02.hp", "unconfirmed", 5.0),
    ]
    assert status["overall"] == "bad"


def test_user_management(web: Web) -> None:
    auth = web.auth(ADMIN)
    created = web.client.post(
        "/api/users", json={"name": "erika", "role": "operator", "password": PASSWORD}, headers=auth
    )
    assert created.status_code == 201
    duplicate = web.client.post(
        "/api/users", json={"name": "erika", "role": "viewer", "password": PASSWORD}, headers=auth
    )
    assert duplicate.status_code == 409
    weak = web.client.post(
        "/api/users", json={"name": "otto", "role": "viewer", "password": "short"}, headers=auth
    )
    assert weak.status_code == 422
    token = web.client.post("/api/users/erika/tokens", json={"name": "scada"}, headers=auth).json()
    erika = {"Authorization": f"Bearer {token['token']}"}
    assert web.client.get("/api/me", headers=erika).json()["role"] == "operator"
    web.client.patch("/api/users/erika", json={"role": "viewer"}, headers=auth)
    assert web.client.get("/api/me", headers=erika).json()["role"] == "viewer"
    assert web.client.post(f"/api/tokens/{token['id']}/revoke", headers=auth).status_code == 200
    assert web.client.get("/api/me", headers=erika).status_code == 401
    last_admin = web.client.patch("/api/users/admin", json={"disabled": True}, headers=auth)
    assert last_admin.status_code == 409
    actions = [e["action"] for e in read_audit(web.store, actor="admin")]
    assert {"user.add", "user.update", "token.create", "token.revoke"} <= set(actions)


def test_disabled_user_token_is_refused(web: Web) -> None:
    web.client.patch("/api/users/analyst", json={"disabled": True}, headers=web.auth(ADMIN))
    assert web.client.get("/api/me", headers=web.auth(ANALYST)).status_code == 401
