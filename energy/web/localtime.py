"""UTC to the site's local time, at the edge only (tables, chart axes, page text).

Every label carries its UTC offset, so that the repeated hour of the autumn DST change (02:00-03:00
happens twice in Europe/Berlin) is never ambiguous: "25.10.2026 02:15 +02:00" is the first pass,
"25.10.2026 02:15 +01:00" the second.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

__all__ = ["format_local", "local_detail", "local_if_time", "local_labels", "offset_text"]


def offset_text(local: dt.datetime) -> str:
    """'+01:00' / '+02:00' for an aware datetime."""
    offset = local.utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}"


def format_local(
    value: dt.datetime | pd.Timestamp | None, tz: ZoneInfo, seconds: bool = False
) -> str:
    """'dd.mm.yyyy HH:MM[:SS] +hh:mm' in the zone; '-' for None. A naive value is an error."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return "-"
    if value.tzinfo is None:
        raise ValueError(f"format_local: expected an aware time, found naive {value!r}")
    local = value.astimezone(tz)
    pattern = "%d.%m.%Y %H:%M:%S" if seconds else "%d.%m.%Y %H:%M"
    return f"{local.strftime(pattern)} {offset_text(local)}"


def local_labels(times: Iterable[dt.datetime | pd.Timestamp], tz: ZoneInfo) -> list[str]:
    """Chart category labels for slot starts: unique and in time order across DST changes."""
    return [format_local(t, tz) for t in times]


def local_if_time(value: Any, tz: ZoneInfo, seconds: bool = False) -> str | None:
    """An ISO 8601 time with an offset (as stored in JSON details) in local time; None for
    anything else."""
    if not (isinstance(value, str) and len(value) >= 19 and value[10:11] == "T"):
        return None
    try:
        stamp = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return format_local(stamp, tz, seconds) if stamp.tzinfo is not None else None


def _detail_value(value: Any, tz: ZoneInfo, text: Callable[[str], str]) -> str:
    local = local_if_time(value, tz, seconds=True)
    if local is not None:
        return local
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str):
        return text(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _same(text: str) -> str:
    return text


def local_detail(
    detail: Any,
    tz: ZoneInfo,
    text: Callable[[str], str] = _same,
    name: Callable[[str], str] = _same,
) -> str:
    """An audit or alarm detail as 'key: value' pairs, ISO times in local time (an override's
    expiry reads as the local time it ends, not as a UTC stamp with microseconds); `text` and
    `name` show a text value and a key in the reader's language."""
    if not isinstance(detail, dict):
        return _detail_value(detail, tz, text)
    return "; ".join(
        f"{name(key)}: {_detail_value(value, tz, text)}" for key, value in detail.items()
    )
