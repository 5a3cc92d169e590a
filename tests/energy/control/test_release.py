"""The auto-release policy: which proposed plans the system may approve without an operator."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from energy.config import ReleasePolicyConfig
from energy.control.release import AUTO_RELEASE_ACTOR, apply_release_policy, judge_release
from energy.site import Site
from energy.store import Store
from energy.store.audit import read_audit
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
    import_kw: float, export_kw: float = 0.0, shift_from: int = 99, shift_kw: float = 0.0
) -> pd.DataFrame:
    """A plan importing import_kw (plus shift_kw from slot shift_from on); batteries swing."""
    rows = []
    for i, slot in enumerate(SLOTS):
        extra = shift_kw if i >= shift_from else 0.0
        rows.append(("grid", "import_kw", slot, import_kw + extra))
        rows.append(("grid", "export_kw", slot, export_kw))
        # interchangeable batteries: the split changes from solve to solve, the grid does not
        rows.append(("house-01.battery", "power_kw", slot, 5.0 if i % 2 else -5.0))
        rows.append(("house-03.battery", "power_kw", slot, -5.0 if i % 2 else 5.0))
    return pd.DataFrame(rows, columns=["asset_id", "quantity", "slot_start", "value"])


def _plan(status: str = "optimal", violations: list[str] | None = None) -> PlanRecord:
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
        summary={"violations": [{"limit": v} for v in violations or []]},
        decided_by=None,
        decided_at=None,
        decision_note=None,
    )


AUTO = ReleasePolicyConfig(mode="auto_within_limits", max_change_kw=2.0, compare_slots=4)
RUNNING = _values(10.0)


def test_a_small_change_of_the_grid_exchange_is_released() -> None:
    decision = judge_release(AUTO, _plan(), _values(11.5), RUNNING, NOW)
    assert decision.approve
    assert decision.max_change_kw == pytest.approx(1.5)


def test_exports_count_against_imports() -> None:
    # 10 kW import before, 9 kW import and 2 kW export now: the exchange moved by 3 kW
    decision = judge_release(AUTO, _plan(), _values(9.0, export_kw=2.0), RUNNING, NOW)
    assert not decision.approve
    assert decision.max_change_kw == pytest.approx(3.0)


def test_a_large_change_waits_for_an_operator_and_says_when() -> None:
    decision = judge_release(AUTO, _plan(), _values(14.0), RUNNING, NOW)
    assert not decision.approve
    assert "4.00 kW" in decision.reason
    assert "2026-06-01T10:00:00+00:00" in decision.reason


def test_only_the_compared_slots_from_now_count() -> None:
    # a large change from slot 6 on lies beyond the 4 compared slots: re-planned before it runs
    assert judge_release(
        AUTO, _plan(), _values(10.0, shift_from=6, shift_kw=8.0), RUNNING, NOW
    ).approve
    early = _values(10.0, shift_from=2, shift_kw=8.0)
    assert not judge_release(AUTO, _plan(), early, RUNNING, NOW).approve


@pytest.mark.parametrize(
    ("plan", "policy", "needle"),
    [
        (_plan("fallback"), AUTO, "solver status fallback"),
        (_plan(violations=["tank_temp_below_min", "grid_import_limit"]), AUTO, "violates 2 limit"),
        (_plan(), ReleasePolicyConfig(mode="manual"), "manual"),
    ],
)
def test_fallback_violating_or_manual_plans_wait(
    plan: PlanRecord, policy: ReleasePolicyConfig, needle: str
) -> None:
    decision = judge_release(policy, plan, RUNNING, RUNNING, NOW)
    assert not decision.approve
    assert needle in decision.reason


def test_the_measured_initial_state_does_not_hold_a_plan() -> None:
    plan = _plan(violations=["initial_soc_outside_bounds", "initial_tank_temp_outside_bounds"])
    assert judge_release(AUTO, plan, RUNNING, RUNNING, NOW).approve


def test_first_plan_follows_auto_first_plan() -> None:
    assert judge_release(AUTO, _plan(), RUNNING, None, NOW).approve
    strict = ReleasePolicyConfig(mode="auto_within_limits", auto_first_plan=False)
    assert not judge_release(strict, _plan(), RUNNING, None, NOW).approve


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


def test_apply_release_policy_decides_against_the_active_plan_with_audit(
    store: Store, site: Site
) -> None:
    first = _save(store, site, RUNNING)
    decide_plan(store, first.id, True, "operator", NOW)
    activate_plan(store, first.id, NOW)
    limit = site.config.control.release.max_change_kw
    small = _save(store, site, _values(10.0 + limit / 2))
    assert apply_release_policy(store, site, small, NOW).approve
    large = _save(store, site, _values(10.0 + limit * 2))
    assert not apply_release_policy(store, site, large, NOW).approve
    approved = get_plan(store, small.id)
    assert approved.state is PlanState.APPROVED
    assert approved.decided_by == AUTO_RELEASE_ACTOR
    assert "grid exchange within" in (approved.decision_note or "")
    assert get_plan(store, large.id).state is PlanState.PROPOSED
    holds = [e for e in read_audit(store) if e["action"] == "plan.hold"]
    assert holds[0]["target"] == f"plan:{large.id}"
    assert "an operator decides" in holds[0]["detail"]["reason"]
