"""Register a site and its assets in the store, so that every row can be traced to its asset."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete

from energy.site import Site
from energy.store.engine import Store
from energy.store.schema import assets, sites

__all__ = ["sync_site"]


def sync_site(store: Store, site: Site) -> None:
    """Insert or refresh the site row and its asset rows from the configuration."""
    now = dt.datetime.now(dt.UTC)
    config_json = site.config.model_dump(mode="json")
    with store.engine.begin() as conn:
        conn.execute(delete(assets).where(assets.c.site_id == site.id))
        conn.execute(delete(sites).where(sites.c.id == site.id))
        conn.execute(
            sites.insert().values(
                id=site.id, name=site.config.name, config=config_json, updated_at=now
            )
        )
        conn.execute(
            assets.insert(),
            [
                {
                    "site_id": site.id,
                    "id": a.id,
                    "kind": a.kind.value,
                    "house_id": a.house_id,
                    "params": a.params_dict(),
                }
                for a in site.assets
            ],
        )
