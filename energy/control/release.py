"""Auto-release: when a proposed plan may be approved without an operator.

The site's `control.release` policy decides. In mode `auto_within_limits` a plan is approved by the
system (actor `system:auto-release`) when

- the optimizer solved it (status optimal or feasible): a fallback plan always waits for an
  operator, so a non-optimal result is never dispatched as if it were optimal;
- it keeps every limit (no violations in its summary);
- and no battery's or heat pump's planned power in the next `compare_slots` slots it shares with
  the running plan differs from the running plan by more than `max_change_kw` (later slots are
  re-planned many times before they run). With no running plan, the
  first plan is approved only when `auto_first_plan` is set.

In mode `manual` every plan waits for an operator. The decision and its reason go to the audit
log through `energy.store.plans.decide_plan`; a plan left proposed stays visible to operators.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from energy.config import ReleasePolicyConfig
from energy.site import AssetKind, Site
from energy.store.engine import Store
from energy.store.plans import PlanRecord, active_plan, decide_plan, read_plan_values
from energy.timegrid import SLOT, floor_slot

__all__ = ["AUTO_RELEASE_ACTOR", "ReleaseDecision", "apply_release_policy", "judge_release"]

AUTO_RELEASE_ACTOR = "system:auto-release"
_SOLVED = frozenset({"optimal", "feasible"})


@dataclass(frozen=True)
class ReleaseDecision:
    approve: bool
    reason: str
    max_change_kw: float | None = None


def _controlled_power(site: Site, values: pd.DataFrame) -> pd.DataFrame:
    kinds = {AssetKind.BATTERY, AssetKind.HEAT_PUMP}
    ids = {a.id for a in site.assets if a.kind in kinds}
    rows = values[(values["quantity"] == "power_kw") & values["asset_id"].isin(ids)]
    return rows[["asset_id", "slot_start", "value"]]


def judge_release(
    site: Site,
    policy: ReleasePolicyConfig,
    plan: PlanRecord,
    values: pd.DataFrame,
    running_values: pd.DataFrame | None,
    now: dt.datetime,
) -> ReleaseDecision:
    """Decide on one proposed plan against the running plan's values (None: nothing runs)."""
    if policy.mode == "manual":
        return ReleaseDecision(False, "release policy is manual: an operator decides")
    if plan.solver_status not in _SOLVED:
        return ReleaseDecision(
            False,
            f"solver status {plan.solver_status} (fallback {plan.fallback}): an operator decides",
        )
    violations = plan.summary.get("violations") or []
    if violations:
        return ReleaseDecision(
            False, f"plan violates {len(violations)} limit(s): an operator decides"
        )
    if running_values is None:
        if policy.auto_first_plan:
            return ReleaseDecision(True, "first plan, no plan running; auto_first_plan is set")
        return ReleaseDecision(False, "no plan running; the first plan needs an operator")
    new = _controlled_power(site, values)
    old = _controlled_power(site, running_values)
    shared = new.merge(old, on=["asset_id", "slot_start"], suffixes=("", "_running"))
    slot_now = floor_slot(now)
    starts = pd.DatetimeIndex(shared["slot_start"])
    window_end = slot_now + policy.compare_slots * SLOT
    shared = shared[(starts >= slot_now) & (starts < window_end)]
    if shared.empty:
        return ReleaseDecision(True, "no slot shared with the running plan from now on")
    change = (shared["value"] - shared["value_running"]).abs()
    worst = int(change.to_numpy().argmax())
    largest = float(change.iloc[worst])
    where = shared.iloc[worst]
    if largest > policy.max_change_kw:
        return ReleaseDecision(
            False,
            f"change against the running plan up to {largest:.2f} kW "
            f"({where['asset_id']} at {pd.Timestamp(where['slot_start']).isoformat()}) exceeds "
            f"max_change_kw {policy.max_change_kw:g}: an operator decides",
            largest,
        )
    return ReleaseDecision(
        True,
        f"largest change against the running plan {largest:.2f} kW is within "
        f"max_change_kw {policy.max_change_kw:g}",
        largest,
    )


def apply_release_policy(
    store: Store, site: Site, plan: PlanRecord, now: dt.datetime
) -> ReleaseDecision:
    """Judge a freshly proposed plan and approve it when the policy allows (audited)."""
    running = active_plan(store, site.id, now)
    running_values = read_plan_values(store, running.id) if running is not None else None
    decision = judge_release(
        site,
        site.config.control.release,
        plan,
        read_plan_values(store, plan.id),
        running_values,
        now,
    )
    if decision.approve:
        decide_plan(store, plan.id, True, AUTO_RELEASE_ACTOR, now, note=decision.reason)
    return decision
