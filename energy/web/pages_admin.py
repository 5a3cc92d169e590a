"""Self-service and administration pages: change one's own password; admins add users, change
roles, disable and enable them, set a new password, end their sessions and revoke API tokens.

Every change goes through energy.store.users, which writes it to the audit log's hash chain in
the same transaction; forms carry the session's CSRF token and redirect afterwards.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from energy.store.audit import append_audit
from energy.store.engine import Store
from energy.store.users import (
    MIN_PASSWORD_LENGTH,
    Role,
    UserError,
    authenticate,
    create_user,
    end_sessions_of,
    get_user,
    list_tokens,
    list_users,
    revoke_token,
    update_user,
)
from energy.web.actions import now_of, store_of
from energy.web.api_users import keep_an_admin
from energy.web.auth import Permission, Principal, require, start_session
from energy.web.i18n import N_
from energy.web.i18n import gettext as _
from energy.web.pages import render
from energy.web.schemas import RowId

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, Depends(require(Permission.READ))]
Admin = Annotated[Principal, Depends(require(Permission.ADMIN))]
UserName = Annotated[str, Form(min_length=1, max_length=64)]
Password = Annotated[str, Form(max_length=256)]

_NOTICES = {
    "password": N_("Your password was changed. Your other sessions were ended."),
    "added": N_("The user was added."),
    "updated": N_("The user was changed."),
    "sessions": N_("The user's sessions were ended."),
    "revoked": N_("The API token was revoked."),
}


def _notice(done: str | None) -> str | None:
    return _(_NOTICES[done]) if done in _NOTICES else None


def _too_short() -> str:
    return _("The new password needs at least %(count)s characters.", count=MIN_PASSWORD_LENGTH)


def _password_problem(new: str, repeat: str) -> str | None:
    if new != repeat:
        return _("The two new passwords differ.")
    if len(new) < MIN_PASSWORD_LENGTH:
        return _too_short()
    return None


@router.get("/account/password", response_class=HTMLResponse)
def password_form(request: Request, principal: Reader, done: str | None = None) -> HTMLResponse:
    return render(
        request,
        "password.html",
        principal,
        error=None,
        notice=_notice(done),
        minimum=MIN_PASSWORD_LENGTH,
    )


@router.post("/account/password", response_class=HTMLResponse)
def password_change(
    request: Request,
    principal: Reader,
    current: Password,
    new: Password,
    repeat: Password,
) -> Response:
    """Change one's own password: the current one first (rate limited like the login), then
    every session of the user ends and this browser gets a fresh one."""
    state = request.app.state
    store: Store = state.store
    now = now_of(request)
    if principal.via != "session":
        raise HTTPException(403, _("API tokens cannot change a password; log in with the browser."))
    key = [f"user:{principal.name.lower()}"]
    error: str | None = None
    if state.limiter.blocked(key):
        error = _("Too many failed attempts. Wait a few minutes and try again.")
    elif authenticate(store, principal.name, current) is None:
        state.limiter.record_failure(key)
        append_audit(
            store, principal.name, "auth.password_change_failed", f"user:{principal.name}", {}, now
        )
        error = _("The current password is wrong.")
    else:
        error = _password_problem(new, repeat)
    if error is not None:
        return render(
            request,
            "password.html",
            principal,
            422,
            error=error,
            notice=None,
            minimum=MIN_PASSWORD_LENGTH,
        )
    user = update_user(store, principal.name, principal.name, now, password=new)
    start_session(request, user)
    log.info("%s changed their password", principal.name)
    return RedirectResponse("/account/password?done=password", status_code=303)


def _users_page(
    request: Request,
    principal: Principal,
    status: int = 200,
    notice: str | None = None,
    error: str | None = None,
) -> HTMLResponse:
    store = store_of(request)
    return render(
        request,
        "users.html",
        principal,
        status,
        users=list_users(store),
        tokens=list_tokens(store),
        roles=list(Role),
        notice=notice,
        error=error,
        minimum=MIN_PASSWORD_LENGTH,
    )


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, principal: Admin, done: str | None = None) -> HTMLResponse:
    return _users_page(request, principal, notice=_notice(done))


@router.post("/admin/users", response_class=HTMLResponse)
def user_add(
    request: Request,
    principal: Admin,
    name: UserName,
    role: Annotated[Role, Form()],
    password: Password,
) -> Response:
    if len(password) < MIN_PASSWORD_LENGTH:
        return _users_page(request, principal, 422, error=_too_short())
    try:
        create_user(store_of(request), name, password, role, principal.name, now_of(request))
    except UserError as exc:
        return _users_page(
            request, principal, 409, error=_("The user was not added: %(reason)s", reason=str(exc))
        )
    return RedirectResponse("/admin/users?done=added", status_code=303)


@router.post("/admin/users/{name}", response_class=HTMLResponse)
def user_change(
    request: Request,
    principal: Admin,
    name: str,
    role: Annotated[Role | None, Form()] = None,
    disabled: Annotated[bool | None, Form()] = None,
    password: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    """One change per form: a role, the disabled flag or a new password."""
    store = store_of(request)
    target = get_user(store, name)
    if target is None:
        raise HTTPException(404, _("no user named %(name)r", name=name))
    if password and len(password) < MIN_PASSWORD_LENGTH:
        return _users_page(request, principal, 422, error=_too_short())
    keep_an_admin(store, target, role, disabled)
    update_user(
        store,
        name,
        principal.name,
        now_of(request),
        role=role,
        disabled=disabled,
        password=password or None,
    )
    return RedirectResponse("/admin/users?done=updated", status_code=303)


@router.post("/admin/users/{name}/sessions/end")
def user_sessions_end(request: Request, principal: Admin, name: str) -> RedirectResponse:
    try:
        end_sessions_of(store_of(request), name, principal.name, now_of(request))
    except KeyError:
        raise HTTPException(404, _("no user named %(name)r", name=name)) from None
    return RedirectResponse("/admin/users?done=sessions", status_code=303)


@router.post("/admin/tokens/{token_id}/revoke", response_class=HTMLResponse)
def token_revoke(request: Request, principal: Admin, token_id: RowId) -> Response:
    try:
        revoke_token(store_of(request), token_id, principal.name, now_of(request))
    except KeyError:
        raise HTTPException(404, _("no API token with id %(id)s", id=token_id)) from None
    except UserError as exc:
        return _users_page(request, principal, 409, error=str(exc))
    return RedirectResponse("/admin/users?done=revoked", status_code=303)
