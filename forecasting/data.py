"""Training and evaluation data from files: meter CSV exports and the SimBench profiles.

Loaders return series on the 15-minute UTC slot grid. Frames of a site's history use the
platform's column names: target series (`<house>:load_kw`, `<house>:heat_demand_kw`,
`<house>.pv:pv_kw`) and the weather actuals (`temp_outdoor_c`, `ghi_w_per_m2`, `dni_w_per_m2`,
`dhi_w_per_m2`); the application reads them from the store (`energy.control.history`) or from the
simulated district (`energy.physics.profiles.district_profiles`).
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Literal

import pandas as pd

from energy.timegrid import SLOT, align_to_slots

__all__ = ["DataError", "read_meter_csv", "simbench_profile"]

log = logging.getLogger(__name__)


class DataError(ValueError):
    """Input data cannot be used as given (file, column, resolution, time zone)."""


def read_meter_csv(
    path: str | Path,
    column: str,
    timestamp_column: str | None = None,
    values: Literal["power", "energy"] = "power",
) -> pd.Series:
    """One series of a meter export on the 15-minute UTC grid.

    The file has a timestamp column (default: the first) in ISO 8601 with a UTC offset, marking
    interval starts, at 15-minute or hourly resolution. `values="power"`: average kW over the
    interval (hourly values are repeated on their quarter hours); `"energy"`: kWh per interval,
    converted to average kW. Slots the file does not cover stay NaN.
    """
    file = Path(path)
    try:
        raw = pd.read_csv(file)
    except (OSError, ValueError) as exc:
        raise DataError(f"{file}: cannot read CSV: {exc}") from exc
    time_col = timestamp_column or str(raw.columns[0])
    for needed in (time_col, column):
        if needed not in raw.columns:
            raise DataError(f"{file}: no column {needed!r}; found {list(raw.columns)}")
    text = raw[time_col].astype(str)
    naive = ~text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True)
    if naive.any():
        raise DataError(
            f"{file}:{time_col}: timestamp {text[naive].iloc[0]!r} has no UTC offset; "
            "expected ISO 8601 with offset, e.g. 2026-10-25T02:30:00+01:00"
        )
    index = pd.DatetimeIndex(pd.to_datetime(text, utc=True, format="ISO8601"), name="slot_start")
    series = pd.Series(pd.to_numeric(raw[column], errors="coerce").to_numpy(), index=index)
    if series.index.has_duplicates:
        first = series.index[series.index.duplicated()][0]
        raise DataError(f"{file}: duplicate timestamp {first.isoformat()}")
    series = series.sort_index()
    steps = pd.Series(series.index[1:] - series.index[:-1])
    step = steps.min() if len(steps) else pd.Timedelta(SLOT)
    if step not in (pd.Timedelta(minutes=15), pd.Timedelta(hours=1)):
        raise DataError(f"{file}: expected 15-minute or hourly values; smallest step is {step}")
    if values == "energy":
        series = series / (step / pd.Timedelta(hours=1))
    aligned = align_to_slots(series, "power")
    return aligned.rename(column)


SIMBENCH_NETWORK = "1-complete_data-mixed-all-1-sw"


def simbench_profile(
    column: str, file: str = "LoadProfile.csv", path: Path | None = None
) -> pd.Series:
    """One SimBench profile (a year, 2016, 15-minute, peak-normalised) on the UTC slot grid.

    Read from `path`, a profile file in SimBench's layout, else from the `simbench` package when
    it is installed (ODbL data; not a dependency of the platform: its dependency pandapower
    requires pandas < 3, so install it into an analyst's own environment). `file` is
    LoadProfile.csv (columns like `H0-A_pload`) or RESProfile.csv (`PV1`..`PV8`). The file's
    `time` is local German time with DST, `dd.mm.yyyy HH:MM`, the repeated October hour in order;
    it is converted to UTC.
    """
    if path is None:
        spec = importlib.util.find_spec("simbench")
        if spec is None or spec.origin is None:
            raise DataError("SimBench is not installed (pip install simbench) and no file given")
        path = Path(spec.origin).parent / "networks" / SIMBENCH_NETWORK / file
    try:
        raw = pd.read_csv(path, sep=";", usecols=["time", column])
    except ValueError as exc:
        raise DataError(f"{path}: no column {column!r} ({exc})") from exc
    local = pd.DatetimeIndex(pd.to_datetime(raw["time"], format="%d.%m.%Y %H:%M"))
    index = local.tz_localize("Europe/Berlin", ambiguous="infer").tz_convert("UTC")
    return pd.Series(
        raw[column].to_numpy(dtype=float), index=index.rename("slot_start"), name=column
    )
