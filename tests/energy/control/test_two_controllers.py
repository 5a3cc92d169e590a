"""Two controller instances against one PostgreSQL store: only the lease holder controls; the
other stands by and takes over when the lease expires, after its restart hold."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading

import pytest
from sqlalchemy import select
from test_faults import T0, WATCHDOG_S, controlling, cycles, district_of, modes, runtime, wait_for

from energy.control.clock import ManualClock
from energy.site import Site
from energy.store import Store
from energy.store.audit import read_audit
from energy.store.leases import lease_holder, try_acquire_lease
from energy.store.schema import setpoint_writes
from energy.store.sites import sync_site

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_exactly_one_of_many_simultaneous_claims_wins(postgres_store: Store, site: Site) -> None:
    postgres_store.upgrade()
    sync_site(postgres_store, site)
    barrier = threading.Barrier(6)
    won: list[str] = []

    def claim(name: str) -> None:
        barrier.wait()
        if try_acquire_lease(postgres_store, site.id, name, 30.0, T0):
            won.append(name)

    threads = [threading.Thread(target=claim, args=(f"c{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    assert lease_holder(postgres_store, site.id, T0) == won[0]


def test_the_standby_takes_over_a_dead_leader(postgres_store: Store, site: Site) -> None:
    store = postgres_store
    store.upgrade()

    async def scenario() -> None:
        async with district_of(site) as district:
            clock = ManualClock(T0)
            leader = runtime(district, store, clock, instance="leader")
            standby = runtime(
                district, store, clock, instance="standby", restart_hold_s=WATCHDOG_S * 5
            )
            await controlling(leader, clock)
            assert (await standby.lease_job()).outcome == "skipped"
            assert (await standby.dispatch_job()).detail == "standby: not the lease holder"
            assert (await standby.poll_job()).outcome == "skipped"
            assert modes(district)["house-01.battery"] == "remote"
            # the leader dies (no release, no lease given up); its devices revert on watchdogs
            await leader.poller.close()
            assert await wait_for(lambda: set(modes(district).values()) == {"local"})
            clock.advance(leader.timing.lease_ttl_s + 1)
            assert (await standby.lease_job()).outcome == "ok"
            taken_over = clock.now()
            await cycles(standby, clock, 2)  # restart hold: state read, nothing written
            clock.advance(WATCHDOG_S * 5)
            assert (await standby.plan_job()).outcome in ("ok", "skipped")
            await cycles(standby, clock, 2)
            assert modes(district)["house-01.battery"] == "remote"
            # the old leader, were it to wake up, may not write: its lease is gone
            assert (await leader.dispatch_job()).outcome == "skipped"
            assert (await leader.lease_job()).outcome == "skipped"
            await standby.stop("test over")
            await leader.writer.close()
        with store.engine.connect() as conn:
            rows = conn.execute(
                select(setpoint_writes.c.actor, setpoint_writes.c.time).where(
                    setpoint_writes.c.time >= taken_over
                )
            ).all()
        actors = {r.actor for r in rows}
        assert actors == {"system:dispatch:standby"}
        first_write = min(r.time for r in rows)
        assert first_write >= taken_over + dt.timedelta(seconds=WATCHDOG_S * 5)
        acquired = [e for e in read_audit(store, limit=500) if e["action"] == "lease.acquire"]
        assert {e["actor"] for e in acquired} == {
            "system:control:leader",
            "system:control:standby",
        }

    asyncio.run(scenario())
