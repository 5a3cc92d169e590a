"""The audit trail of the owners' publication consent (`publication.consent` of the site YAML).

The consent lives in the configuration; its history lives in the append-only audit log. When the
platform registers a configuration (`kv run`, `kv db upgrade`), `audit_consent_changes` compares
each house's consent entry with the newest one audited and appends one `publication.consent`
entry per difference (first registration, granted, withdrawn, re-dated), so who allowed what
since when can always be answered from the log, even after the YAML changed again.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from energy.site import Site
from energy.store.audit import append_audit_in
from energy.store.engine import Store
from energy.store.schema import audit_log

__all__ = ["CONSENT_ACTION", "audit_consent_changes", "audited_consent"]

CONSENT_ACTION = "publication.consent"


def audited_consent(store: Store, site_id: str) -> dict[str, dict[str, Any] | None]:
    """Per house, the consent entry of the newest audit record (None: withdrawn from config)."""
    query = (
        select(audit_log.c.target, audit_log.c.detail)
        .where(audit_log.c.action == CONSENT_ACTION)
        .order_by(audit_log.c.id)
    )
    state: dict[str, dict[str, Any] | None] = {}
    with store.engine.connect() as conn:
        for target, detail in conn.execute(query):
            if detail.get("site_id") == site_id:
                state[str(target).removeprefix("house:")] = detail.get("after")
    return state


def audit_consent_changes(
    store: Store, site: Site, now: dt.datetime, actor: str = "system:config"
) -> list[str]:
    """Append an audit entry for every house whose consent differs from the audited one;
    returns those house ids."""
    before = audited_consent(store, site.id)
    after = {
        house: entry.model_dump(mode="json")
        for house, entry in site.config.publication.consent.items()
    }
    changed = sorted(h for h in set(before) | set(after) if before.get(h) != after.get(h))
    if not changed:
        return []
    with store.engine.begin() as conn:
        for house in changed:
            append_audit_in(
                conn,
                now,
                actor,
                CONSENT_ACTION,
                f"house:{house}",
                {
                    "site_id": site.id,
                    "before": before.get(house),
                    "after": after.get(house),
                    "config_file": str(site.config.source_path or ""),
                },
            )
    return changed
