"""UTC to the site's local time, at the edge only (tables, chart axes, page text).

Every label carries its UTC offset, so that the repeated hour of the autumn DST change (02:00-03:00
happens twice in Europe/Berlin) is never ambiguous: "25.10.2026 02:15 +02:00" is the first pass,
"25.10.2026 02:15 +01:00" the second.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from zoneinfo import ZoneInfo

import pandas as pd

__all__ = ["format_local", "local_labels", "offset_text"]


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
