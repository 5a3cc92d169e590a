"""The console's languages: one gettext catalogue per language, German first.

Texts in templates and code are written in English and translated through the catalogue in
locales/<lang>/LC_MESSAGES/messages.po (read with Babel when the module is first used; no compile
step). English needs no catalogue: a message id is its English text.

Which language a request gets (`negotiate`): the `kv_lang` cookie the header's language switch sets,
else the first supported language of `Accept-Language`, else the site's default (German). The
choice lives in a context variable set per request by `LanguageMiddleware`, so that code rendering
a page or an API error (`_`) needs no request at hand. Numbers and dates follow the language's
conventions (`number`, `money`): 1.234,50 in German, 1,234.50 in English.
"""

from __future__ import annotations

import gettext as gettext_module
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.numbers import format_decimal
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from energy.catalogue import po_translations

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LANG_COOKIE",
    "N_",
    "LanguageMiddleware",
    "current_language",
    "gettext",
    "install_template_language",
    "language_scope",
    "money",
    "negotiate",
    "number",
    "translations",
]

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "messages"
#: supported languages and the locale of their number formats
LANGUAGES: dict[str, str] = {"de": "de_DE", "en": "en_GB"}
DEFAULT_LANGUAGE = "de"
LANG_COOKIE = "kv_lang"

_language: ContextVar[str] = ContextVar("kv_language", default=DEFAULT_LANGUAGE)


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark, translate later"
    """Marks a text for the catalogue where it is defined; it is translated where shown."""
    return message


@cache
def translations(language: str) -> gettext_module.NullTranslations:
    """The catalogue of one language (English: the identity)."""
    return po_translations(LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po", language)


def current_language() -> str:
    return _language.get()


def gettext(message: str, **values: Any) -> str:
    """`message` in the current language, with `%(name)s` placeholders filled from values."""
    text = translations(current_language()).gettext(message)
    return text % values if values else text


def number(value: float | None, digits: int = 2, signed: bool = False) -> str:
    """A number in the current language's format with `digits` decimals ('+' before a positive
    one when `signed`); '-' for None."""
    if value is None:
        return "-"
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    if signed:
        pattern = f"+{pattern};-{pattern}"
    return format_decimal(value, format=pattern, locale=LANGUAGES[current_language()])


def money(value: float | None) -> str:
    """An amount in euros: '12,34 €' in German, 'EUR 12.34' in English."""
    if value is None:
        return "-"
    amount = number(value, 2)
    return f"{amount} €" if current_language() == "de" else f"EUR {amount}"


def _supported(tag: str) -> str | None:
    try:
        language = Locale.parse(tag.strip().replace("-", "_")).language
    except (ValueError, UnknownLocaleError):
        return None
    return language if language in LANGUAGES else None


def negotiate(cookie: str | None, accept_language: str | None, default: str) -> str:
    """The language of a request: the cookie's choice, else the best of Accept-Language (by its
    q values), else the default."""
    if cookie in LANGUAGES:
        return cookie
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        language = _supported(tag) if tag.strip() and tag.strip() != "*" else None
        if language is not None and quality > 0:
            weighted.append((-quality, position, language))
    return min(weighted)[2] if weighted else default


class language_scope:  # noqa: N801 - used like a function: `with language_scope("en"):`
    """Sets the current language for a block (tests, e-mails, CLI)."""

    def __init__(self, language: str) -> None:
        if language not in LANGUAGES:
            raise ValueError(f"language: expected one of {sorted(LANGUAGES)}; found {language!r}")
        self.language = language

    def __enter__(self) -> str:
        self._token = _language.set(self.language)
        return self.language

    def __exit__(self, *_exc: object) -> None:
        _language.reset(self._token)


class LanguageMiddleware:
    """Chooses the language of each HTTP request (see `negotiate`) before anything renders."""

    def __init__(self, app: ASGIApp, default: str = DEFAULT_LANGUAGE) -> None:
        if default not in LANGUAGES:
            raise ValueError(
                f"default language: expected one of {sorted(LANGUAGES)}; found {default!r}"
            )
        self.app = app
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        cookie = _cookie(headers.get("cookie", ""), LANG_COOKIE)
        language = negotiate(cookie, headers.get("accept-language"), self.default)
        token = _language.set(language)
        try:
            await self.app(scope, receive, send)
        finally:
            _language.reset(token)


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def install_template_language(env: Any) -> None:
    """Jinja's i18n extension on the current language, plus `lang`, `number` and `money`."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(
        gettext=lambda message: translations(current_language()).gettext(message),
        ngettext=lambda s, p, n: translations(current_language()).ngettext(s, p, n),
        newstyle=True,
    )
    env.globals["current_language"] = current_language
    env.globals["LANGUAGES"] = LANGUAGES
    env.filters["number"] = number
    env.filters["money"] = money
