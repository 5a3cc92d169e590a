"""Auto-release: when a proposed plan may be approved without an operator.

The site's `control.release` policy decides. In mode `auto_within_limits` a plan is approved by the
system (actor `system:auto-release`) when

- the optimizer solved it (status optimal or feasible): a fallback plan always waits for an
  operator, so a non-optimal result is never dispatched as if it were optimal;
- it keeps every limit the plan itself decides (violations of the measured initial state, which
  no plan can change, are reported in its summary but do not hold it);
- and the district's planned exchange with the grid (import minus export) in the next
  `compare_slots` slots differs from the running plan's by at most `max_change_kw` in every slot.
  The exchange at the connection point is what the grid operator and the tariff see; how the
  optimizer spreads it over interchangeable batteries changes from one solve to the next (linear
  programs are degenerate) and is no reason to call an operator. Later slots are re-planned many
  times before they run. With no running plan, the first plan is approved only when
  `auto_first_plan` is set.

In mode `manual` every plan waits for an operator. An approval goes to the audit log through
`energy.store.plans.decide_plan` (with the reason as decision note); a plan left for an operator
gets a `plan.hold` audit entry with the reason, so the operator sees why it waits. The reasons
are texts of `energy.alarm_texts`: stored in English, shown by the console in its reader's
language.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from energy.alarm_texts import alarm_text
from energy.config import ReleasePolicyConfig
from energy.site import Site
from energy.store.audit import append_audit
from energy.store.engine import Store
from energy.store.plans import PlanRecord, active_plan, decide_plan, read_plan_values
from energy.timegrid import SLOT, floor_slot
from optimizer import GRID_ID

__all__ = ["AUTO_RELEASE_ACTOR", "ReleaseDecision", "apply_release_policy", "judge_release"]

AUTO_RELEASE_ACTOR = "system:auto-release"
_SOLVED = frozenset({"optimal", "feasible"})
_EXCHANGE = {"import_kw": 1.0, "export_kw": -1.0}


@dataclass(frozen=True)
class ReleaseDecision:
    approve: bool
    reason: str
    max_change_kw: float | None = None


def _grid_exchange(values: pd.DataFrame) -> pd.Series:
    """Planned import minus export at the connection point (kW) per slot start."""
    rows = values[(values["asset_id"] == GRID_ID) & values["quantity"].isin(_EXCHANGE)]
    sign = rows["quantity"].map(_EXCHANGE)
    exchange = (rows["value"] * sign).groupby(pd.DatetimeIndex(rows["slot_start"])).sum()
    return exchange


def judge_release(
    policy: ReleasePolicyConfig,
    plan: PlanRecord,
    values: pd.DataFrame,
    running_values: pd.DataFrame | None,
    now: dt.datetime,
) -> ReleaseDecision:
    """Decide on one proposed plan against the running plan's values (None: nothing runs)."""
    if policy.mode == "manual":
        return ReleaseDecision(False, alarm_text("release.manual"))
    if plan.solver_status not in _SOLVED:
        return ReleaseDecision(
            False,
            alarm_text(
                "release.not_solved", status=plan.solver_status, fallback=str(plan.fallback)
            ),
        )
    violations = [
        v
        for v in plan.summary.get("violations") or []
        if not str(v.get("limit", "")).startswith("initial_")
    ]
    if violations:
        return ReleaseDecision(False, alarm_text("release.violations", count=len(violations)))
    if running_values is None:
        if policy.auto_first_plan:
            return ReleaseDecision(True, alarm_text("release.first_auto"))
        return ReleaseDecision(False, alarm_text("release.first_manual"))
    new = _grid_exchange(values)
    old = _grid_exchange(running_values)
    slot_now = floor_slot(now)
    window = pd.date_range(slot_now, periods=policy.compare_slots, freq=SLOT)
    shared = window.intersection(new.index).intersection(old.index)
    if shared.empty:
        return ReleaseDecision(True, alarm_text("release.no_shared_slot"))
    change = (new[shared] - old[shared]).abs()
    largest = float(change.max())
    change_kw = f"{largest:.2f}"
    if largest > policy.max_change_kw:
        return ReleaseDecision(
            False,
            alarm_text(
                "release.change_too_large",
                change_kw=change_kw,
                where_at=pd.Timestamp(change.idxmax()).to_pydatetime(),
                max_change_kw=policy.max_change_kw,
            ),
            largest,
        )
    return ReleaseDecision(
        True,
        alarm_text(
            "release.change_within",
            change_kw=change_kw,
            slots=policy.compare_slots,
            max_change_kw=policy.max_change_kw,
        ),
        largest,
    )


def apply_release_policy(
    store: Store, site: Site, plan: PlanRecord, now: dt.datetime
) -> ReleaseDecision:
    """Judge a freshly proposed plan and approve it when the policy allows (audited)."""
    running = active_plan(store, site.id, now)
    running_values = read_plan_values(store, running.id) if running is not None else None
    decision = judge_release(
        site.config.control.release,
        plan,
        read_plan_values(store, plan.id),
        running_values,
        now,
    )
    if decision.approve:
        decide_plan(store, plan.id, True, AUTO_RELEASE_ACTOR, now, note=decision.reason)
    else:
        append_audit(
            store,
            AUTO_RELEASE_ACTOR,
            "plan.hold",
            f"plan:{plan.id}",
            {"reason": decision.reason, "max_change_kw": decision.max_change_kw},
            time=now,
        )
    return decision
