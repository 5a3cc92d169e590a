"""Fixtures of the control-loop tests: fresh measurements in the store, a recording writer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from connectors.writer import WriteOutcome, WriteStatus
from energy.control.state import KEY_QUANTITY
from energy.quality import Quality
from energy.site import AssetKind, Site
from energy.store import Store
from energy.store.measurements import write_measurements


def measured_frame(
    site: Site,
    time: dt.datetime,
    quality: dict[str, Quality] | None = None,
    extra: dict[tuple[str, str], float] | None = None,
) -> pd.DataFrame:
    """Every device's key quantity (and heat pumps' 'on') at `time`, GOOD unless told."""
    rows = []
    for asset in site.devices():
        quantity = KEY_QUANTITY[asset.kind]
        value = {"soc_frac": 0.5, "tank_temp_c": 50.0, "power_kw": 1.0, "need_kwh": 5.0}[quantity]
        q = int((quality or {}).get(asset.id, Quality.GOOD))
        rows.append((asset.id, quantity, time, value, q))
        if asset.kind is AssetKind.HEAT_PUMP:
            rows.append((asset.id, "on", time, 0.0, q))
    for (asset_id, quantity), value in (extra or {}).items():
        rows.append((asset_id, quantity, time, value, int(Quality.GOOD)))
    frame = pd.DataFrame(rows, columns=["asset_id", "quantity", "time", "value", "quality"])
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The measurement spool (and anything else under the data directory) in the test's folder."""
    monkeypatch.setenv("KV_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture
def measure(store: Store, site: Site) -> Callable[..., None]:
    def write(time: dt.datetime, **kwargs: object) -> None:
        write_measurements(store, site.id, measured_frame(site, time, **kwargs))  # type: ignore[arg-type]

    return write


class RecordingWriter:
    """Stands in for SetpointWriter: records every write; `fail` maps asset id -> status."""

    def __init__(self) -> None:
        self.writes: list[
            tuple[str, str, float | bool, tuple[float | None, float | None] | None]
        ] = []
        self.fail: dict[str, WriteStatus] = {}
        self.feeds: list[str] = []

    async def write(
        self,
        asset_id: str,
        point: str,
        value: float | bool,
        *,
        limits: tuple[float | None, float | None] | None = None,
    ) -> WriteOutcome:
        self.writes.append((asset_id, point, value, limits))
        status = self.fail.get(asset_id, WriteStatus.OK)
        ok = status is WriteStatus.OK
        return WriteOutcome(
            asset_id,
            point,
            status,
            float(value),
            clamped=float(value),
            written=float(value) if ok else None,
            read_back=float(value) if ok else None,
            detail="" if ok else "device timed out",
        )

    async def feed_watchdog(self, asset_id: str) -> tuple[WriteOutcome, ...]:
        self.feeds.append(asset_id)
        return (WriteOutcome(asset_id, "heartbeat", WriteStatus.OK, 1.0, 1.0, 1.0, 1.0),)

    def points(self, asset_id: str) -> dict[str, float | bool]:
        return {p: v for a, p, v, _ in self.writes if a == asset_id}


@pytest.fixture
def writer() -> RecordingWriter:
    return RecordingWriter()
