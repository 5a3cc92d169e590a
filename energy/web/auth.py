"""Who is asking, and may they: roles, permissions, sessions, CSRF and API tokens.

A request is authenticated either by an API token (`Authorization: Bearer kvt_...`, for automation;
no CSRF check, the browser never sends it on its own) or by the signed session cookie of the browser
(HttpOnly, SameSite=Strict). A state-changing request on a session must carry the session's CSRF
token in the `X-CSRF-Token` header or the `csrf_token` form field. The user is re-read from the store
on every request, so a disabled user, a changed role or a changed password takes effect at once.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from energy.store.sessions import open_session, session_user
from energy.store.users import Role, UserRecord, get_user_by_id, resolve_token
from energy.web.i18n import gettext as _

__all__ = [
    "ROLE_PERMISSIONS",
    "CsrfError",
    "ForbiddenError",
    "NotAuthenticatedError",
    "Permission",
    "Principal",
    "csrf_token_of",
    "require",
    "start_session",
]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


class Permission(StrEnum):
    READ = "read"
    """Everything an operator looks at: site, measurements, plans, alarms, audit, jobs."""
    CONTROL = "control"
    """Approve/reject plans, overrides, asset modes, raise/acknowledge alarms."""
    ANALYSIS = "analysis"
    """Forecast values, backtests, plan data downloads."""
    ADMIN = "admin"
    """Users and API tokens."""
    GRID_LIMITS = "grid_limits"
    """Set, lift and list the grid operator's limits (§14a dimming, feed-in)."""


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.READ}),
    Role.OPERATOR: frozenset({Permission.READ, Permission.CONTROL, Permission.GRID_LIMITS}),
    Role.ANALYST: frozenset({Permission.READ, Permission.ANALYSIS}),
    Role.ADMIN: frozenset(Permission),
    # the grid operator sees and sets its limits, nothing of the district's data
    Role.GRID_OPERATOR: frozenset({Permission.GRID_LIMITS}),
}


class NotAuthenticatedError(Exception):
    """No valid session or token."""


class ForbiddenError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CsrfError(ForbiddenError):
    pass


@dataclass(frozen=True)
class Principal:
    user: UserRecord
    via: str
    """'session' or 'token'."""

    @property
    def name(self) -> str:
        return self.user.name

    def may(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.user.role]


_bearer = HTTPBearer(auto_error=False, description="API token created with `kv user token`.")


def start_session(request: Request, user: UserRecord) -> None:
    """A fresh session for a user who just logged in (new CSRF token: no session fixation),
    held on the server (energy.store.sessions) so that logout really ends it."""
    state = request.app.state
    secret = open_session(
        state.store, user.id, state.settings.clock(), state.settings.session_max_age_s
    )
    request.session.clear()
    request.session["sid"] = secret
    request.session["uid"] = user.id
    request.session["stamp"] = user.credential_stamp
    request.session["csrf"] = secrets.token_urlsafe(32)


def csrf_token_of(request: Request) -> str:
    """The session's CSRF token, created for an anonymous session (the login form) if missing."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


async def check_csrf(request: Request) -> None:
    expected = request.session.get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        field = form.get(CSRF_FIELD)
        sent = field if isinstance(field, str) else None
    if not expected or not sent or not secrets.compare_digest(str(expected), sent):
        raise CsrfError(
            _(
                "missing or wrong CSRF token (%(header)s header or %(field)s field)",
                header=CSRF_HEADER,
                field=CSRF_FIELD,
            )
        )


async def current_principal(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
) -> Principal:
    state = request.app.state
    if credentials is not None:
        user = resolve_token(state.store, credentials.credentials, state.settings.clock())
        if user is None:
            raise NotAuthenticatedError()
        return Principal(user=user, via="token")
    uid = request.session.get("uid") if "session" in request.scope else None
    sid = request.session.get("sid") if "session" in request.scope else None
    if not isinstance(uid, int) or not isinstance(sid, str):
        raise NotAuthenticatedError()
    if session_user(state.store, sid, state.settings.clock()) != uid:
        # ended (logout, password change, an administrator) or expired on the server
        request.session.clear()
        raise NotAuthenticatedError()
    try:
        user = get_user_by_id(state.store, uid)
    except KeyError:
        request.session.clear()
        raise NotAuthenticatedError() from None
    if user.disabled or request.session.get("stamp") != user.credential_stamp:
        # disabled, or the password changed since this session began
        request.session.clear()
        raise NotAuthenticatedError()
    if request.method not in SAFE_METHODS:
        await check_csrf(request)
    return Principal(user=user, via="session")


def require(permission: Permission) -> Callable[..., Awaitable[Principal]]:
    """A dependency giving the Principal if it holds `permission`, else 401/403."""

    async def dependency(principal: Principal = Depends(current_principal)) -> Principal:  # noqa: B008
        if not principal.may(permission):
            raise ForbiddenError(
                _(
                    "user %(name)r with role %(role)s lacks the permission %(permission)r",
                    name=principal.name,
                    role=_(principal.user.role.value),
                    permission=permission.value,
                )
            )
        return principal

    return dependency
