from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import update

from energy.store import Store
from energy.store.alarms import Severity, acknowledge_alarm, clear_alarm, list_alarms, raise_alarm
from energy.store.audit import read_audit
from energy.store.controls import (
    AssetMode,
    OverrideKind,
    active_overrides,
    add_override,
    asset_modes_of,
    cancel_override,
    set_asset_mode,
)
from energy.store.jobs import finish_job_run, job_status, start_job_run
from energy.store.leases import lease_holder, release_lease, try_acquire_lease
from energy.store.plans import (
    PlanState,
    PlanTransitionError,
    activate_plan,
    active_plan,
    decide_plan,
    diff_plans,
    expire_plans,
    read_plan_values,
    save_plan,
)
from energy.store.schema import plans

SITE = "klimaviertel-sodingen"
T0 = dt.datetime(2026, 10, 24, 22, 0, tzinfo=dt.UTC)


def _plan(store: Store, offset_kw: float = 0.0, start: dt.datetime = T0):
    slots = pd.date_range(start, periods=4, freq="15min")
    values = pd.DataFrame(
        {
            "asset_id": "house-01.battery",
            "quantity": "power_kw",
            "slot_start": slots,
            "value": [1.0 + offset_kw, 2.0, 0.0, -1.0],
        }
    )
    return save_plan(
        store,
        SITE,
        values,
        created_at=start,
        horizon_start=slots[0],
        horizon_end=slots[-1] + pd.Timedelta("15min"),
        slot_minutes=15,
        solver_status="optimal",
        objective_eur=1.5,
        summary={"k": 1},
    )


def test_versions_increase_and_values_round_trip(store: Store) -> None:
    first, second = _plan(store), _plan(store)
    assert (first.version, second.version) == (1, 2)
    assert first.state is PlanState.PROPOSED
    values = read_plan_values(store, first.id)
    assert values["value"].tolist() == [1.0, 2.0, 0.0, -1.0]
    assert values["slot_start"].iloc[0] == pd.Timestamp(T0)


def test_lifecycle_proposed_approved_active_superseded(store: Store) -> None:
    first = _plan(store)
    decide_plan(store, first.id, approve=True, actor="olga", now=T0)
    activate_plan(store, first.id, now=T0)
    assert active_plan(store, SITE, T0).id == first.id
    second = _plan(store, offset_kw=0.5)
    decide_plan(store, second.id, approve=True, actor="olga", now=T0)
    activate_plan(store, second.id, now=T0)
    assert active_plan(store, SITE, T0).id == second.id
    assert _state(store, first.id) is PlanState.SUPERSEDED
    actions = [e["action"] for e in read_audit(store, text="plan:")]
    assert actions.count("plan.approve") == 2
    assert "plan.supersede" in actions


def test_a_newer_proposal_supersedes_the_undecided_one_which_can_no_longer_be_approved(
    store: Store,
) -> None:
    older = _plan(store)
    newer = _plan(store, offset_kw=0.5)
    assert _state(store, older.id) is PlanState.SUPERSEDED
    assert _state(store, newer.id) is PlanState.PROPOSED
    with pytest.raises(PlanTransitionError, match="superseded"):
        decide_plan(store, older.id, approve=True, actor="olga", now=T0)
    supersede = [e for e in read_audit(store, text="plan:") if e["action"] == "plan.supersede"]
    assert supersede[0]["target"] == f"plan:{older.id}"
    assert supersede[0]["detail"] == {"by_plan": newer.id}


def test_a_plan_older_than_the_running_one_cannot_be_approved(store: Store) -> None:
    """Plans stored before proposals were superseded: approving the older one is refused."""
    older, newer = _plan(store), _plan(store, offset_kw=0.5)
    with store.engine.begin() as conn:  # the state such a store may hold
        conn.execute(update(plans).where(plans.c.id == older.id).values(state="proposed"))
    decide_plan(store, newer.id, approve=True, actor="olga", now=T0)
    activate_plan(store, newer.id, now=T0)
    with pytest.raises(PlanTransitionError, match="older than plan"):
        decide_plan(store, older.id, approve=True, actor="olga", now=T0)
    decide_plan(store, older.id, approve=False, actor="olga", now=T0)  # rejecting is fine


def _state(store: Store, plan_id: int) -> PlanState:
    from energy.store.plans import get_plan

    return get_plan(store, plan_id).state


def test_rejected_plan_can_never_be_activated(store: Store) -> None:
    plan = _plan(store)
    decide_plan(store, plan.id, approve=False, actor="olga", now=T0, note="looks wrong")
    with pytest.raises(PlanTransitionError, match="rejected"):
        activate_plan(store, plan.id, now=T0)
    with pytest.raises(PlanTransitionError):
        decide_plan(store, plan.id, approve=True, actor="eve", now=T0)


def test_plan_past_its_horizon_is_not_active_and_expires(store: Store) -> None:
    plan = _plan(store)
    decide_plan(store, plan.id, approve=True, actor="olga", now=T0)
    activate_plan(store, plan.id, now=T0)
    after = T0 + dt.timedelta(hours=1)
    assert active_plan(store, SITE, after) is None
    assert expire_plans(store, SITE, after) == [plan.id]
    assert _state(store, plan.id) is PlanState.EXPIRED


VALID = dt.timedelta(minutes=30)


def test_a_proposal_expires_after_its_validity_but_an_approved_plan_does_not(
    store: Store,
) -> None:
    approved = _plan(store)
    decide_plan(store, approved.id, approve=True, actor="olga", now=T0)
    proposed = _plan(store, offset_kw=0.5)
    just_before = T0 + VALID - dt.timedelta(seconds=1)
    assert expire_plans(store, SITE, just_before, proposal_valid=VALID) == []
    assert expire_plans(store, SITE, T0 + VALID, proposal_valid=VALID) == [proposed.id]
    assert _state(store, proposed.id) is PlanState.EXPIRED
    assert _state(store, approved.id) is PlanState.APPROVED
    expiry = next(e for e in read_audit(store, action="plan.expire"))
    assert expiry["detail"] == {"reason": "proposal_valid"}


def test_a_proposal_past_its_validity_cannot_be_approved_and_is_marked_expired(
    store: Store,
) -> None:
    late = _plan(store)
    with pytest.raises(PlanTransitionError, match="a proposal is valid for 30 min"):
        decide_plan(store, late.id, True, "olga", T0 + VALID, proposal_valid=VALID)
    assert _state(store, late.id) is PlanState.EXPIRED
    in_time = _plan(store, start=T0 + dt.timedelta(minutes=15))
    decide_plan(store, in_time.id, True, "olga", T0 + VALID, proposal_valid=VALID)
    assert _state(store, in_time.id) is PlanState.APPROVED


def test_diff_against_reference(store: Store) -> None:
    first, second = _plan(store), _plan(store, offset_kw=0.5)
    diff = diff_plans(store, second.id, first.id)
    assert diff.loc[diff["slot_start"] == pd.Timestamp(T0), "change"].item() == pytest.approx(0.5)


def test_alarm_dedupes_acknowledges_and_clears(store: Store) -> None:
    first = raise_alarm(store, SITE, "stale", "house-01.battery", Severity.WARNING, "no data", T0)
    again = raise_alarm(store, SITE, "stale", "house-01.battery", Severity.WARNING, "still", T0)
    assert first == again
    acknowledge_alarm(store, first, "olga", T0)
    with pytest.raises(ValueError, match="acknowledged"):
        acknowledge_alarm(store, first, "olga", T0)
    assert clear_alarm(store, SITE, "stale", "house-01.battery", T0)
    assert list_alarms(store, SITE) == []
    assert list_alarms(store, SITE, open_only=False)[0]["state"] == "cleared"


def test_overrides_expire_and_cancel(store: Store) -> None:
    oid = add_override(
        store,
        SITE,
        "house-01.battery",
        OverrideKind.SETPOINT,
        2.0,
        T0 + dt.timedelta(hours=1),
        "olga",
        T0,
        reason="test",
    )
    assert active_overrides(store, SITE, T0)["house-01.battery"]["value"] == 2.0
    assert active_overrides(store, SITE, T0 + dt.timedelta(hours=2)) == {}
    cancel_override(store, oid, "olga", T0 + dt.timedelta(minutes=5))
    assert active_overrides(store, SITE, T0 + dt.timedelta(minutes=6)) == {}
    with pytest.raises(ValueError, match="needs a value"):
        add_override(
            store, SITE, "x", OverrideKind.SETPOINT, None, T0 + dt.timedelta(hours=1), "olga", T0
        )


def test_asset_modes(store: Store) -> None:
    set_asset_mode(store, SITE, "house-02.hp", AssetMode.MANUAL, "olga", T0)
    set_asset_mode(store, SITE, "house-02.hp", AssetMode.AUTO, "olga", T0)
    set_asset_mode(store, SITE, "house-03.hp", AssetMode.MANUAL, "olga", T0)
    assert asset_modes_of(store, SITE) == {
        "house-02.hp": AssetMode.AUTO,
        "house-03.hp": AssetMode.MANUAL,
    }


def test_lease_is_exclusive_until_it_expires(store: Store) -> None:
    assert try_acquire_lease(store, SITE, "a", 30, T0)
    assert not try_acquire_lease(store, SITE, "b", 30, T0 + dt.timedelta(seconds=10))
    assert try_acquire_lease(store, SITE, "a", 30, T0 + dt.timedelta(seconds=20))
    assert lease_holder(store, SITE, T0 + dt.timedelta(seconds=40)) == "a"
    assert try_acquire_lease(store, SITE, "b", 30, T0 + dt.timedelta(seconds=51))
    release_lease(store, SITE, "b")
    assert lease_holder(store, SITE, T0 + dt.timedelta(seconds=52)) is None


def test_job_status_keeps_last_failure(store: Store) -> None:
    run = start_job_run(store, SITE, "optimize", "i1", T0)
    finish_job_run(store, run, "failed", T0, "solver crashed")
    run = start_job_run(store, SITE, "optimize", "i1", T0 + dt.timedelta(minutes=15))
    finish_job_run(store, run, "ok", T0 + dt.timedelta(minutes=15))
    status = job_status(store, SITE)["optimize"]
    assert status["last"]["outcome"] == "ok"
    assert status["last_failure"]["detail"] == "solver crashed"
