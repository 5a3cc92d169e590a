"""Store outages under `kv run` (the platform in this process): rows polled during the outage and
rows in the store afterwards, the spool's size per poll (prints, asserts nothing).

PostgreSQL: a private cluster (Debian's binaries) stopped for the outage and started again.
SQLite: the database files made immutable (chattr, as root) for the outage.

    .venv/bin/python bench/store_outage.py [--backend postgresql|sqlite] [--speed 1]
        [--outage-s 30]     # site seconds
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from energy.control.platform import PlatformOptions, run_platform
from energy.control.runtime import ControlRuntime
from energy.site import load_site
from energy.store import Store
from energy.store.schema import measurements
from tests.energy.control.pg_cluster import PrivateCluster, postgres_binaries

START = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)


async def _until(condition, timeout_s: float) -> bool:  # type: ignore[no-untyped-def]
    for _ in range(int(timeout_s / 0.1)):
        if condition():
            return True
        await asyncio.sleep(0.1)
    return bool(condition())


async def scenario(store: Store, speed: float, outage_s: float, begin, end) -> dict[str, float]:  # type: ignore[no-untyped-def]
    site = load_site()
    started: list[ControlRuntime] = []
    produced: list[pd.DataFrame] = []
    sizes: list[float] = []
    stop = asyncio.Event()
    options = PlatformOptions(
        speed=speed,
        start=START,
        web=False,
        free_ports=True,
        echo=lambda _: None,
        on_started=started.append,
        status_every_s=1.0,
    )
    task = asyncio.create_task(run_platform(site, store, options, stop))
    await _until(lambda: bool(started), 180)
    runtime = started[0]
    runtime.poll_observers.append(produced.append)
    await _until(lambda: runtime.last_poll is not None, 60)
    t0 = runtime.clock.now()
    await begin()
    await asyncio.sleep(outage_s / speed)
    segments = runtime.spool.segments()
    if segments:
        sizes.append(runtime.spool.size_bytes / len(segments))
    alive = not task.done()
    t1 = runtime.clock.now()
    await end()
    await _until(lambda: runtime.spool.empty and runtime.runner.outage is None, 120)
    stop.set()
    await asyncio.wait_for(task, 120)
    rows = pd.concat(produced).drop_duplicates(["asset_id", "quantity", "time"])
    window = (rows["time"] >= pd.Timestamp(t0)) & (rows["time"] < pd.Timestamp(t1))
    with store.engine.connect() as conn:
        stored = conn.execute(
            select(func.count())
            .select_from(measurements)
            .where(measurements.c.time >= t0, measurements.c.time < t1)
        ).scalar_one()
    return {
        "alive_during_outage": float(alive),
        "produced": float(window.sum()),
        "stored": float(stored),
        "segments": float(len(segments)),
        "bytes_per_segment": sizes[0] if sizes else 0.0,
        "rows_per_poll": float(len(produced[-1])) if produced else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--outage-s", type=float, default=30.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    os.environ.setdefault("KV_SECRET_KEY", "b" * 40)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["KV_DATA_DIR"] = tmp
        if args.backend == "postgresql":
            binaries = postgres_binaries()
            assert binaries is not None, "no PostgreSQL binaries"
            cluster = PrivateCluster(binaries)
            cluster.init()
            cluster.start()
            store = Store.from_url(cluster.url)
            try:
                figures = asyncio.run(
                    scenario(
                        store,
                        args.speed,
                        args.outage_s,
                        lambda: asyncio.to_thread(cluster.stop),
                        lambda: asyncio.to_thread(cluster.start),
                    )
                )
            finally:
                store.dispose()
                cluster.close()
        else:
            database = Path(tmp) / "kv.sqlite"
            store = Store.from_url(f"sqlite:///{database}")
            files = [database, Path(f"{database}-wal")]

            def freeze(on: bool) -> None:
                for path in files:
                    if path.exists():
                        subprocess.run(["chattr", "+i" if on else "-i", str(path)], check=True)
                store.engine.dispose()

            async def begin() -> None:
                with store.engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                freeze(True)

            async def end() -> None:
                freeze(False)

            try:
                figures = asyncio.run(scenario(store, args.speed, args.outage_s, begin, end))
            finally:
                freeze(False)
                store.dispose()
    share = figures["stored"] / figures["produced"] if figures["produced"] else float("nan")
    print(
        f"{args.backend}, outage {args.outage_s:g} site s at speed {args.speed:g}: "
        f"survived {bool(figures['alive_during_outage'])}; rows polled in the outage "
        f"{figures['produced']:.0f}, stored afterwards {figures['stored']:.0f} ({share:.2%}); "
        f"{figures['segments']:.0f} spool segments, {figures['bytes_per_segment']:.0f} bytes "
        f"each ({figures['rows_per_poll']:.0f} rows per poll)"
    )


if __name__ == "__main__":
    main()
