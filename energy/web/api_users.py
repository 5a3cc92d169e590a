"""REST API for user and API token administration (admin only)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request

from energy.store.engine import Store
from energy.store.users import (
    Role,
    UserError,
    UserRecord,
    create_token,
    create_user,
    end_sessions_of,
    get_user,
    list_tokens,
    list_users,
    revoke_token,
    update_user,
)
from energy.web.actions import now_of, store_of
from energy.web.auth import Permission, Principal, require
from energy.web.i18n import gettext
from energy.web.openapi_doc import CONFLICT, NOT_FOUND
from energy.web.schemas import Name, RowId, TokenIn, UserIn, UserPatch

__all__ = ["keep_an_admin", "router"]

router = APIRouter(prefix="/api", tags=["users"])

Admin = Annotated[Principal, Depends(require(Permission.ADMIN))]


def _user_dict(user: UserRecord) -> dict[str, Any]:
    return {
        "id": user.id,
        "name": user.name,
        "role": user.role.value,
        "created_at": user.created_at,
        "disabled": user.disabled,
    }


def keep_an_admin(
    store: Store, target: UserRecord, role: Role | None, disabled: bool | None
) -> None:
    """409 when the change would leave the site without an enabled administrator."""
    loses_admin = target.role is Role.ADMIN and (
        bool(disabled) or (role is not None and role is not Role.ADMIN)
    )
    if loses_admin and not target.disabled:
        admins = [u for u in list_users(store) if u.role is Role.ADMIN and not u.disabled]
        if len(admins) <= 1:
            raise HTTPException(
                409, gettext("%(name)s is the last enabled admin", name=target.name)
            )


@router.get("/users")
def users(request: Request, _: Admin) -> list[dict[str, Any]]:
    return [_user_dict(u) for u in list_users(store_of(request))]


@router.post("/users", status_code=201, responses=CONFLICT)
def user_add(request: Request, principal: Admin, body: UserIn) -> dict[str, Any]:
    try:
        user = create_user(
            store_of(request), body.name, body.password, body.role, principal.name, now_of(request)
        )
    except UserError as exc:
        raise HTTPException(409, str(exc)) from None
    return _user_dict(user)


@router.patch("/users/{name}", responses={**NOT_FOUND, **CONFLICT})
def user_update(request: Request, principal: Admin, name: Name, body: UserPatch) -> dict[str, Any]:
    store = store_of(request)
    target = get_user(store, name)
    if target is None:
        raise HTTPException(404, gettext("no user named %(name)r", name=name))
    keep_an_admin(store, target, body.role, body.disabled)
    try:
        user = update_user(
            store,
            name,
            principal.name,
            now_of(request),
            role=body.role,
            disabled=body.disabled,
            password=body.password,
        )
    except UserError as exc:
        raise HTTPException(422, str(exc)) from None
    return _user_dict(user)


@router.post("/users/{name}/sessions/end", responses=NOT_FOUND)
def user_sessions_end(request: Request, principal: Admin, name: Name) -> dict[str, Any]:
    """End every browser session of a user at once (their cookies stop working)."""
    try:
        ended = end_sessions_of(store_of(request), name, principal.name, now_of(request))
    except KeyError:
        raise HTTPException(404, gettext("no user named %(name)r", name=name)) from None
    return {"name": name, "sessions_ended": ended}


@router.get("/tokens")
def tokens(request: Request, _: Admin, user: Name | None = None) -> list[dict[str, Any]]:
    return [asdict(t) for t in list_tokens(store_of(request), user)]


@router.post("/users/{name}/tokens", status_code=201, responses=NOT_FOUND)
def token_add(request: Request, principal: Admin, name: Name, body: TokenIn) -> dict[str, Any]:
    """A new API token; the secret is in this response only."""
    try:
        secret, record = create_token(
            store_of(request), name, body.name, principal.name, now_of(request)
        )
    except KeyError:
        raise HTTPException(404, gettext("no user named %(name)r", name=name)) from None
    return {"token": secret, **asdict(record)}


@router.post("/tokens/{token_id}/revoke", responses={**NOT_FOUND, **CONFLICT})
def token_revoke(request: Request, principal: Admin, token_id: RowId) -> dict[str, Any]:
    try:
        revoke_token(store_of(request), token_id, principal.name, now_of(request))
    except KeyError:
        raise HTTPException(404, gettext("no API token with id %(id)s", id=token_id)) from None
    except UserError as exc:
        raise HTTPException(409, str(exc)) from None
    return {"id": token_id, "revoked": True}
