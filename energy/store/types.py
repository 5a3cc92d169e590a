"""UTCDateTime: a column type that stores and returns timezone-aware UTC on every backend.

SQLite has no time zone support and SQLAlchemy's DateTime(timezone=True) silently returns naive
values there. This type refuses naive input, stores UTC (fixed-width ISO text on SQLite, so that text
order is time order; timestamptz on PostgreSQL) and always returns aware UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import DateTime, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = ["SQLITE_TIME_FORMAT", "UTCDateTime", "to_utc_datetime"]

#: How SQLite stores a time: 'YYYY-MM-DDTHH:MM:SS.ffffff' in UTC (26 characters).
SQLITE_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"


def to_utc_datetime(value: Any) -> dt.datetime:
    """Convert an aware datetime-like value to an aware UTC datetime; naive values are an error."""
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if not isinstance(value, dt.datetime):
        raise TypeError(f"expected a datetime, found {type(value).__name__}: {value!r}")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"naive datetime {value.isoformat()} has no time zone; expected UTC-aware")
    return value.astimezone(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(26))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        utc = to_utc_datetime(value)
        if dialect.name == "sqlite":
            return utc.strftime(SQLITE_TIME_FORMAT)
        return utc

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)
