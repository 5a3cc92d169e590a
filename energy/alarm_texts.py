"""The texts of the control loop's alarms, written once in English with placeholders and stored
with the alarm as a key and its values, so that the console and the notifications can show them
in their reader's language (`translate`, with the catalogue locales/de/LC_MESSAGES/alarms.po)
with times in local time, while the stored message, the logs and the API keep the English text
with UTC times.

An `AlarmText` is a `str` (the English text), so that code logging or comparing messages needs
no change; `energy.store.alarms.raise_alarm` stores its key and values beside the message. The
values follow three rules the console relies on:

- a name ending in `_at` is an instant, stored as ISO 8601 UTC, shown in local time;
- a number is shown in the reader's number format;
- an AlarmText inside another (a stale device's reason inside its release) is stored as
  `{"key": ..., "values": ...}` and shown translated in turn.

Free texts passed as values (an exception's message, a device's own error) stay as they are.
This module is part of the domain kernel: the control loop, the notifications and the console
all import it (the console's and the notifications' own catalogues do not hold these texts).
"""

from __future__ import annotations

import datetime as dt
import gettext as gettext_module
import re
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal

from energy.catalogue import po_translations

__all__ = [
    "PARSABLE_KEYS",
    "TEMPLATES",
    "AlarmText",
    "alarm_text",
    "local_time",
    "parse",
    "plain_values",
    "translate",
    "translate_text",
]

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
_NUMBER_LOCALES = {"de": "de_DE", "en": "en_GB"}


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark, translate later"
    return message


TEMPLATES: dict[str, str] = {
    # why a device's measurements are stale (energy.control.state)
    "stale.missing": N_("%(asset)s: no %(quantity)s measured yet"),
    "stale.quality": N_("%(asset)s: %(quantity)s quality %(quality)s since %(since_at)s"),
    "stale.old": N_(
        "%(asset)s: newest %(quantity)s is %(age_s)s s old at %(now_at)s (limit %(limit_s)s s)"
    ),
    # the dispatcher (energy.control.dispatch)
    "dispatch.released": N_("%(reason)s: not controlled, released to local mode"),
    "dispatch.no_plan": N_("no approved plan covers %(now_at)s: devices released to local mode"),
    "dispatch.write_failed": N_("%(asset)s: %(problem)s"),
    # jobs and planning (energy.control.jobs, energy.control.planner)
    "job.failed": N_("job %(job)s failed: %(detail)s"),
    "plan.fallback": N_(
        "plan v%(version)s is a fallback (%(steps)s); it waits for an operator and the running "
        "plan continues until it expires"
    ),
    "plan.forecast_fallback": N_(
        "trained forecaster failed (%(error)s); this plan uses the profile bootstrap"
    ),
    "plan.tariff_prices": N_("%(error)s; this plan uses the tariff's price file"),
    # weather and prices (energy.control.weather, energy.control.prices)
    "weather.stored": N_(
        "weather feed %(feed)s failed (%(failure)s); planning on the %(source)s forecast issued "
        "%(issued_at)s (%(age_h)s h old)"
    ),
    "weather.climatology": N_(
        "weather feed %(feed)s failed (%(failure)s) and no stored forecast covers %(from_at)s "
        "to %(to_at)s; planning on climatology (the test reference year): today's weather is "
        "unknown to the plan"
    ),
    "prices.other_source": N_("day-ahead prices from %(source)s instead: %(problems)s"),
    "prices.overdue": N_(
        "day-ahead prices for %(day)s not published by %(due_at)s%(reasons)s; planning on "
        "forecast prices after %(until_at)s"
    ),
    # notifications and publication (energy.notify.job, energy.store.publication)
    "notify.failed": N_("notification not sent via %(channel)s: %(failure)s"),
    "publication.failing": N_(
        "publication to %(target)s (%(endpoint)s) failing since %(since_at)s: %(error)s; "
        "%(waiting)s messages waiting"
    ),
    # the grid operator's control box (energy.control.grid_signals)
    "grid_signal.lost": N_("control box does not answer (%(error)s); %(note)s"),
    "grid_signal.none_read": N_("no limit was read before: none in force"),
    "grid_signal.failsafe": N_("its last limits stay in force until %(until_at)s (failsafe)"),
    "grid_signal.lifted": N_("the failsafe ended at %(ended_at)s: its limits are lifted"),
    # job details (energy.control.runtime): why a job was skipped, what a run did
    "job.standby": N_("standby: not the lease holder"),
    "job.standby_holder": N_("standby: the lease is held by %(holder)s"),
    "job.hold_state": N_("restart hold until %(until_at)s: reading the state first"),
    "job.hold_writes": N_("restart hold until %(until_at)s: no writes yet"),
    "job.no_live_prices": N_("no live prices configured"),
    "job.prices_stored": N_("today's and tomorrow's prices are stored"),
    "job.no_notifications": N_("no notifications section in the site configuration"),
    "job.slot_derived": N_("slot %(slot_at)s already derived"),
    "job.slot_rows": N_("slot %(slot_at)s: %(rows)s derived rows"),
    "job.polled": N_("%(devices)s devices, stale: %(stale)s; %(rows)s rows stored"),
    "job.polled_spooled": N_(
        "%(devices)s devices, stale: %(stale)s; store unavailable: %(rows)s rows spooled"
    ),
    "job.plan_made": N_("plan v%(version)s already made in this period"),
    "job.retrain_coverage": N_(
        "%(series)s is measured in %(coverage)s of the slots of the last %(days)s days "
        "(retraining needs %(needed)s); the profile bootstrap forecaster stays"
    ),
    "job.planned": N_("plan v%(version)s %(status)s, %(state)s in %(seconds)s s: %(reason)s"),
    # why a plan was approved by the system or held for an operator (energy.control.release)
    "release.manual": N_("release policy is manual: an operator decides"),
    "release.not_solved": N_(
        "solver status %(status)s (fallback %(fallback)s): an operator decides"
    ),
    "release.violations": N_("plan violates %(count)s limit(s): an operator decides"),
    "release.first_auto": N_("first plan, no plan running; auto_first_plan is set"),
    "release.first_manual": N_("no plan running; the first plan needs an operator"),
    "release.no_shared_slot": N_("no slot shared with the running plan from now on"),
    "release.change_too_large": N_(
        "grid exchange changes by up to %(change_kw)s kW against the running plan (at "
        "%(where_at)s), more than max_change_kw %(max_change_kw)s: an operator decides"
    ),
    "release.change_within": N_(
        "grid exchange within %(change_kw)s kW of the running plan over the next %(slots)s "
        "slots (max_change_kw %(max_change_kw)s)"
    ),
}

#: the texts a stored free text (a job's detail, an audit entry's reason) may be read back from
#: with `parse` (each a fixed prefix or suffix: a text of only placeholders would match anything)
PARSABLE_KEYS: tuple[str, ...] = tuple(
    key for key in TEMPLATES if key.startswith(("job.", "release.")) and key != "job.failed"
)

Value = str | int | float


class AlarmText(str):
    """The English text of one alarm message, with the key and values it was made from."""

    key: str
    values: dict[str, Any]

    def __new__(cls, key: str, values: dict[str, Any]) -> AlarmText:
        text = super().__new__(cls, TEMPLATES[key] % plain_values(values))
        text.key = key
        text.values = values
        return text

    def stored_values(self) -> dict[str, Any]:
        """The values as the store keeps them (JSON)."""
        return {
            name: {"key": value.key, "values": value.stored_values()}
            if isinstance(value, AlarmText)
            else value
            for name, value in self.values.items()
        }


def plain_values(values: dict[str, Any]) -> dict[str, str]:
    """The values as the English text shows them: numbers with up to 3 significant decimals."""
    return {
        name: f"{value:g}" if isinstance(value, float) else str(value)
        for name, value in values.items()
    }


def alarm_text(key: str, **values: Value | dt.datetime | AlarmText) -> AlarmText:
    """The text `key` with its values; a datetime becomes ISO 8601 UTC (its name must end in
    `_at`). An unknown key is a programming error (KeyError)."""
    if key not in TEMPLATES:
        raise KeyError(f"no alarm text {key!r}")
    stored: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, dt.datetime):
            if not name.endswith("_at"):
                raise ValueError(f"alarm text {key}: the time {name!r} must be named *_at")
            stored[name] = value.astimezone(dt.UTC).isoformat()
        else:
            stored[name] = value
    return AlarmText(key, stored)


@cache
def _translations(language: str) -> gettext_module.NullTranslations:
    return po_translations(LOCALES_DIR / language / "LC_MESSAGES" / "alarms.po", language)


def local_time(value: dt.datetime, tz: ZoneInfo) -> str:
    """'06.12.2026 07:00:00 +01:00': the console's format of a time with seconds."""
    local = value.astimezone(tz)
    offset = local.strftime("%z")
    return f"{local:%d.%m.%Y %H:%M:%S} {offset[:3]}:{offset[3:]}"


def _shown(name: str, value: Any, language: str, tz: ZoneInfo) -> str:
    if isinstance(value, dict) and isinstance(value.get("key"), str):
        nested = translate(value["key"], value.get("values") or {}, language, tz)
        return nested if nested is not None else str(value.get("values"))
    if name.endswith("_at") and isinstance(value, str):
        try:
            return local_time(dt.datetime.fromisoformat(value), tz)
        except ValueError:
            return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    pattern = "#,##0" if float(value).is_integer() else "#,##0.0"
    return format_decimal(value, format=pattern, locale=_NUMBER_LOCALES[language])


def translate(key: str, values: dict[str, Any], language: str, tz: ZoneInfo) -> str | None:
    """The text `key` with its stored values in `language` (de or en), times in `tz`; None for
    a key this version does not know or values that do not fit it (show the stored message)."""
    template = TEMPLATES.get(key)
    if template is None or language not in _NUMBER_LOCALES:
        return None
    try:
        shown = {name: _shown(name, value, language, tz) for name, value in values.items()}
        return _translations(language).gettext(template) % shown
    except (KeyError, TypeError, ValueError):
        return None


@cache
def _pattern(key: str) -> re.Pattern[str]:
    parts = re.split(r"%\((\w+)\)s", TEMPLATES[key])
    regex = "".join(
        re.escape(part) if index % 2 == 0 else f"(?P<{part}>.+?)"
        for index, part in enumerate(parts)
    )
    return re.compile(regex, re.DOTALL)


def _value(text: str, keys: tuple[str, ...]) -> Any:
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if re.fullmatch(r"-?\d+\.\d+", text):
        return float(text)
    nested = parse(text, keys)
    return {"key": nested[0], "values": nested[1]} if nested is not None else text


def parse(text: str, keys: tuple[str, ...] = PARSABLE_KEYS) -> tuple[str, dict[str, Any]] | None:
    """The key and values an English text was made from, for texts stored as plain strings (job
    details, audit entries' reasons) that the console shows in its reader's language; None when
    no text of `keys` made it. Numbers come back as numbers, a value that is itself such a text
    as its key and values (a plan job's release reason)."""
    for key in keys:
        match = _pattern(key).fullmatch(text)
        if match is not None:
            return key, {name: _value(value, keys) for name, value in match.groupdict().items()}
    return None


def translate_text(
    text: str, language: str, tz: ZoneInfo, keys: tuple[str, ...] = PARSABLE_KEYS
) -> str | None:
    """A stored English text in `language`, times in `tz`; None when it is not one of `keys`."""
    parsed = parse(text, keys)
    return translate(parsed[0], parsed[1], language, tz) if parsed is not None else None
