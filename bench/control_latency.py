"""Control-loop figures for the default site against the simulated district (prints, asserts nothing).

- poll -> write latency: one poll job (every device read and stored) followed at once by one
  dispatch job (state read from the store, commands, every device written through the single
  write path with read-back and heartbeat; after the first cycle an unchanged setpoint in remote
  mode is renewed by its watchdog feed, see energy.control.dispatch). In the scheduled loop a dispatch waits up to one
  dispatch interval more for its turn; that wait is configuration, not work, and is not included.
- one 15-minute forecast-and-optimize cycle: LivePlanner.run (state read, bootstrap forecast,
  weather, warm HiGHS solve of the default 144-slot horizon, plan stored, release policy), after
  the model was built once (the build is reported separately).

    .venv/bin/python bench/control_latency.py [--cycles 20] [--plans 5] [--store sqlite|URL]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import statistics
import tempfile
import time
from pathlib import Path

from connectors.simulated import SimulatedDistrict
from energy.control.clock import WallClock
from energy.control.runtime import ControlRuntime, default_planner, reference_year_weather
from energy.control.timing import LoopTiming
from energy.site import load_site
from energy.store import Store
from energy.store.sites import sync_site


def _figures(name: str, values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"{name}: n={len(values)} median {statistics.median(values) * 1000:.0f} ms, "
        f"p95 {p95 * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"
    )


async def run(cycles: int, plans: int, url: str | None) -> None:
    site = load_site()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.from_url(url or f"sqlite:///{Path(tmp) / 'bench.sqlite'}")
        store.upgrade()
        sync_site(store, site)
        async with SimulatedDistrict(site, free_ports=True) as district:
            served = district.site
            timing = LoopTiming.for_site(served)
            timing = type(timing)(**{**timing.__dict__, "restart_hold_s": 0.0})
            runtime = ControlRuntime(served, store, clock=WallClock(), timing=timing)
            await runtime.lease_job()
            await runtime.poll_job()
            started = time.perf_counter()
            weather, _ = reference_year_weather(served)
            runtime.planner = default_planner(served, store, timing, weather)
            build = time.perf_counter() - started
            print(f"site {site.id}: {len(list(served.devices()))} devices, store {store.dialect}")
            print(f"dispatch model build (once per process): {build:.2f} s")
            plan_s = []
            for _ in range(plans):
                t0 = time.perf_counter()
                outcome = await runtime.plan_job()
                plan_s.append(time.perf_counter() - t0)
                if outcome.outcome != "ok":
                    print(f"  plan job {outcome.outcome}: {outcome.detail}")
                # the next cycle must not be skipped as "already planned in this period"
                await asyncio.to_thread(_forget_plans, store)
            poll_s, dispatch_s, total_s = [], [], []
            for _ in range(cycles):
                t0 = time.perf_counter()
                await runtime.poll_job()
                t1 = time.perf_counter()
                outcome = await runtime.dispatch_job()
                t2 = time.perf_counter()
                if outcome.outcome != "ok":
                    print(f"  dispatch {outcome.outcome}: {outcome.detail}")
                poll_s.append(t1 - t0)
                dispatch_s.append(t2 - t1)
                total_s.append(t2 - t0)
            report = runtime.last_dispatch
            outcomes = [o for v in report.outcomes.values() for o in v] if report else []
            feeds = sum(1 for o in outcomes if "heartbeat" in o.point or "watchdog" in o.point)
            writes = len(outcomes) - feeds
            if report is not None and report.failed:
                print(f"  last dispatch: failed {report.failed}")
            print(_figures("forecast-and-optimize cycle (warm)", plan_s))
            print(_figures("poll job (all devices, stored)", poll_s))
            print(
                _figures(
                    f"dispatch job (last cycle: {writes} setpoint writes, {feeds} watchdog feeds)",
                    dispatch_s,
                )
            )
            print(_figures("poll -> write latency (poll start to last write confirmed)", total_s))
            await runtime.stop("benchmark done")
        store.dispose()


def _forget_plans(store: Store) -> None:
    """Move the newest plan's creation back a period, so the planner plans again at once."""
    from sqlalchemy import func, select, update

    from energy.store.schema import plans

    with store.engine.begin() as conn:
        newest = conn.execute(select(func.max(plans.c.id))).scalar_one()
        created = conn.execute(select(plans.c.created_at).where(plans.c.id == newest)).scalar_one()
        conn.execute(
            update(plans)
            .where(plans.c.id == newest)
            .values(created_at=created - dt.timedelta(minutes=15))
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--plans", type=int, default=5)
    parser.add_argument("--store", default=None, help="SQLAlchemy URL (default: temporary SQLite)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(run(args.cycles, args.plans, args.store))


if __name__ == "__main__":
    main()
