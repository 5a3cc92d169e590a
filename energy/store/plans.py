"""Plans: versioned, with their per-slot values and a lifecycle that the database enforces.

    proposed -> approved -> active -> superseded | expired
    proposed -> rejected            (a rejected plan never dispatches)
    proposed | approved -> expired  (its horizon ended before it ran)
    proposed -> expired             (not decided within the proposal's validity)

Every transition is a conditional UPDATE on the expected current state, so two operators (or an
operator and the auto-release) cannot both decide the same plan; the loser gets PlanTransitionError.
Every transition is written to the audit log in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import pandas as pd
from sqlalchemy import Connection, and_, func, or_, select, update

from energy.store.audit import append_audit_in
from energy.store.engine import Store
from energy.store.schema import plan_values, plans
from energy.store.sql import inserted_id
from energy.store.types import to_utc_datetime

__all__ = [
    "PlanRecord",
    "PlanState",
    "PlanTransitionError",
    "activate_plan",
    "active_plan",
    "decide_plan",
    "diff_plans",
    "expire_plans",
    "get_plan",
    "list_plans",
    "proposal_expires_at",
    "read_plan_values",
    "save_plan",
]


class PlanState(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    ACTIVE = "active"
    SUPERSEDED = "superseded"
    EXPIRED = "expired"


class PlanTransitionError(RuntimeError):
    """A plan was not in the state the requested transition needs."""


@dataclass(frozen=True)
class PlanRecord:
    id: int
    site_id: str
    version: int
    created_at: dt.datetime
    horizon_start: dt.datetime
    horizon_end: dt.datetime
    slot_minutes: int
    state: PlanState
    solver_status: str
    termination: str | None
    objective_eur: float | None
    mip_gap: float | None
    fallback: str
    build_seconds: float | None
    solve_seconds: float | None
    extract_seconds: float | None
    summary: dict[str, Any]
    decided_by: str | None
    decided_at: dt.datetime | None
    decision_note: str | None

    def covers(self, when: dt.datetime) -> bool:
        return self.horizon_start <= when < self.horizon_end


def _record(row: Any) -> PlanRecord:
    data = dict(row._mapping)
    data["state"] = PlanState(data["state"])
    return PlanRecord(**data)


def _audit(
    conn: Connection,
    now: dt.datetime,
    actor: str,
    action: str,
    plan_id: int,
    detail: dict[str, Any],
) -> None:
    append_audit_in(conn, now, actor, action, f"plan:{plan_id}", detail)


def save_plan(
    store: Store,
    site_id: str,
    values: pd.DataFrame,
    *,
    created_at: dt.datetime,
    horizon_start: dt.datetime,
    horizon_end: dt.datetime,
    slot_minutes: int,
    solver_status: str,
    termination: str | None = None,
    objective_eur: float | None = None,
    mip_gap: float | None = None,
    fallback: str = "none",
    build_seconds: float | None = None,
    solve_seconds: float | None = None,
    extract_seconds: float | None = None,
    summary: dict[str, Any] | None = None,
    actor: str = "system:optimizer",
) -> PlanRecord:
    """Store a new proposed plan with the next version number of its site.

    values is long-format: asset_id, quantity, slot_start (UTC-aware), value.
    """
    missing = {"asset_id", "quantity", "slot_start", "value"} - set(values.columns)
    if missing:
        raise ValueError(f"plan values: missing columns {sorted(missing)}")
    if values["value"].isna().any():
        bad = values[values["value"].isna()].iloc[0]
        raise ValueError(
            f"plan values: NaN for {bad['asset_id']} {bad['quantity']} at {bad['slot_start']}"
        )
    rows = [
        {"asset_id": a, "quantity": q, "slot_start": to_utc_datetime(t), "value": float(v)}
        for a, q, t, v in values[["asset_id", "quantity", "slot_start", "value"]].itertuples(
            index=False, name=None
        )
    ]
    with store.engine.begin() as conn:
        version = (
            conn.execute(
                select(func.coalesce(func.max(plans.c.version), 0)).where(
                    plans.c.site_id == site_id
                )
            ).scalar_one()
            + 1
        )
        plan_id = inserted_id(
            conn.execute(
                plans.insert().values(
                    site_id=site_id,
                    version=version,
                    created_at=created_at,
                    horizon_start=horizon_start,
                    horizon_end=horizon_end,
                    slot_minutes=slot_minutes,
                    state=PlanState.PROPOSED.value,
                    solver_status=solver_status,
                    termination=termination,
                    objective_eur=objective_eur,
                    mip_gap=mip_gap,
                    fallback=fallback,
                    build_seconds=build_seconds,
                    solve_seconds=solve_seconds,
                    extract_seconds=extract_seconds,
                    summary=summary or {},
                )
            )
        )
        if rows:
            for row in rows:
                row["plan_id"] = plan_id
            conn.execute(plan_values.insert(), rows)
        _supersede_proposals(conn, site_id, int(plan_id), created_at, actor)
        _audit(
            conn,
            created_at,
            actor,
            "plan.propose",
            plan_id,
            {
                "version": version,
                "solver_status": solver_status,
                "fallback": fallback,
                "objective_eur": objective_eur,
            },
        )
    return get_plan(store, int(plan_id))


def get_plan(store: Store, plan_id: int) -> PlanRecord:
    with store.engine.connect() as conn:
        row = conn.execute(select(plans).where(plans.c.id == plan_id)).first()
    if row is None:
        raise KeyError(f"no plan with id {plan_id}")
    return _record(row)


def list_plans(
    store: Store,
    site_id: str,
    states: list[PlanState] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[PlanRecord]:
    """Newest first."""
    query = select(plans).where(plans.c.site_id == site_id)
    if states:
        query = query.where(plans.c.state.in_([s.value for s in states]))
    query = query.order_by(plans.c.version.desc()).limit(limit).offset(offset)
    with store.engine.connect() as conn:
        return [_record(r) for r in conn.execute(query)]


def read_plan_values(store: Store, plan_id: int) -> pd.DataFrame:
    """Long frame asset_id, quantity, slot_start (UTC), value, ordered by slot."""
    query = (
        select(
            plan_values.c.asset_id,
            plan_values.c.quantity,
            plan_values.c.slot_start,
            plan_values.c.value,
        )
        .where(plan_values.c.plan_id == plan_id)
        .order_by(plan_values.c.slot_start, plan_values.c.asset_id, plan_values.c.quantity)
    )
    with store.engine.connect() as conn:
        rows = [tuple(row) for row in conn.execute(query)]  # pandas is slow on Row objects
    frame = pd.DataFrame(rows, columns=["asset_id", "quantity", "slot_start", "value"])
    frame["slot_start"] = pd.to_datetime(frame["slot_start"], utc=True)
    return frame


def _transition(
    conn: Connection,
    plan_id: int,
    expected: tuple[PlanState, ...],
    new: PlanState,
    extra: dict[str, Any] | None = None,
) -> None:
    result = conn.execute(
        update(plans)
        .where(plans.c.id == plan_id, plans.c.state.in_([s.value for s in expected]))
        .values(state=new.value, **(extra or {}))
    )
    if result.rowcount != 1:
        current = conn.execute(select(plans.c.state).where(plans.c.id == plan_id)).scalar()
        if current is None:
            raise KeyError(f"no plan with id {plan_id}")
        allowed = " or ".join(s.value for s in expected)
        raise PlanTransitionError(
            f"plan {plan_id} is {current}; it must be {allowed} to become {new.value}"
        )


def _supersede_proposals(
    conn: Connection, site_id: str, newest_id: int, now: dt.datetime, actor: str
) -> None:
    """A new proposal makes every older undecided one superseded: an operator decides only on
    the newest plan, never on one made from older forecasts and measurements."""
    older = (
        conn.execute(
            select(plans.c.id).where(
                plans.c.site_id == site_id,
                plans.c.state == PlanState.PROPOSED.value,
                plans.c.id != newest_id,
            )
        )
        .scalars()
        .all()
    )
    for old_id in older:
        _transition(conn, old_id, (PlanState.PROPOSED,), PlanState.SUPERSEDED)
        _audit(conn, now, actor, "plan.supersede", old_id, {"by_plan": newest_id})


def _check_not_older_than_running(conn: Connection, plan_id: int) -> None:
    """An approval of a plan older than the site's approved or active one is refused: it would
    be an approved plan that never runs."""
    plan = conn.execute(
        select(plans.c.site_id, plans.c.version).where(plans.c.id == plan_id)
    ).first()
    if plan is None:
        raise KeyError(f"no plan with id {plan_id}")
    newer = conn.execute(
        select(plans.c.id, plans.c.version).where(
            plans.c.site_id == plan.site_id,
            plans.c.version > plan.version,
            plans.c.state.in_([PlanState.APPROVED.value, PlanState.ACTIVE.value]),
        )
    ).first()
    if newer is not None:
        raise PlanTransitionError(
            f"plan {plan_id} (version {plan.version}) is older than plan {newer.id} "
            f"(version {newer.version}), which is approved or running"
        )


def proposal_expires_at(plan: PlanRecord, valid: dt.timedelta) -> dt.datetime:
    """When a proposal can no longer be approved: `valid` after it was made, at the latest when
    its horizon ends."""
    return min(plan.created_at + valid, plan.horizon_end)


def _expire_stale_proposal(
    store: Store, plan_id: int, now: dt.datetime, valid: dt.timedelta, actor: str
) -> None:
    """Refuse the approval of a proposal past its validity, marking it expired (audited)."""
    plan = get_plan(store, plan_id)
    if plan.state is not PlanState.PROPOSED:
        return
    expires = proposal_expires_at(plan, valid)
    if now < expires:
        return
    with store.engine.begin() as conn:
        _transition(conn, plan_id, (PlanState.PROPOSED,), PlanState.EXPIRED)
        _audit(conn, now, actor, "plan.expire", plan_id, {"reason": "proposal_valid"})
    raise PlanTransitionError(
        f"plan {plan_id} expired at {expires.isoformat()}: a proposal is valid for "
        f"{valid.total_seconds() / 60:g} min; decide on a newer one"
    )


def decide_plan(
    store: Store,
    plan_id: int,
    approve: bool,
    actor: str,
    now: dt.datetime,
    note: str | None = None,
    proposal_valid: dt.timedelta | None = None,
) -> PlanRecord:
    """Approve or reject a proposed plan (an operator, or the auto-release policy as actor).
    With `proposal_valid`, a proposal older than that is marked expired instead of approved."""
    new = PlanState.APPROVED if approve else PlanState.REJECTED
    if approve and proposal_valid is not None:
        _expire_stale_proposal(store, plan_id, now, proposal_valid, actor)
    with store.engine.begin() as conn:
        if approve:
            _check_not_older_than_running(conn, plan_id)
        _transition(
            conn,
            plan_id,
            (PlanState.PROPOSED,),
            new,
            {"decided_by": actor, "decided_at": now, "decision_note": note},
        )
        _audit(
            conn, now, actor, "plan.approve" if approve else "plan.reject", plan_id, {"note": note}
        )
    return get_plan(store, plan_id)


def activate_plan(
    store: Store, plan_id: int, now: dt.datetime, actor: str = "system:control"
) -> PlanRecord:
    """Make an approved plan the active one of its site; the previously active plan is superseded."""
    plan = get_plan(store, plan_id)
    with store.engine.begin() as conn:
        previous = (
            conn.execute(
                select(plans.c.id).where(
                    plans.c.site_id == plan.site_id, plans.c.state == PlanState.ACTIVE.value
                )
            )
            .scalars()
            .all()
        )
        for old_id in previous:
            _transition(conn, old_id, (PlanState.ACTIVE,), PlanState.SUPERSEDED)
            _audit(conn, now, actor, "plan.supersede", old_id, {"by_plan": plan_id})
        _transition(conn, plan_id, (PlanState.APPROVED,), PlanState.ACTIVE)
        _audit(conn, now, actor, "plan.activate", plan_id, {"superseded": list(previous)})
    return get_plan(store, plan_id)


def expire_plans(
    store: Store,
    site_id: str,
    now: dt.datetime,
    actor: str = "system:control",
    proposal_valid: dt.timedelta | None = None,
) -> list[int]:
    """Expire every proposed, approved or active plan whose horizon has ended, and with
    `proposal_valid` every proposal made that long ago or longer; returns their ids."""
    live = (PlanState.PROPOSED, PlanState.APPROVED, PlanState.ACTIVE)
    ended = [plans.c.horizon_end <= now]
    if proposal_valid is not None:
        ended.append(
            and_(
                plans.c.state == PlanState.PROPOSED.value,
                plans.c.created_at <= now - proposal_valid,
            )
        )
    with store.engine.begin() as conn:
        rows = conn.execute(
            select(plans.c.id, plans.c.horizon_end).where(
                plans.c.site_id == site_id,
                plans.c.state.in_([s.value for s in live]),
                or_(*ended),
            )
        ).all()
        for row in rows:
            _transition(conn, row.id, live, PlanState.EXPIRED)
            reason = "horizon_ended" if row.horizon_end <= now else "proposal_valid"
            _audit(conn, now, actor, "plan.expire", row.id, {"reason": reason})
    return [int(row.id) for row in rows]


def active_plan(store: Store, site_id: str, now: dt.datetime) -> PlanRecord | None:
    """The active plan if it covers `now`; a plan past its horizon never counts."""
    with store.engine.connect() as conn:
        row = conn.execute(
            select(plans)
            .where(plans.c.site_id == site_id, plans.c.state == PlanState.ACTIVE.value)
            .order_by(plans.c.version.desc())
        ).first()
    if row is None:
        return None
    plan = _record(row)
    return plan if plan.covers(now) else None


def diff_plans(store: Store, plan_id: int, reference_plan_id: int) -> pd.DataFrame:
    """Per asset, quantity and shared slot: this plan's value, the reference's and the change."""
    new = read_plan_values(store, plan_id)
    old = read_plan_values(store, reference_plan_id)
    merged = new.merge(
        old, on=["asset_id", "quantity", "slot_start"], how="inner", suffixes=("", "_reference")
    )
    merged["change"] = merged["value"] - merged["value_reference"]
    return merged
