"""X-Forwarded-For is believed only from configured trusted proxies (uvicorn as `kv run` runs it)."""

from __future__ import annotations

import re

import httpx
import pytest
from web_support import NOW, PASSWORD, SECRET

from energy.config import WebConfig
from energy.control.clock import WallClock
from energy.control.platform import _WebThread
from energy.site import Site
from energy.store import Store
from energy.store.audit import read_audit
from energy.store.users import Role, create_user
from tests.ports import free_port


def _failed_login_address(site: Site, store: Store) -> str:
    port = free_port()
    web = _WebThread(site, store, WallClock(), "127.0.0.1", port, lambda: None, 60.0)
    web.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            page = client.get("/login")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert csrf is not None
            client.post(
                "/login",
                data={"username": "operator", "password": "wrong", "csrf_token": csrf.group(1)},
                headers={"X-Forwarded-For": "203.0.113.9"},
            )
    finally:
        web.stop()
    return str(read_audit(store, action="auth.login_failed")[0]["detail"]["address"])


@pytest.fixture
def users(sqlite_store: Store, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setenv("KV_SECRET_KEY", SECRET)
    create_user(sqlite_store, "operator", PASSWORD, Role.OPERATOR, "test", NOW)
    return sqlite_store


def test_a_client_cannot_pick_its_address(site: Site, users: Store) -> None:
    assert _failed_login_address(site, users) == "127.0.0.1"


def test_a_trusted_proxy_names_the_client(site: Site, users: Store) -> None:
    config = site.config.model_copy(update={"web": WebConfig(trusted_proxies=["127.0.0.0/8"])})
    assert _failed_login_address(Site.from_config(config), users) == "203.0.113.9"


def test_a_trusted_proxy_must_be_an_address() -> None:
    with pytest.raises(ValueError, match="expected an IP address or network"):
        WebConfig(trusted_proxies=["proxy.example"])
