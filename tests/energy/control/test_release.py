"""The auto-release policy: which proposed plans the system may approve without an operator."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from energy.config import ReleasePolicyConfig
from energy.control.release import AUTO_RELEASE_ACTOR, apply_release_policy, judge_release
from energy.site import Site
from energy.store import Store
from energy.store.plans import (
    PlanRecord,
    PlanState,
    activate_plan,
    decide_plan,
    get_plan,
    save_plan,
)

NOW = dt.datetime(2026, 6, 1, 10, 5, tzinfo=dt.UTC)
SLOTS = pd.date_range("2026-06-01T10:00Z", periods=16, freq="15min")


def _values(
    power_kw: dict[str, float], shift_from: int = 99, shift_kw: float = 0.0
) -> pd.DataFrame:
    rows = []
    for asset_id, power in power_kw.items():
        for i, slot in enumerate(SLOTS):
            value = power + (shift_kw if i >= shift_from else 0.0)
            rows.append((asset_id, "power_kw", slot, value))
        rows += [(asset_id, "soc_end_frac", slot, 0.5) for slot in SLOTS]
    return pd.DataFrame(rows, columns=["asset_id", "quantity", "slot_start", "value"])


def _plan(status: str = "optimal", violations: int = 0) -> PlanRecord:
    return PlanRecord(
        id=2,
        site_id="s",
        version=2,
        created_at=NOW,
        horizon_start=SLOTS[0].to_pydatetime(),
        horizon_end=(SLOTS[-1] + pd.Timedelta("15min")).to_pydatetime(),
        slot_minutes=15,
        state=PlanState.PROPOSED,
        solver_status=status,
        termination=None,
        objective_eur=1.0,
        mip_gap=None,
        fallback="none" if status != "fallback" else "rule_based",
        build_seconds=None,
        solve_seconds=None,
        extract_seconds=None,
        summary={"violations": [{"limit": "x"}] * violations},
        decided_by=None,
        decided_at=None,
        decision_note=None,
    )


AUTO = ReleasePolicyConfig(mode="auto_within_limits", max_change_kw=2.0, compare_slots=4)
RUNNING = _values({"house-01.battery": 1.0, "house-01.hp": 2.0})


def test_a_small_change_is_released(site: Site) -> None:
    new = _values({"house-01.battery": 2.5, "house-01.hp": 2.0})
    decision = judge_release(site, AUTO, _plan(), new, RUNNING, NOW)
    assert decision.approve
    assert decision.max_change_kw == pytest.approx(1.5)


def test_a_large_change_waits_for_an_operator_and_says_where(site: Site) -> None:
    new = _values({"house-01.battery": 4.0, "house-01.hp": 2.0})
    decision = judge_release(site, AUTO, _plan(), new, RUNNING, NOW)
    assert not decision.approve
    assert "house-01.battery" in decision.reason
    assert "3.00 kW" in decision.reason


def test_only_the_compared_slots_from_now_count(site: Site) -> None:
    # a large change from slot 6 on lies beyond the 4 compared slots: re-planned before it runs
    late = _values({"house-01.battery": 1.0, "house-01.hp": 2.0}, shift_from=6, shift_kw=5.0)
    assert judge_release(site, AUTO, _plan(), late, RUNNING, NOW).approve
    early = _values({"house-01.battery": 1.0, "house-01.hp": 2.0}, shift_from=2, shift_kw=5.0)
    assert not judge_release(site, AUTO, _plan(), early, RUNNING, NOW).approve


def test_non_power_quantities_and_uncontrolled_assets_do_not_count(site: Site) -> None:
    new = _values({"house-01.battery": 1.0, "house-01.hp": 2.0, "house-01.pv": 9.0})
    running = _values({"house-01.battery": 1.0, "house-01.hp": 2.0, "house-01.pv": 0.0})
    assert judge_release(site, AUTO, _plan(), new, running, NOW).approve


@pytest.mark.parametrize(
    ("plan", "policy", "needle"),
    [
        (_plan("fallback"), AUTO, "solver status fallback"),
        (_plan(violations=2), AUTO, "violates 2 limit"),
        (_plan(), ReleasePolicyConfig(mode="manual"), "manual"),
    ],
)
def test_fallback_violating_or_manual_plans_wait(
    site: Site, plan: PlanRecord, policy: ReleasePolicyConfig, needle: str
) -> None:
    decision = judge_release(site, policy, plan, RUNNING, RUNNING, NOW)
    assert not decision.approve
    assert needle in decision.reason


def test_first_plan_follows_auto_first_plan(site: Site) -> None:
    assert judge_release(site, AUTO, _plan(), RUNNING, None, NOW).approve
    strict = ReleasePolicyConfig(mode="auto_within_limits", auto_first_plan=False)
    assert not judge_release(site, strict, _plan(), RUNNING, None, NOW).approve


def _save(store: Store, site: Site, values: pd.DataFrame) -> PlanRecord:
    return save_plan(
        store,
        site.id,
        values,
        created_at=NOW,
        horizon_start=SLOTS[0].to_pydatetime(),
        horizon_end=(SLOTS[-1] + pd.Timedelta("15min")).to_pydatetime(),
        slot_minutes=15,
        solver_status="optimal",
    )


def test_apply_release_policy_approves_against_the_active_plan_with_audit(
    store: Store, site: Site
) -> None:
    first = _save(store, site, RUNNING)
    decide_plan(store, first.id, True, "operator", NOW)
    activate_plan(store, first.id, NOW)
    small = _save(store, site, _values({"house-01.battery": 1.5, "house-01.hp": 2.0}))
    large = _save(store, site, _values({"house-01.battery": 7.0, "house-01.hp": 2.0}))
    assert apply_release_policy(store, site, small, NOW).approve
    assert not apply_release_policy(store, site, large, NOW).approve
    approved = get_plan(store, small.id)
    assert approved.state is PlanState.APPROVED
    assert approved.decided_by == AUTO_RELEASE_ACTOR
    assert "within max_change_kw" in (approved.decision_note or "")
    assert get_plan(store, large.id).state is PlanState.PROPOSED
