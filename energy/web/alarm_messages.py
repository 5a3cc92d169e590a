"""Alarm messages in the reader's language: a message the control loop made with
energy.alarm_texts is shown from its key and values through the console's catalogue, its times
in the site's local time and its numbers in the language's format. Any other message (raised by
hand, or stored before texts had keys) is shown as stored, in English."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from energy.alarm_texts import TEMPLATES
from energy.store.incidents import Incident
from energy.web.i18n import gettext, number
from energy.web.localtime import format_local

__all__ = ["ShownMessage", "incident_message", "shown_message", "translated_text"]


@dataclass(frozen=True)
class ShownMessage:
    text: str
    translated: bool
    """False: the English text as stored (pages mark it lang="en")"""


def _value(name: str, value: Any, tz: ZoneInfo) -> str:
    if isinstance(value, dict) and isinstance(value.get("key"), str):
        nested = translated_text(value["key"], value.get("values") or {}, tz)
        return nested if nested is not None else str(value.get("values"))
    if name.endswith("_at") and isinstance(value, str):
        try:
            return format_local(dt.datetime.fromisoformat(value), tz, seconds=True)
        except ValueError:
            return value
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return number(value, 0 if float(value).is_integer() else 1)
    return str(value)


def translated_text(key: str, values: dict[str, Any], tz: ZoneInfo) -> str | None:
    """The text `key` in the current language, or None for a key this console does not know
    (or values that do not fit it)."""
    template = TEMPLATES.get(key)
    if template is None:
        return None
    try:
        return gettext(template) % {name: _value(name, v, tz) for name, v in values.items()}
    except (KeyError, TypeError, ValueError):
        return None


def shown_message(
    message: str, key: str | None, values: dict[str, Any] | None, tz: ZoneInfo
) -> ShownMessage:
    if key is not None:
        text = translated_text(key, values or {}, tz)
        if text is not None:
            return ShownMessage(text, True)
    return ShownMessage(message, False)


def incident_message(incident: Incident | Mapping[str, Any], tz: ZoneInfo) -> ShownMessage:
    """An incident's latest message as shown (an Incident, or its as_dict as the status page
    holds it)."""
    data = incident.as_dict() if isinstance(incident, Incident) else incident
    return shown_message(
        str(data["message"]), data.get("message_key"), data.get("message_values"), tz
    )
