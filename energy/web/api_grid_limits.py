"""REST API for the grid operator's limits: §14a dimming and temporary feed-in limits.

The grid operator (or a marketer acting for it) sets a limit with the API token of a user of role
grid_operator (permission grid_limits only: it sees nothing else of the district; operators and
administrators hold the permission too): POST /api/grid-limits with the kind, the kW and its end
(at most grid_signals.max_api_limit_h ahead). The control loop applies it at its next dispatch
cycle and plans with it; a caller that stops renewing its limit loses it at that end. Setting and
lifting are audited with the caller's name.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from energy.grid_limits import LimitKind
from energy.store.grid_limits import (
    add_grid_limit,
    applied_limits,
    lift_grid_limit,
    list_grid_limits,
)
from energy.web.actions import now_of, site_of, store_of
from energy.web.auth import Permission, Principal, require
from energy.web.openapi_doc import CONFLICT, NOT_FOUND
from energy.web.schemas import Note, RowId, UtcTime

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["grid limits"])

GridLimits = Annotated[Principal, Depends(require(Permission.GRID_LIMITS))]


class GridLimitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: LimitKind = Field(
        description="dimming: §14a limit of the controllable devices' draw; feed_in: export cap"
    )
    limit_kw: float = Field(ge=0.0, le=1e5, description="kW at the connection point")
    valid_from: UtcTime | None = Field(None, description="start; default now")
    valid_until: UtcTime | None = Field(None, description="end; or duration_minutes")
    duration_minutes: int | None = Field(None, ge=1, le=7 * 24 * 60)
    reason: Note | None = None


def _signals_or_409(request: Request) -> float:
    """The longest an API limit may last (h); 409 when the site takes no grid signals."""
    signals = site_of(request).config.grid_signals
    if signals is None:
        raise HTTPException(409, "this site has no grid_signals section: limits are not applied")
    return signals.max_api_limit_h


@router.get("/grid-limits")
def grid_limits(request: Request, _: GridLimits) -> dict[str, Any]:
    """The limits the control loop applies (with when that began) and the API limits in force."""
    store, site = store_of(request), site_of(request)
    applied = applied_limits(store, site.id)
    return {
        "applied": None if applied is None else {"since": applied[0], **applied[1]},
        "api_limits": list_grid_limits(store, site.id, now_of(request)),
    }


@router.post("/grid-limits", status_code=201, responses=CONFLICT)
def grid_limit_add(request: Request, principal: GridLimits, body: GridLimitIn) -> dict[str, Any]:
    longest_h = _signals_or_409(request)
    now = now_of(request)
    start = body.valid_from or now
    if (body.valid_until is None) == (body.duration_minutes is None):
        raise HTTPException(422, "give exactly one of valid_until and duration_minutes")
    end = body.valid_until or start + dt.timedelta(minutes=body.duration_minutes or 0)
    if not (start < end and now < end <= now + dt.timedelta(hours=longest_h)):
        raise HTTPException(
            422,
            f"valid_until must be after valid_from, in the future and at most {longest_h:g} h "
            f"ahead; found {start.isoformat()}..{end.isoformat()}",
        )
    limit_id = add_grid_limit(
        store_of(request),
        site_of(request).id,
        body.kind,
        body.limit_kw,
        start,
        end,
        principal.name,
        now,
        body.reason,
    )
    return {"id": limit_id, "valid_from": start, "valid_until": end}


@router.post("/grid-limits/{limit_id}/lift", responses={**NOT_FOUND, **CONFLICT})
def grid_limit_lift(request: Request, principal: GridLimits, limit_id: RowId) -> dict[str, Any]:
    _signals_or_409(request)
    try:
        lift_grid_limit(
            store_of(request), site_of(request).id, limit_id, principal.name, now_of(request)
        )
    except KeyError:
        raise HTTPException(404, f"no grid limit with id {limit_id}") from None
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from None
    return {"id": limit_id, "lifted": True}
