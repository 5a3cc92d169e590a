"""A durable local spool for measurements the store could not take (store outage).

    spool = MeasurementSpool(Path("data/spool/klimaviertel"), max_bytes=512 * 2**20)
    spool.add(frame)                       # on disk before this returns
    spool.flush(store, site_id)            # oldest segment first; each one deleted once stored

Each polled frame that cannot be stored becomes one segment file, numbered in the order it was
polled (`000000000042.npz`: numpy arrays, no pickled objects). A segment is written to a
temporary name, synced and renamed, so a crash leaves either the whole segment or none of it. A
restarted process finds the segments its predecessor left and stores them first.

Order and duplicates: segments are stored oldest first and a segment is deleted only after the
transaction that stored it committed; a crash between the two stores the segment again, which
adds nothing because writing measurements ignores rows that exist already (same series and time).

Bounded: when the segments exceed `max_bytes`, the oldest are dropped (and counted, and logged
as errors): an outage long enough to fill the spool loses its oldest measurements, never the
newest state.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from energy.store.engine import Store
from energy.store.measurements import write_measurements

__all__ = ["MeasurementSpool", "read_segment"]

log = logging.getLogger(__name__)

_SUFFIX = ".npz"
_COLUMNS = ("asset_id", "quantity", "unit")


class MeasurementSpool:
    """Measurement frames waiting for the store, as numbered segment files in one directory."""

    def __init__(self, directory: Path, max_bytes: int = 512 * 2**20):
        self.directory = directory
        self.max_bytes = max_bytes
        #: rows dropped because the spool was full (since this process started)
        self.dropped_rows = 0
        self._next = self._last_number() + 1

    # -- inspection ---------------------------------------------------------------------------

    def segments(self) -> list[Path]:
        """Segment files, oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if p.name.endswith(_SUFFIX))

    @property
    def empty(self) -> bool:
        return not self.segments()

    @property
    def size_bytes(self) -> int:
        return sum(_size(p) for p in self.segments())

    def rows(self) -> int:
        """Rows waiting (reads every segment: for status and tests, not the hot path)."""
        total = 0
        for path in self.segments():
            try:
                with np.load(path, allow_pickle=False) as data:
                    total += len(data["time_us"])
            except (OSError, ValueError, KeyError):
                continue
        return total

    def _last_number(self) -> int:
        numbers = [int(p.name.removesuffix(_SUFFIX)) for p in self.segments()]
        return max(numbers, default=0)

    # -- writing ------------------------------------------------------------------------------

    def add(self, frame: pd.DataFrame) -> None:
        """Write one frame as the newest segment (durable when this returns)."""
        if frame.empty:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{self._next:012d}{_SUFFIX}"
        self._next += 1
        arrays = {c: frame[c].astype(str).to_numpy(dtype=str) for c in _COLUMNS if c in frame}
        times = frame["time"].dt.tz_convert("UTC").to_numpy(dtype="datetime64[us]")
        arrays["time_us"] = times.astype(np.int64)
        arrays["value"] = frame["value"].to_numpy(dtype=float)
        arrays["quality"] = frame["quality"].to_numpy(dtype=np.int64)
        temporary = path.with_name(path.name + ".tmp")
        with temporary.open("wb") as handle:
            np.savez_compressed(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        self._bound()

    def _bound(self) -> None:
        segments = self.segments()
        total = sum(_size(p) for p in segments)
        while total > self.max_bytes and len(segments) > 1:
            oldest = segments.pop(0)
            rows = _rows_of(oldest)
            total -= _size(oldest)
            oldest.unlink(missing_ok=True)
            self.dropped_rows += rows
            log.error(
                "measurement spool %s full (%d bytes > %d): dropped its oldest segment %s "
                "(%d rows)",
                self.directory,
                total,
                self.max_bytes,
                oldest.name,
                rows,
            )

    # -- draining -----------------------------------------------------------------------------

    def flush(self, store: Store, site_id: str) -> int:
        """Store every segment, oldest first; returns the rows stored. Raises the store's error
        at the first segment it cannot take (that segment and the newer ones stay)."""
        stored = 0
        for path in self.segments():
            try:
                frame = read_segment(path)
            except FileNotFoundError:  # another instance on this spool stored it meanwhile
                continue
            except (OSError, ValueError, KeyError) as exc:
                broken = path.with_name(path.name + ".unreadable")
                os.replace(path, broken)
                log.error(
                    "measurement spool: segment %s unreadable (%s); kept as %s", path, exc, broken
                )
                continue
            stored += write_measurements(store, site_id, frame)
            path.unlink(missing_ok=True)
        if stored:
            log.info("measurement spool %s: stored %d rows", self.directory, stored)
        return stored


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _rows_of(path: Path) -> int:
    try:
        with np.load(path, allow_pickle=False) as data:
            return len(data["time_us"])
    except (OSError, ValueError, KeyError):
        return 0


def read_segment(path: Path) -> pd.DataFrame:
    """One segment file as a measurement frame."""
    with np.load(path, allow_pickle=False) as data:
        columns = {c: data[c] for c in _COLUMNS if c in data}
        times = pd.to_datetime(data["time_us"].astype("datetime64[us]")).tz_localize("UTC")
        return pd.DataFrame(
            {**columns, "time": times, "value": data["value"], "quality": data["quality"]}
        )
