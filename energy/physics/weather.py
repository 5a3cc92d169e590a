"""Weather of the simulated district: the DWD test reference year (TRY 2010) mapped onto a year.

The DWD test reference years ship inside demandlib (`demandlib/vdi/resources_weather/`). Each file
holds one typical year (365 days, no 29 February) of hourly values for one climate region; region 5
is Essen. File layout: 38 header lines, then whitespace-separated columns
`RG IS MM DD HH N WR WG t p x RF W B D IK A E IL`; HH 1..24 labels the hour in MEZ, a fixed UTC+1
without daylight saving. Used here: `t` air temperature [degC], `WG` wind speed [m/s], `B` direct
and `D` diffuse horizontal irradiance [W/m2] (hourly means).

Time reference of the irradiance: read as the hour *ending* at HH, the irradiance of every TRY 2010
region is centred about 28 minutes before solar noon, in every month (checked for all 15 regions;
the offset tracks the equation of time, so the clock is MEZ, not true solar time). Read as the hour
centred on HH ([HH - 30 min, HH + 30 min) MEZ) it is centred on solar noon and sunrise/sunset
line up with the sun. This module uses the centred reading (IRRADIANCE_INTERVAL_END_AFTER_LABEL);
temperature and wind are taken as readings at HH.

`load_try_weather` maps the typical year onto any calendar year (UTC, 15-minute slots):

- irradiance: each hourly mean is spread over its four quarter hours in proportion to the cosine of
  the sun's zenith at the quarter-hour midpoints, which keeps the hourly energy and puts zero into
  quarter hours before sunrise and after sunset;
- temperature and wind: readings at HH, linearly interpolated to the quarter-hour midpoints (so a
  slot value approximates the slot average);
- 29 February of a leap year repeats 28 February; the year wraps around (the last UTC hour of a
  year takes the first hour of the typical year), so every calendar year is complete.

DNI is derived from GHI and DHI with the sun position of the TRY station (`pvlib.irradiance.dni`).
"""

from __future__ import annotations

import functools
import logging
import re
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pvlib
from pandas.errors import Pandas4Warning

__all__ = ["TryStation", "TypicalYear", "load_try_weather", "read_try_file", "try_file_path"]

logger = logging.getLogger(__name__)

HEADER_LINES = 38
COLUMNS = ["RG", "IS", "MM", "DD", "HH", "N", "WR", "WG", "t", "p", "x", "RF", "W", "B", "D",
           "IK", "A", "E", "IL"]  # fmt: skip
HOURS_PER_TYPICAL_YEAR = 365 * 24
#: MEZ (the TRY's clock) is UTC+1 all year.
MEZ_OFFSET = pd.Timedelta(hours=1)
SLOT_FREQ = "15min"
SLOTS_PER_HOUR = 4
#: The irradiance labelled HH covers [HH - 1 h + this, HH + this) MEZ (see the module docstring).
IRRADIANCE_INTERVAL_END_AFTER_LABEL = pd.Timedelta(minutes=30)
_LOCATION = re.compile(
    r"Lage:\s*(\d+)\D+(\d+)'([NS]).*?(\d+)\D+(\d+)'([OEW]).*?(-?\d+)\s*Meter", re.IGNORECASE
)


@dataclass(frozen=True)
class TryStation:
    """Where a test reference year was observed."""

    name: str
    latitude_deg: float
    longitude_deg: float
    altitude_m: float


@dataclass(frozen=True)
class TypicalYear:
    """One test reference year: its station and its 8760 hourly rows in file order."""

    region: int
    station: TryStation
    hourly: pd.DataFrame


def try_file_path(region: int) -> Path:
    """Path of the TRY 2010 file of a DWD climate region (1..15) inside the demandlib package."""
    if not 1 <= region <= 15:
        raise ValueError(f"TRY region must be 1..15 (DWD climate regions); found {region}")
    folder = resources.files("demandlib") / "vdi" / "resources_weather"
    return Path(str(folder / f"TRY2010_{region:02d}_Jahr.dat"))


def _parse_station(header: list[str], path: Path) -> TryStation:
    name = next(
        (
            line.split(":", 1)[1].split("WMO")[0].strip()
            for line in header
            if line.startswith("Station:")
        ),
        path.stem,
    )
    for line in header:
        match = _LOCATION.search(line)
        if match:
            lat = int(match[1]) + int(match[2]) / 60.0
            lon = int(match[4]) + int(match[5]) / 60.0
            if match[3].upper() == "S":
                lat = -lat
            if match[6].upper() == "W":
                lon = -lon
            return TryStation(name, lat, lon, float(match[7]))
    raise ValueError(
        f"{path}: header has no 'Lage:' line with latitude/longitude; "
        "expected e.g. \"Lage: 51°24'N <- B.   6°58'O <- L.   152 Meter\""
    )


def read_try_file(path: str | Path, region: int = 0) -> TypicalYear:
    """Parse a DWD TRY 2010 '.dat' file; checks that it holds one complete 365-day year."""
    file = Path(path)
    with file.open(encoding="utf-8", errors="replace") as handle:
        header = [next(handle) for _ in range(HEADER_LINES)]
    if not header[-1].startswith("***"):
        raise ValueError(
            f"{file}: line {HEADER_LINES} should be the '***' end of the header; "
            f"found {header[-1].strip()!r}"
        )
    hourly = pd.read_csv(file, sep=r"\s+", skiprows=HEADER_LINES, header=None, names=COLUMNS)
    if len(hourly) != HOURS_PER_TYPICAL_YEAR:
        raise ValueError(
            f"{file}: expected {HOURS_PER_TYPICAL_YEAR} hourly rows (365 days); found {len(hourly)}"
        )
    expected_hours = np.tile(np.arange(1, 25), 365)
    if not np.array_equal(hourly["HH"].to_numpy(), expected_hours):
        raise ValueError(f"{file}: column HH must run 1..24 on every day in order")
    for column in ("t", "WG", "B", "D"):
        if hourly[column].isna().any():
            raise ValueError(f"{file}: column {column} has missing values")
    return TypicalYear(region, _parse_station(header, file), hourly)


@functools.lru_cache(maxsize=15)
def _typical_year(region: int) -> TypicalYear:
    return read_try_file(try_file_path(region), region)


def _typical_rows(hour_starts_utc: pd.DatetimeIndex) -> np.ndarray:
    """Row of the typical year (0..8759) that describes each UTC hour [t, t + 1 h)."""
    mez = hour_starts_utc + MEZ_OFFSET
    day = np.asarray(mez.day_of_year, dtype=np.int64) - 1
    leap = np.asarray(mez.is_leap_year, dtype=bool)
    feb_29 = 59
    day = np.where(leap & (day >= feb_29), np.where(day == feb_29, feb_29 - 1, day - 1), day)
    return (day * 24 + np.asarray(mez.hour, dtype=np.int64)) % HOURS_PER_TYPICAL_YEAR


def _irradiance_slots(
    typical: TypicalYear, station: TryStation, start: pd.Timestamp, end: pd.Timestamp
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Direct and diffuse horizontal irradiance and the sun's zenith on the slots [start, end).

    Each hourly mean is spread over the four quarter hours of its interval by cos(zenith); the
    slots are extended to whole intervals at both ends, then trimmed.
    """
    lead = pd.Timedelta(hours=1) - IRRADIANCE_INTERVAL_END_AFTER_LABEL
    lag = IRRADIANCE_INTERVAL_END_AFTER_LABEL
    slots = pd.date_range(start - lag, end + lead, freq=SLOT_FREQ, inclusive="left")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Pandas4Warning)  # pvlib's use of DatetimeIndex.dayofyear
        sun = pvlib.solarposition.get_solarposition(
            slots + pd.Timedelta(minutes=7.5),
            station.latitude_deg,
            station.longitude_deg,
            altitude=station.altitude_m,
        )
    zenith = sun["apparent_zenith"].to_numpy()
    # interval k starts at slots[4k] (UTC) and carries the MEZ label slots[4k] + 1 h + lag; that is
    # the label _typical_rows gives the UTC hour starting at slots[4k] + lag - 1 h (label h + 2 h)
    rows = _typical_rows(slots[::SLOTS_PER_HOUR] + lag - pd.Timedelta(hours=1))
    weight = np.maximum(np.cos(np.radians(zenith)), 0.0).reshape(-1, SLOTS_PER_HOUR)
    total = weight.sum(axis=1, keepdims=True)
    share = np.where(total > 0, weight / np.where(total > 0, total, 1.0), 1.0 / SLOTS_PER_HOUR)
    share = share.reshape(-1) * SLOTS_PER_HOUR
    direct = np.repeat(typical.hourly["B"].to_numpy(float)[rows], SLOTS_PER_HOUR) * share
    diffuse = np.repeat(typical.hourly["D"].to_numpy(float)[rows], SLOTS_PER_HOUR) * share
    first = lag // pd.Timedelta(SLOT_FREQ)
    keep = slice(first, first + (end - start) // pd.Timedelta(SLOT_FREQ))
    return direct[keep], diffuse[keep], zenith[keep]


@functools.lru_cache(maxsize=8)
def _year_frame(region: int, year: int) -> pd.DataFrame:
    typical = _typical_year(region)
    station = typical.station
    start = pd.Timestamp(year=year, month=1, day=1, tz="UTC")
    end = pd.Timestamp(year=year + 1, month=1, day=1, tz="UTC")
    hours = pd.date_range(start, end, freq="1h", inclusive="left")
    rows = _typical_rows(hours)
    slots = pd.date_range(start, end, freq=SLOT_FREQ, inclusive="left", name="slot_start")
    mid = slots + pd.Timedelta(minutes=7.5)
    direct, diffuse, zenith = _irradiance_slots(typical, station, start, end)
    ghi = np.maximum(direct + diffuse, 0.0)
    dhi = np.clip(diffuse, 0.0, ghi)
    dni = pvlib.irradiance.dni(ghi, dhi, zenith)
    dni = np.nan_to_num(np.asarray(dni, dtype=float), nan=0.0).clip(min=0.0)

    # readings at the labels HH (hour ends of the UTC hours), interpolated to quarter-hour midpoints
    # (the reading one hour before the year comes from the previous typical row, wrapping around)
    previous = (rows[0] - 1) % HOURS_PER_TYPICAL_YEAR
    point_rows = np.concatenate([[previous], rows])
    point_s = np.concatenate(
        [
            [(start - hours[0]).total_seconds()],
            ((hours - start) / pd.Timedelta(seconds=1)).to_numpy() + 3600.0,
        ]
    )
    mid_s = ((mid - start) / pd.Timedelta(seconds=1)).to_numpy()

    def interpolate(column: str) -> np.ndarray:
        return np.interp(mid_s, point_s, typical.hourly[column].to_numpy(float)[point_rows])

    frame = pd.DataFrame(
        {
            "temp_outdoor_c": interpolate("t"),
            "ghi_w_per_m2": ghi,
            "dhi_w_per_m2": dhi,
            "dni_w_per_m2": dni,
            "wind_speed_m_per_s": interpolate("WG").clip(min=0.0),
        },
        index=slots,
    )
    frame.attrs["source"] = f"DWD TRY 2010 region {region} ({station.name})"
    logger.debug("mapped TRY region %d onto %d: %d slots", region, year, len(frame))
    return frame


def load_try_weather(region: int, year: int) -> pd.DataFrame:
    """A full UTC calendar year of weather from the DWD test reference year of `region`.

    Returns 15-minute slots [year-01-01 00:00 UTC, next year) labelled by slot start, values being
    slot averages: temp_outdoor_c [degC], ghi/dhi/dni_w_per_m2 [W/m2], wind_speed_m_per_s [m/s].
    The result is a fresh copy (the expensive mapping is cached per region and year).
    """
    frame = _year_frame(region, year)
    copy = frame.copy()
    copy.attrs = dict(frame.attrs)
    return copy
