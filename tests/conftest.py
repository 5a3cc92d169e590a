"""Shared fixtures: the default site, and a migrated store on SQLite and on PostgreSQL.

The PostgreSQL store lives in a schema of its own per test (dropped afterwards), in the database
named by KV_TEST_POSTGRES_URL (default: the local server's database `test`). Without a reachable
server those tests are skipped, except under CI (CI set), where that is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from energy.config import SiteConfig
from energy.site import Site, load_site
from energy.store import Store
from energy.store.sites import sync_site

POSTGRES_URL = os.environ.get(
    "KV_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_reachable() -> str | None:
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any failure to reach the server means the same here
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return None


@pytest.fixture(scope="session")
def postgres_url() -> str:
    problem = _postgres_reachable()
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {POSTGRES_URL} is required under CI: {problem}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {problem}")
    return POSTGRES_URL


@pytest.fixture(scope="session")
def site() -> Site:
    return load_site()


#: A community redox-flow battery as another district might have one (the default site has none):
#: for the tests of community-battery behaviour, served on the next free port after the default's.
COMMUNITY_BATTERY = {
    "id": "quartier-flow",
    "name": "Quartiersspeicher (Redox-Flow)",
    "chemistry": "redox-flow",
    "capacity_kwh": 100.0,
    "charge_max_kw": 25.0,
    "discharge_max_kw": 25.0,
    "charge_efficiency_frac": 0.86,
    "discharge_efficiency_frac": 0.86,
    "soc_min_frac": 0.05,
    "soc_max_frac": 1.0,
    "standby_loss_frac_per_h": 0.001,
    "initial_soc_frac": 0.5,
    "cycle_cost_eur_per_kwh": 0.01,
    "device": {
        "host": "127.0.0.1",
        "port": 15131,
        "unit_id": 1,
        "register_map": "flow_battery_generic.yaml",
    },
}


@pytest.fixture(scope="session")
def community_site(site: Site) -> Site:
    """The default site plus a community redox-flow battery (`COMMUNITY_BATTERY`)."""
    data = site.config.model_dump(mode="json")
    data["community_batteries"] = [COMMUNITY_BATTERY]
    return Site.from_config(SiteConfig.model_validate(data))


def _sqlite_store(tmp_path: Path) -> Store:
    return Store.from_url(f"sqlite:///{tmp_path / 'kv.sqlite'}")


@pytest.fixture
def postgres_store(postgres_url: str) -> Iterator[Store]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    store = Store.from_url(postgres_url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield store
    finally:
        store.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path, site: Site) -> Iterator[Store]:
    """A migrated store with the default site registered, on each backend in turn."""
    if request.param == "sqlite":
        instance = _sqlite_store(tmp_path)
        instance.upgrade()
        sync_site(instance, site)
        yield instance
        instance.dispose()
    else:
        instance = request.getfixturevalue("postgres_store")
        instance.upgrade()
        sync_site(instance, site)
        yield instance


@pytest.fixture
def sqlite_store(tmp_path: Path, site: Site) -> Iterator[Store]:
    """A migrated SQLite store only, for tests that do not concern the backend."""
    instance = _sqlite_store(tmp_path)
    instance.upgrade()
    sync_site(instance, site)
    yield instance
    instance.dispose()
