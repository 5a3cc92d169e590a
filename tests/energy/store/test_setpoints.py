"""Setpoint write log: recorded attempts come back newest first; only confirmed writes count."""

from __future__ import annotations

import datetime as dt

import pytest

from energy.store import Store
from energy.store.setpoints import (
    SetpointWriteRecord,
    last_successful_write,
    read_setpoint_writes,
    record_setpoint_write,
)

T0 = dt.datetime(2026, 11, 24, 6, 0, tzinfo=dt.UTC)


def _rec(minutes: int, outcome: str, written: float | None, point: str = "power_setpoint_kw"):
    return SetpointWriteRecord(
        time=T0 + dt.timedelta(minutes=minutes),
        site_id="klimaviertel-sodingen",
        asset_id="house-01.battery",
        point=point,
        requested=written,
        clamped=written,
        written=written,
        read_back=written,
        outcome=outcome,
        detail="",
        actor="system:test",
    )


def test_records_round_trip_newest_first(store: Store) -> None:
    for minutes, outcome, value in [(0, "ok", 1.0), (1, "mismatch", 2.0), (2, "clamped", 3.0)]:
        record_setpoint_write(store, _rec(minutes, outcome, value))
    rows = read_setpoint_writes(store, "klimaviertel-sodingen", asset_id="house-01.battery")
    assert [r.outcome for r in rows] == ["clamped", "mismatch", "ok"]
    assert rows[0].time == T0 + dt.timedelta(minutes=2)
    assert rows[0].time.tzinfo is not None
    assert rows[-1].written == 1.0


def test_last_successful_write_skips_failed_attempts_and_other_points(store: Store) -> None:
    record_setpoint_write(store, _rec(0, "ok", 1.5))
    record_setpoint_write(store, _rec(1, "device_error", None))
    record_setpoint_write(store, _rec(2, "mismatch", 4.0))
    record_setpoint_write(store, _rec(3, "ok", 9.0, point="other_point"))
    last = last_successful_write(
        store, "klimaviertel-sodingen", "house-01.battery", "power_setpoint_kw"
    )
    assert last is not None
    assert last.written == 1.5
    assert last.time == T0


def test_no_successful_write_is_none(store: Store) -> None:
    record_setpoint_write(store, _rec(0, "refused_not_writable", None))
    assert (
        last_successful_write(
            store, "klimaviertel-sodingen", "house-01.battery", "power_setpoint_kw"
        )
        is None
    )


def test_naive_time_is_refused(sqlite_store: Store) -> None:
    naive = SetpointWriteRecord(**{**_rec(0, "ok", 1.0).__dict__, "time": dt.datetime(2026, 1, 1)})
    with pytest.raises(ValueError, match="aware"):
        record_setpoint_write(sqlite_store, naive)
