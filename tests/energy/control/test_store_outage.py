"""`kv run` (the platform in this process) through a store outage: it survives, keeps polling,
spools what it polls, and stores at least 99.5 % of it once the store is back.

PostgreSQL: a private cluster the test starts, stops for the outage and starts again (30 s at
real time; 10 minutes on the accelerated clock, --speed 60). SQLite: the database files made
immutable for 30 simulated seconds (chattr as root, whom file modes do not stop; chmod
otherwise) and the connection pool recycled, so every write fails as on a read-only file.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pandas as pd
import pytest
from sqlalchemy import func, select

from energy.control.platform import PlatformOptions, run_platform
from energy.control.runtime import ControlRuntime
from energy.site import Site
from energy.store import Store
from energy.store.alarms import list_alarms
from energy.store.audit import read_audit
from energy.store.schema import measurements
from energy.store.users import create_token
from tests.energy.control.pg_cluster import PrivateCluster, postgres_binaries
from tests.ports import free_port

pytestmark = pytest.mark.slow

START = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)


async def _until(condition: Callable[[], bool], timeout_s: float) -> bool:
    for _ in range(int(timeout_s / 0.1)):
        if condition():
            return True
        await asyncio.sleep(0.1)
    return condition()


def _stored_between(store: Store, start: dt.datetime, end: dt.datetime) -> int:
    with store.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(measurements)
                .where(measurements.c.time >= start, measurements.c.time < end)
            ).scalar_one()
        )


def _produced_between(frames: list[pd.DataFrame], start: dt.datetime, end: dt.datetime) -> int:
    rows = pd.concat(frames, ignore_index=True).drop_duplicates(["asset_id", "quantity", "time"])
    times = rows["time"]
    return int(((times >= pd.Timestamp(start)) & (times < pd.Timestamp(end))).sum())


async def _through_outage(
    site: Site,
    store: Store,
    speed: float,
    outage_site_s: float,
    begin: Callable[[], Awaitable[None]],
    end: Callable[[], Awaitable[None]],
) -> tuple[int, int, int]:
    """Run the platform, take the store away for outage_site_s, bring it back; returns the rows
    produced and stored in the outage and the status code of a page during the outage."""
    started: list[ControlRuntime] = []
    produced: list[pd.DataFrame] = []
    port = free_port()
    options = PlatformOptions(
        speed=speed,
        start=START,
        port=port,
        free_ports=True,
        status_every_s=0.5,
        echo=lambda _: None,
        on_started=started.append,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_platform(site, store, options, stop))
    try:
        assert await _until(lambda: bool(started) or task.done(), 120), "the platform did not start"
        runtime = started[0]
        runtime.poll_observers.append(produced.append)
        assert await _until(lambda: runtime.last_poll is not None, 60)
        token, _ = await asyncio.to_thread(
            create_token, store, "admin", "outage-test", "test", runtime.clock.now()
        )
        outage_start = runtime.clock.now()
        await begin()
        await asyncio.sleep(outage_site_s / speed)
        async with httpx.AsyncClient() as client:
            page = await client.get(
                f"http://127.0.0.1:{port}/api/status",
                headers={"Authorization": f"Bearer {token}"},
            )
        assert "store unavailable" in page.text, page.text
        assert not task.done(), "the platform died in the outage"
        assert runtime.runner.outage is not None
        assert not runtime.spool.empty
        outage_end = runtime.clock.now()
        await end()
        recovered = await _until(lambda: runtime.spool.empty and runtime.runner.outage is None, 60)
        assert recovered, runtime.outage_note()
        assert not task.done()
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
    produced_rows = _produced_between(produced, outage_start, outage_end)
    stored_rows = await asyncio.to_thread(_stored_between, store, outage_start, outage_end)
    return produced_rows, stored_rows, page.status_code


def _assert_recorded(store: Store, site: Site) -> None:
    codes = {a["code"] for a in list_alarms(store, site.id)}
    assert "store_unavailable" in codes
    actions = {e["action"] for e in read_audit(store, limit=5000)}
    assert {"store.outage", "control.stop"} <= actions


@pytest.fixture
def cluster() -> PrivateCluster:
    binaries = postgres_binaries()
    if binaries is None:
        pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql")
    instance = PrivateCluster(binaries)
    instance.init()
    instance.start()
    yield instance  # type: ignore[misc]
    instance.close()


@pytest.mark.parametrize(
    ("speed", "outage_site_s"),
    [pytest.param(1.0, 30.0, id="30s-real-time"), pytest.param(60.0, 600.0, id="10min-speed-60")],
)
def test_kv_run_survives_postgres_stopped(
    cluster: PrivateCluster, site: Site, speed: float, outage_site_s: float
) -> None:
    store = Store.from_url(cluster.url)

    async def scenario() -> tuple[int, int, int]:
        return await _through_outage(
            site,
            store,
            speed,
            outage_site_s,
            lambda: asyncio.to_thread(cluster.stop),
            lambda: asyncio.to_thread(cluster.start),
        )

    produced, stored, status = asyncio.run(scenario())
    assert produced > 0
    assert stored >= 0.995 * produced, f"{stored} of {produced} rows stored"
    assert status == 503  # the pages say the store is unavailable instead of failing
    _assert_recorded(store, site)
    store.dispose()


def _freeze(paths: list[Path], frozen: bool) -> None:
    for path in paths:
        if not path.exists():
            continue
        if os.geteuid() == 0:
            subprocess.run(["chattr", "+i" if frozen else "-i", str(path)], check=True)
        else:
            path.chmod(0o444 if frozen else 0o644)


def test_kv_run_survives_a_read_only_sqlite_file(tmp_path: Path, site: Site) -> None:
    database = tmp_path / "kv.sqlite"
    store = Store.from_url(f"sqlite:///{database}")
    # not the -shm file: SQLite maps it into memory, and a frozen one ends the process (SIGBUS)
    files = [database, tmp_path / "kv.sqlite-wal"]

    async def read_only() -> None:
        with store.engine.connect() as conn:  # everything into the database file first
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        _freeze(files, True)
        store.engine.dispose()  # connections opened from now on meet the read-only files

    async def writable() -> None:
        _freeze(files, False)
        store.engine.dispose()

    async def scenario() -> tuple[int, int, int]:
        try:
            return await _through_outage(site, store, 10.0, 30.0, read_only, writable)
        finally:
            _freeze(files, False)

    produced, stored, status = asyncio.run(scenario())
    assert produced > 0
    assert stored >= 0.995 * produced, f"{stored} of {produced} rows stored"
    assert status == 200  # reads still work: the status shows the outage as its first light
    _assert_recorded(store, site)
    store.dispose()
