"""The user's own preferences page (/account/preferences): the console's language, the e-mail
address for incident notifications and whether to receive them, and quiet hours in which the
notification job sends them nothing (energy.store.preferences).

The language chosen here is set as the language cookie when saved and at every login
(energy.web.pages), so it wins over the browser's Accept-Language and the site's default; the
header's language switch still changes the language of this browser until the next login.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from energy.store.preferences import (
    PREFERENCE_LANGUAGES,
    UserPreferences,
    get_preferences,
    set_preferences,
)
from energy.store.users import UserError
from energy.web.actions import now_of, store_of
from energy.web.auth import Permission, Principal, require
from energy.web.i18n import gettext as _
from energy.web.pages import remember_language, render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, Depends(require(Permission.READ))]
FormText = Annotated[str, Form(max_length=254)]


def _page(
    request: Request,
    principal: Principal,
    preferences: UserPreferences,
    status: int = 200,
    notice: str | None = None,
    error: str | None = None,
) -> HTMLResponse:
    return render(
        request,
        "preferences.html",
        principal,
        status,
        preferences=preferences,
        languages=PREFERENCE_LANGUAGES,
        notice=notice,
        error=error,
    )


def _time(value: str) -> dt.time | None:
    """'HH:MM' from a time input; empty is None."""
    value = value.strip()
    if not value:
        return None
    try:
        return dt.time.fromisoformat(value)
    except ValueError:
        raise UserError(f"{value!r} is not a time of day (HH:MM)") from None


@router.get("/account/preferences", response_class=HTMLResponse)
def preferences_form(request: Request, principal: Reader, done: str | None = None) -> HTMLResponse:
    notice = _("Your preferences were saved.") if done == "saved" else None
    return _page(
        request, principal, get_preferences(store_of(request), principal.name), notice=notice
    )


@router.post("/account/preferences", response_class=HTMLResponse)
def preferences_save(
    request: Request,
    principal: Reader,
    language: FormText = "",
    email: FormText = "",
    notify: FormText = "",
    quiet_start: FormText = "",
    quiet_end: FormText = "",
) -> Response:
    """Save every preference of the form; a refused one leaves all of them as they were."""
    store = store_of(request)
    try:
        wanted = UserPreferences(
            language=language or None,
            email=email.strip() or None,
            notify=bool(notify),
            quiet_start=_time(quiet_start),
            quiet_end=_time(quiet_end),
        )
        set_preferences(store, principal.name, wanted, principal.name, now_of(request))
    except UserError as exc:
        current = get_preferences(store, principal.name)
        return _page(request, principal, current, 422, error=str(exc))
    response = RedirectResponse("/account/preferences?done=saved", status_code=303)
    remember_language(response, wanted.language)
    return response
