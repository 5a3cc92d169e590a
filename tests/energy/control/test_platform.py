"""`kv run` and the platform it starts: where to look, the first account, a clean stop."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from energy.cli.main import app
from energy.control.platform import PlatformOptions, bootstrap_admin, run_platform, web_lines
from energy.site import Site
from energy.store import Store
from energy.store.audit import read_audit
from energy.store.leases import lease_holder
from energy.store.schema import setpoint_writes
from energy.store.users import authenticate, create_token, list_users
from tests.energy.web.web_support import scrape

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_first_admin_is_created_once(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KV_ADMIN_PASSWORD", raising=False)
    created = bootstrap_admin(sqlite_store, NOW)
    assert created is not None
    name, password = created
    assert password is not None
    assert authenticate(sqlite_store, name, password) is not None
    assert bootstrap_admin(sqlite_store, NOW) is None  # never again
    assert [e for e in read_audit(sqlite_store) if e["action"] == "user.add"]


def test_the_admin_password_may_come_from_the_environment(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KV_ADMIN_PASSWORD", "a-long-enough-secret")
    assert bootstrap_admin(sqlite_store, NOW) == ("admin", None)
    assert authenticate(sqlite_store, "admin", "a-long-enough-secret") is not None


@pytest.mark.slow
def test_the_platform_runs_accelerated_and_stops_cleanly(
    tmp_path: Path, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KV_ADMIN_PASSWORD", raising=False)
    monkeypatch.setenv("KV_SECRET_KEY", "x" * 40)
    store = Store.from_url(f"sqlite:///{tmp_path / 'kv.sqlite'}")
    lines: list[str] = []
    port = _free_port()
    options = PlatformOptions(
        speed=120.0, port=port, free_ports=True, status_every_s=1.0, echo=lines.append
    )

    async def scenario() -> int:
        stop = asyncio.Event()
        task = asyncio.create_task(run_platform(site, store, options, stop))
        for _ in range(200):
            await asyncio.sleep(0.1)
            if any("is running" in line for line in lines):
                break
        await asyncio.sleep(4.0)  # a few simulated minutes: hold, plan, dispatch
        token, _ = create_token(store, "admin", "prometheus", "test", dt.datetime.now(dt.UTC))
        async with httpx.AsyncClient() as client:
            health = await client.get(f"http://127.0.0.1:{port}/health")
            metrics.append(
                await client.get(
                    f"http://127.0.0.1:{port}/metrics",
                    headers={"Authorization": f"Bearer {token}"},
                )
            )
        stop.set()
        await asyncio.wait_for(task, 60)
        return health.status_code

    metrics: list[httpx.Response] = []
    assert asyncio.run(scenario()) == 200
    assert metrics[0].status_code == 200
    samples = scrape(metrics[0].text)
    assert samples[("kv_store_up", ())] == 1.0
    assert samples[("kv_devices", (("state", "up"),))] > 0  # the simulated district answers
    for job in ("poll", "dispatch"):
        runs = samples[("kv_job_duration_seconds_count", (("job", job), ("outcome", "ok")))]
        assert runs >= 1
        assert samples[("kv_job_last_outcome", (("job", job), ("outcome", "ok")))] == 1.0
        assert samples[("kv_job_last_duration_seconds", (("job", job),))] >= 0.0
    assert ("kv_job_last_run_age_seconds", (("job", "plan"),)) in samples
    where = "\n".join(lines)
    assert f"http://127.0.0.1:{port}/overview" in where
    assert "first account: admin /" in where
    assert "simulated, 30 Modbus TCP devices" in where
    assert lines[-1].startswith("stopped")
    assert [u.name for u in list_users(store)] == ["admin"]
    assert lease_holder(store, site.id, dt.datetime.now(dt.UTC) + dt.timedelta(days=400)) is None
    stop = next(e for e in read_audit(store, limit=2000) if e["action"] == "control.stop")
    assert stop["detail"]["release_failed"] == {}
    with store.engine.connect() as conn:
        releases = conn.execute(
            select(setpoint_writes.c.asset_id).where(
                setpoint_writes.c.point.in_(["control_mode", "remote_enable", "WMaxLim_Ena"]),
                setpoint_writes.c.outcome == "ok",
            )
        ).all()
    assert {"house-01.battery", "house-03.battery", "house-07.hp", "carport-ev"} <= {
        r.asset_id for r in releases
    }
    store.dispose()


def test_kv_run_refuses_speed_without_the_simulator() -> None:
    result = CliRunner().invoke(app, ["run", "--no-simulator", "--speed", "10"])
    assert result.exit_code == 2
    assert "need the simulated district" in result.output


def test_kv_run_has_help() -> None:
    result = CliRunner().invoke(app, ["run", "--help"])
    assert result.exit_code == 0
    assert "--speed" in result.output


def test_the_start_banner_points_at_the_overview() -> None:
    """The console's landing page is the district overview, not the status page."""
    lines = web_lines("127.0.0.1", 8080)
    assert lines[0].endswith("http://127.0.0.1:8080/overview")
    assert not any(line.endswith("/status") for line in lines)
