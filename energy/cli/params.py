"""Parsers for command-line values shared by several commands."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import typer

__all__ = ["parse_utc_time"]


def parse_utc_time(value: str | None) -> dt.datetime | None:
    """An ISO date or time as aware UTC; a value without an offset is taken as UTC."""
    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except ValueError as exc:
        raise typer.BadParameter(
            f"expected an ISO date or time (2026-06-01T04:00Z); {exc}"
        ) from exc
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return stamp.tz_convert("UTC").to_pydatetime()
