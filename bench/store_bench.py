"""Store benchmark: write one year of 15-minute values for 100 series (3.5 million rows) and read one
series back for the year, on SQLite and on PostgreSQL. Prints figures; asserts nothing.

    .venv/bin/python bench/store_bench.py [--series 100] [--days 365] [--postgres-url URL]

PostgreSQL runs in a scratch schema that is dropped afterwards.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import create_engine, text

from energy.store import Store
from energy.store.measurements import read_series, write_measurements

SITE = "bench-site"


def _frame(n_series: int, days: int) -> pd.DataFrame:
    times = pd.date_range("2026-01-01", periods=96 * days, freq="15min", tz="UTC")
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "asset_id": np.repeat([f"asset-{i:03d}" for i in range(n_series)], len(times)),
            "quantity": "power_kw",
            "time": np.tile(times, n_series),
            "value": rng.normal(size=n_series * len(times)),
            "quality": 0,
            "unit": "kW",
        }
    )


def _run(label: str, store: Store, frame: pd.DataFrame, days: int, n_series: int) -> None:
    store.upgrade()
    start = time.perf_counter()
    write_measurements(store, SITE, frame)
    write_s = time.perf_counter() - start
    t0 = pd.Timestamp("2026-01-01", tz="UTC")
    t1 = t0 + pd.Timedelta(days=days)
    reads = []
    for i in range(7):
        start = time.perf_counter()
        result = read_series(store, SITE, f"asset-{(i * 7) % n_series:03d}", "power_kw", t0, t1)
        reads.append(time.perf_counter() - start)
    assert len(result) == 96 * days, len(result)
    print(
        f"{label:<11} write {len(frame):>10,d} rows in {write_s:6.2f} s = "
        f"{len(frame) / write_s:>10,.0f} rows/s | read one series ({len(result):,d} rows): "
        f"median {statistics.median(reads) * 1e3:6.1f} ms, min {min(reads) * 1e3:6.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument(
        "--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    frame = _frame(args.series, args.days)
    print(f"{args.series} series x {args.days} days of 15-minute values = {len(frame):,d} rows")
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.from_url(f"sqlite:///{Path(tmp) / 'bench.sqlite'}")
        _run("SQLite", store, frame, args.days, args.series)
        store.dispose()
    if args.skip_postgres:
        return
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.postgres_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        store = Store.from_url(
            args.postgres_url, connect_args={"options": f"-csearch_path={schema}"}
        )
        _run("PostgreSQL", store, frame, args.days, args.series)
        store.dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
