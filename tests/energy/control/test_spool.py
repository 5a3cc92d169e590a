"""The measurement spool: durable, ordered, bounded, and stored without duplicates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, func, select

from energy.control.spool import MeasurementSpool, read_segment
from energy.quality import Quality
from energy.site import Site
from energy.store import Store
from energy.store.measurements import read_series
from energy.store.schema import measurements

T0 = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)


def frame(start_s: int, n: int = 3, asset: str = "house-01.battery") -> pd.DataFrame:
    times = pd.to_datetime([T0 + dt.timedelta(seconds=start_s + i) for i in range(n)], utc=True)
    return pd.DataFrame(
        {
            "asset_id": asset,
            "quantity": "soc_frac",
            "unit": "",
            "time": times,
            "value": np.linspace(0.1, 0.9, n),
            "quality": int(Quality.GOOD),
        }
    )


def _count(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(measurements)).scalar_one())


names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20)


@settings(max_examples=50, deadline=None)
@given(
    assets=st.lists(names, min_size=1, max_size=5),
    values=st.lists(st.floats(allow_infinity=False) | st.just(float("nan")), min_size=1),
    offsets_us=st.lists(st.integers(0, 10**12), min_size=1),
)
def test_a_segment_reads_back_exactly_what_was_spooled(
    tmp_path_factory: pytest.TempPathFactory,
    assets: list[str],
    values: list[float],
    offsets_us: list[int],
) -> None:
    n = min(len(values), len(offsets_us))
    original = pd.DataFrame(
        {
            "asset_id": [assets[i % len(assets)] for i in range(n)],
            "quantity": "power_kw",
            "unit": "kW",
            "time": pd.to_datetime(
                [T0 + dt.timedelta(microseconds=o) for o in offsets_us[:n]], utc=True
            ),
            "value": values[:n],
            "quality": int(Quality.GOOD),
        }
    )
    spool = MeasurementSpool(tmp_path_factory.mktemp("spool"))
    spool.add(original)
    back = read_segment(spool.segments()[0])
    pd.testing.assert_frame_equal(
        back[list(original.columns)], original, check_dtype=False, check_exact=True
    )


def test_segments_survive_a_restart_and_are_stored_oldest_first_once(
    tmp_path: Path, sqlite_store: Store, site: Site
) -> None:
    spool = MeasurementSpool(tmp_path / "spool")
    spool.add(frame(0))
    spool.add(frame(3))
    again = MeasurementSpool(tmp_path / "spool")  # a new process finds them
    assert [p.name for p in again.segments()] == ["000000000001.npz", "000000000002.npz"]
    again.add(frame(6))
    assert again.segments()[-1].name == "000000000003.npz"  # numbering continues
    assert again.flush(sqlite_store, site.id) == 9
    assert again.empty
    series = read_series(
        sqlite_store, site.id, "house-01.battery", "soc_frac", T0, T0 + dt.timedelta(hours=1)
    )
    assert len(series) == 9
    assert series.index.is_monotonic_increasing
    # a crash after storing but before deleting stores the segment again: nothing is doubled
    spool.add(frame(0))
    spool.flush(sqlite_store, site.id)
    assert _count(sqlite_store) == 9


def test_a_failed_flush_keeps_the_segment_and_the_newer_ones(
    tmp_path: Path, sqlite_store: Store, site: Site
) -> None:
    spool = MeasurementSpool(tmp_path / "spool")
    spool.add(frame(0))
    spool.add(frame(3))
    healthy = sqlite_store.engine
    sqlite_store.engine = create_engine("sqlite:////nonexistent-directory/kv.sqlite")
    try:
        with pytest.raises(Exception, match="unable to open"):
            spool.flush(sqlite_store, site.id)
    finally:
        sqlite_store.engine.dispose()
        sqlite_store.engine = healthy
    assert len(spool.segments()) == 2
    assert spool.flush(sqlite_store, site.id) == 6


def test_the_spool_is_bounded_by_dropping_the_oldest(tmp_path: Path) -> None:
    spool = MeasurementSpool(tmp_path / "spool", max_bytes=1)
    spool.add(frame(0))
    spool.add(frame(3))
    assert [p.name for p in spool.segments()] == ["000000000002.npz"]
    assert spool.dropped_rows == 3


def test_an_unreadable_segment_is_set_aside_not_lost(
    tmp_path: Path, sqlite_store: Store, site: Site
) -> None:
    spool = MeasurementSpool(tmp_path / "spool")
    spool.add(frame(0))
    spool.segments()[0].write_bytes(b"not a segment")
    spool.add(frame(3))
    assert spool.flush(sqlite_store, site.id) == 3
    assert [p.name for p in (tmp_path / "spool").iterdir()] == ["000000000001.npz.unreadable"]
