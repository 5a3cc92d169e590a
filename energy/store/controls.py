"""Operator controls per asset: overrides with an expiry, and manual/automatic mode.

An override is either a fixed setpoint ("setpoint", with a value in the asset's setpoint unit) or
"local" (hand the device back to its own local mode). It is in force from creation until it expires
or is cancelled. An asset in manual mode is never written by the plan; only overrides apply.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update

from energy.store.audit import append_audit_in
from energy.store.engine import Store
from energy.store.schema import asset_modes, overrides
from energy.store.sql import inserted_id

__all__ = [
    "AssetMode",
    "OverrideKind",
    "active_overrides",
    "add_override",
    "asset_modes_of",
    "cancel_override",
    "set_asset_mode",
]


class OverrideKind(StrEnum):
    SETPOINT = "setpoint"
    LOCAL = "local"


class AssetMode(StrEnum):
    AUTO = "auto"
    MANUAL = "manual"


def add_override(
    store: Store,
    site_id: str,
    asset_id: str,
    kind: OverrideKind,
    value: float | None,
    expires_at: dt.datetime,
    actor: str,
    now: dt.datetime,
    reason: str | None = None,
) -> int:
    if kind is OverrideKind.SETPOINT and value is None:
        raise ValueError("a setpoint override needs a value")
    if expires_at <= now:
        raise ValueError(f"override expiry {expires_at.isoformat()} is not after now")
    with store.engine.begin() as conn:
        override_id = inserted_id(
            conn.execute(
                overrides.insert().values(
                    site_id=site_id,
                    asset_id=asset_id,
                    kind=kind.value,
                    value=value if kind is OverrideKind.SETPOINT else None,
                    created_by=actor,
                    created_at=now,
                    expires_at=expires_at,
                    reason=reason,
                )
            )
        )
        append_audit_in(
            conn,
            now,
            actor,
            "override.add",
            asset_id,
            {
                "override_id": override_id,
                "kind": kind.value,
                "value": value,
                "expires_at": expires_at.isoformat(),
                "reason": reason,
            },
        )
    return int(override_id)


def cancel_override(store: Store, override_id: int, actor: str, now: dt.datetime) -> None:
    with store.engine.begin() as conn:
        row = conn.execute(select(overrides).where(overrides.c.id == override_id)).first()
        if row is None:
            raise KeyError(f"no override with id {override_id}")
        if row.cancelled_at is not None or row.expires_at <= now:
            raise ValueError(f"override {override_id} is no longer in force")
        conn.execute(
            update(overrides).where(overrides.c.id == override_id).values(cancelled_at=now)
        )
        append_audit_in(
            conn, now, actor, "override.cancel", row.asset_id, {"override_id": override_id}
        )


def active_overrides(store: Store, site_id: str, now: dt.datetime) -> dict[str, dict[str, Any]]:
    """The override in force per asset (the newest one wins where several overlap)."""
    query = (
        select(overrides)
        .where(
            overrides.c.site_id == site_id,
            overrides.c.cancelled_at.is_(None),
            overrides.c.created_at <= now,
            overrides.c.expires_at > now,
        )
        .order_by(overrides.c.created_at, overrides.c.id)
    )
    with store.engine.connect() as conn:
        return {r.asset_id: dict(r._mapping) for r in conn.execute(query)}


def set_asset_mode(
    store: Store, site_id: str, asset_id: str, mode: AssetMode, actor: str, now: dt.datetime
) -> None:
    with store.engine.begin() as conn:
        exists = conn.execute(
            select(asset_modes.c.mode).where(
                asset_modes.c.site_id == site_id, asset_modes.c.asset_id == asset_id
            )
        ).scalar()
        values = {"mode": mode.value, "changed_by": actor, "changed_at": now}
        if exists is None:
            conn.execute(asset_modes.insert().values(site_id=site_id, asset_id=asset_id, **values))
        else:
            conn.execute(
                update(asset_modes)
                .where(asset_modes.c.site_id == site_id, asset_modes.c.asset_id == asset_id)
                .values(**values)
            )
        append_audit_in(
            conn,
            now,
            actor,
            "asset.mode",
            asset_id,
            {"mode": mode.value, "previous": exists or AssetMode.AUTO.value},
        )


def asset_modes_of(store: Store, site_id: str) -> dict[str, AssetMode]:
    """Assets not listed are in automatic mode."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(asset_modes).where(asset_modes.c.site_id == site_id)).all()
    return {r.asset_id: AssetMode(r.mode) for r in rows}
