"""Fixtures of the web tests (helpers in web_support.py).

`web` builds the app on the parametrized `store` (SQLite and PostgreSQL); `matrix_web` is one
module-wide app on SQLite for the large role-by-endpoint matrix.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from web_support import Web, build_web

import energy.store.users
from energy.site import Site
from energy.store import Store
from energy.store.sites import sync_site


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> Iterator[None]:
    """argon2 at minimal cost: the tests check the logic, not the hash's strength."""
    patcher = pytest.MonkeyPatch()
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    patcher.setattr(energy.store.users, "_hasher", cheap)
    patcher.setattr(energy.store.users, "_DUMMY_HASH", cheap.hash("not a password"))
    yield
    patcher.undo()


@pytest.fixture
def web(site: Site, store: Store) -> Iterator[Web]:
    instance = build_web(site, store)
    with instance.client:
        yield instance


@pytest.fixture(scope="module")
def matrix_web(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    path: Path = tmp_path_factory.mktemp("web") / "kv.sqlite"
    store = Store.from_url(f"sqlite:///{path}")
    store.upgrade()
    sync_site(store, site)
    instance = build_web(site, store)
    with instance.client:
        yield instance
    store.dispose()
