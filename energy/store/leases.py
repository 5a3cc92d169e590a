"""The site lease: only the controller instance holding it may dispatch setpoints.

Acquiring and renewing are one conditional UPDATE (or an INSERT when no lease row exists), which is
atomic on SQLite and PostgreSQL alike: the lease is taken over only once it has expired.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import exc, or_, select, update

from energy.store.engine import Store
from energy.store.schema import leases

__all__ = ["lease_holder", "release_lease", "try_acquire_lease"]


def try_acquire_lease(
    store: Store, site_id: str, holder: str, ttl_s: float, now: dt.datetime
) -> bool:
    """Take or renew the site's lease for ttl_s seconds; True when `holder` holds it afterwards."""
    expires = now + dt.timedelta(seconds=ttl_s)
    with store.engine.begin() as conn:
        result = conn.execute(
            update(leases)
            .where(
                leases.c.site_id == site_id,
                or_(leases.c.holder == holder, leases.c.expires_at <= now),
            )
            .values(holder=holder, renewed_at=now, expires_at=expires)
        )
        if result.rowcount == 1:
            return True
        if conn.execute(select(leases.c.site_id).where(leases.c.site_id == site_id)).first():
            return False
    try:
        with store.engine.begin() as conn:
            conn.execute(
                leases.insert().values(
                    site_id=site_id,
                    holder=holder,
                    acquired_at=now,
                    renewed_at=now,
                    expires_at=expires,
                )
            )
    except exc.IntegrityError:
        return False
    return True


def release_lease(store: Store, site_id: str, holder: str) -> None:
    """Give the lease up at a clean shutdown, so a standby takes over at once."""
    with store.engine.begin() as conn:
        conn.execute(leases.delete().where(leases.c.site_id == site_id, leases.c.holder == holder))


def lease_holder(store: Store, site_id: str, now: dt.datetime) -> str | None:
    with store.engine.connect() as conn:
        row = conn.execute(select(leases).where(leases.c.site_id == site_id)).first()
    return row.holder if row is not None and row.expires_at > now else None
