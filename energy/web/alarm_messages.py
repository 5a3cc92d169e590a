"""Alarm messages in the reader's language: a message the control loop made with
energy.alarm_texts is shown from its key and values in the current language, its times in the
site's local time and its numbers in the language's format. Any other message (raised by hand,
or stored before texts had keys) is shown as stored, in English.

Job details and the reasons in audit entries are stored as plain English texts; those the control
loop made from energy.alarm_texts are read back into key and values (`detail_text`) and shown the
same way."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from energy.alarm_texts import translate, translate_text
from energy.store.incidents import Incident
from energy.web.i18n import current_language

__all__ = ["ShownMessage", "detail_text", "incident_message", "shown_message"]


@dataclass(frozen=True)
class ShownMessage:
    text: str
    translated: bool
    """False: the English text as stored (pages mark it lang="en")"""


def shown_message(
    message: str, key: str | None, values: dict[str, Any] | None, tz: ZoneInfo
) -> ShownMessage:
    if key is not None:
        text = translate(key, values or {}, current_language(), tz)
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


def detail_text(text: str | None, tz: ZoneInfo) -> ShownMessage:
    """A job's detail or an audit entry's text value as shown (English when not a known text)."""
    if not text:
        return ShownMessage("", True)
    shown = translate_text(text, current_language(), tz)
    return ShownMessage(shown, True) if shown is not None else ShownMessage(text, False)
