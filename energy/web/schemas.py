"""Request bodies and validated parameter types of the REST API.

Inputs are bounded to what the store can hold on both backends (string lengths of the columns, no
control characters, which PostgreSQL refuses in text, integer ids within 32 bits, aware times within
1970-2200): a malformed request is a 422, never a server error.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from energy.store.alarms import Severity
from energy.store.controls import AssetMode, OverrideKind
from energy.store.users import Role

__all__ = [
    "AlarmIn",
    "DecisionIn",
    "ModeIn",
    "Name",
    "OverrideIn",
    "PlanId",
    "RowId",
    "TokenIn",
    "UserIn",
    "UserPatch",
    "UtcTime",
]

_PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
Name = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=_PRINTABLE)]
Source = Annotated[str, StringConstraints(min_length=1, max_length=96, pattern=_PRINTABLE)]
Note = Annotated[str, StringConstraints(min_length=1, max_length=1000, pattern=_PRINTABLE)]
Password = Annotated[str, StringConstraints(min_length=10, max_length=256, pattern=_PRINTABLE)]
MAX_ID = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
PlanId = RowId


def _utc_in_range(value: dt.datetime) -> dt.datetime:
    try:
        utc = value.astimezone(dt.UTC)
    except OverflowError as exc:
        raise ValueError("time out of range") from exc
    if not 1970 <= utc.year <= 2200:
        raise ValueError(f"time {utc.isoformat()} outside 1970..2200")
    return utc


TIME_BOUNDS = "an ISO 8601 time with a UTC offset, from 1970-01-01 to 2200-12-31 (UTC)"
UtcTime = Annotated[
    AwareDatetime,
    AfterValidator(_utc_in_range),
    Field(
        description=TIME_BOUNDS,
        json_schema_extra={
            "x-minimum": "1970-01-01T00:00:00Z",
            "x-maximum": "2200-12-31T23:59:59.999999Z",
        },
    ),
]
"""An ISO 8601 time with a UTC offset (a naive time is refused), converted to UTC."""


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


Finite = Annotated[float, Field(ge=-1e6, le=1e6), AfterValidator(_finite)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DecisionIn(_Body):
    note: Note | None = None


class OverrideIn(_Body):
    asset_id: Name
    kind: OverrideKind
    value: Finite | None = Field(
        None, description="setpoint in the asset's unit: kW (battery charging +, heat pump, PV cap)"
    )
    expires_at: UtcTime | None = Field(None, description="end of the override; or duration")
    duration_minutes: int | None = Field(None, ge=1, le=7 * 24 * 60)
    reason: Note | None = None


class ModeIn(_Body):
    mode: AssetMode


class AlarmIn(_Body):
    code: Name
    severity: Severity
    message: Note
    source: Source | None = Field(None, description="default: operator:<your name>")


class UserIn(_Body):
    name: Annotated[
        str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    ]
    role: Role
    password: Password


class UserPatch(_Body):
    role: Role | None = None
    disabled: bool | None = None
    password: Password | None = None


class TokenIn(_Body):
    name: Name
