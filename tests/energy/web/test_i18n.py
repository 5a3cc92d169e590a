"""The console speaks German by default and English on request, with nothing left untranslated.

The catalogue test extracts every message id from energy/web (templates and code, as the
translators' tools do) and requires a German text with the same placeholders. The page test
renders every page in German and looks for English words in what an operator reads (text,
placeholders, titles, confirmation questions), leaving out what is stored data rather than
console text: elements marked lang="en" (messages written by the control loop), <code>
(identifiers) and values marked class="raw".
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from hypothesis import given
from hypothesis import strategies as st
from web_support import NOW, Web, login, make_plan

from energy.store.alarms import Severity, raise_alarm
from energy.store.plans import activate_plan, decide_plan
from energy.store.users import Role
from energy.web.i18n import LANGUAGES, language_scope, money, negotiate, number

WEB = Path(__file__).resolve().parents[3] / "energy" / "web"
PLACEHOLDER = re.compile(r"%\((\w+)\)s|%\((\w+)\)r")
# words that are English only (never German, never an identifier the pages show as text)
ENGLISH = frozenset(
    [
        "the",
        "and",
        "of",
        "with",
        "for",
        "not",
        "none",
        "from",
        "by",
        "is",
        "are",
        "this",
        "has",
        "until",
        "since",
        "yet",
        "shown",
        "no",
        "yes",
        "plan's",
        "devices",
        "device",
        "answering",
        "asleep",
        "stored",
        "running",
        "none.",
        "approve",
        "reject",
        "search",
        "created",
        "state",
        "horizon",
        "cost",
        "users",
        "controls",
        "plans",
        "log",
        "out",
        "change",
        "password",
    ]
)


def _message_ids() -> set[str]:
    found = extract_from_dir(
        str(WEB),
        method_map=[("**.py", "python"), ("templates/**.html", "jinja2.ext:babel_extract")],
        options_map={"templates/**.html": {"extensions": "jinja2.ext.i18n"}},
        keywords={"_": None, "gettext": None, "N_": None},
    )
    return {message for _file, _line, message, _comments, _context in found}


def _catalogue() -> dict[str, str]:
    with (WEB / "locales" / "de" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle)
    return {m.id: m.string for m in catalog if m.id and not m.fuzzy}


def test_every_console_text_has_a_german_translation_with_the_same_placeholders() -> None:
    ids = _message_ids()
    catalogue = _catalogue()
    assert len(ids) > 300
    missing = sorted(i for i in ids if not catalogue.get(i))
    assert missing == []
    for message in ids:
        assert set(PLACEHOLDER.findall(message)) == set(PLACEHOLDER.findall(catalogue[message])), (
            message
        )
    assert sorted(set(catalogue) - ids) == []  # nothing stale in the catalogue


@pytest.mark.parametrize(
    ("cookie", "header", "expected"),
    [
        (None, None, "de"),
        (None, "en-US,en;q=0.9", "en"),
        (None, "fr-FR, en;q=0.5, de;q=0.8", "de"),
        (None, "fr", "de"),
        ("en", "de-DE", "en"),
        ("xx", "en", "en"),
        (None, "de;q=0, en;q=0.1", "en"),
    ],
)
def test_the_language_comes_from_the_choice_then_the_browser_then_the_site(
    cookie: str | None, header: str | None, expected: str
) -> None:
    assert negotiate(cookie, header, "de") == expected


@given(st.one_of(st.none(), st.text(max_size=8)), st.one_of(st.none(), st.text(max_size=60)))
def test_negotiation_never_fails_and_always_names_a_supported_language(
    cookie: str | None, header: str | None
) -> None:
    assert negotiate(cookie, header, "de") in LANGUAGES


def test_numbers_and_amounts_follow_the_language() -> None:
    with language_scope("de"):
        assert number(1234.5) == "1.234,50"
        assert number(-0.25, 3, signed=True) == "-0,250"
        assert number(10, 3, signed=True) == "+10,000"
        assert money(12.5) == "12,50 €"
    with language_scope("en"):
        assert number(1234.5) == "1,234.50"
        assert money(12.5) == "EUR 12.50"


class _Reader(HTMLParser):
    """What an operator reads, without stored data (see the module docstring)."""

    SKIP = frozenset({"script", "style", "code", "pre"})
    SHOWN_ATTRIBUTES = ("placeholder", "title", "aria-label", "data-confirm")
    VOID = frozenset({"input", "meta", "link", "br", "img", "hr"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[bool] = []
        self.parts: list[str] = []
        self.lang = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "html":
            self.lang = attributes.get("lang") or ""
        hidden = (
            tag in self.SKIP
            or attributes.get("lang") == "en"
            or "raw" in (attributes.get("class") or "").split()
            or (tag == "a" and attributes.get("hreflang") == "en")
        )
        inside = bool(self.stack and self.stack[-1])
        if not (hidden or inside):
            for name, value in attrs:
                if value and (name in self.SHOWN_ATTRIBUTES or name.startswith("data-confirm")):
                    self.parts.append(value)
        if tag not in self.VOID:
            self.stack.append(hidden or inside)

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not (self.stack and self.stack[-1]):
            self.parts.append(data)


def _english_words(html: str) -> tuple[str, set[str]]:
    reader = _Reader()
    reader.feed(html)
    words = {w.lower() for w in re.findall(r"[A-Za-z']+\.?", " ".join(reader.parts))}
    return reader.lang, {w for w in words if w in ENGLISH or w.rstrip(".") in ENGLISH}


def _pages(web: Web) -> list[str]:
    # an incident whose stored message is English: its cause is told in German beside it
    raise_alarm(
        web.store,
        web.site.id,
        "stale_input",
        "house-01.battery",
        Severity.CRITICAL,
        "house-01.battery: soc_frac quality STALE since the last poll",
        NOW,
    )
    running = make_plan(web.site, web.store)
    decide_plan(web.store, running.id, True, "operator", NOW)
    activate_plan(web.store, running.id, NOW)
    proposed = make_plan(
        web.site,
        web.store,
        level=2.0,
        summary={
            "local_control": {
                "saving_eur": 3.2,
                "plan": {"objective_eur": 12.5},
                "local": {"objective_eur": 15.7},
                "assets": {"house-01.battery": {"saving_eur": 1.1, "shifted_kwh": 4.0}},
            },
            "cost_breakdown": {"import_eur": 14.0, "export_revenue_eur": -1.5},
        },
    )
    return [
        "/overview",
        "/houses/house-01",
        "/houses/house-99",
        "/status",
        "/plans",
        f"/plans/{running.id}",
        f"/plans/{proposed.id}",
        "/controls",
        "/audit",
        "/audit?q=nothing-matches",
        "/account/password",
        "/account/preferences",
        "/admin/users",
        "/api/docs",
        "/plans/999999",
    ]


def test_every_page_is_german_by_default(web: Web) -> None:
    web.client.headers.pop("Accept-Language")
    assert "Anmelden" in web.client.get("/login").text
    login(web.client, "admin")
    for path in _pages(web):
        response = web.client.get(path)
        assert response.status_code in (200, 404), path
        lang, english = _english_words(response.text)
        assert lang == "de", path
        assert english == set(), path
    assert "Gerät antwortet nicht" in web.client.get("/controls").text


def test_the_header_switch_turns_the_console_english_and_back(web: Web) -> None:
    web.client.headers["Accept-Language"] = "de-DE"
    login(web.client, "operator")
    assert '<html lang="de">' in web.client.get("/status").text
    switched = web.client.get("/language/en?next=/plans")
    assert switched.status_code == 303
    assert switched.headers["location"] == "/plans"
    page = web.client.get("/plans").text
    assert '<html lang="en">' in page
    assert "No plans stored." in page or "<h1>Plans</h1>" in page
    web.client.get("/language/de?next=/plans")
    assert "<h1>Pläne</h1>" in web.client.get("/plans").text
    # an unknown language changes nothing; an outside target is not followed
    assert web.client.get("/language/xx?next=//evil.example").headers["location"] == "/overview"


def test_api_errors_speak_the_callers_language(web: Web) -> None:
    german = web.client.get(
        "/api/plans/424242", headers={**web.auth(Role.ADMIN), "Accept-Language": "de"}
    )
    assert german.status_code == 404
    assert german.json()["detail"] == "kein Plan mit der Nummer 424242"
    english = web.client.get(
        "/api/plans/424242", headers={**web.auth(Role.ADMIN), "Accept-Language": "en"}
    )
    assert english.json()["detail"] == "no plan with id 424242"
