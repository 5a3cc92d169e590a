"""The text of a notification: German by default (catalogue locales/de/LC_MESSAGES/notify.po),
English on request, with the incident's cause, its latest message (translated when the control
loop made it from a text with a key, energy.alarm_texts), devices, severity, first and last
sighting, count of reports and a link to the console; and the same facts as the webhook's JSON
(its `message` as stored, in English with UTC times).

The control loop does not import the web console, so notifications carry their own small
catalogue, read with Babel like the console's (energy.web.i18n).
"""

from __future__ import annotations

import datetime as dt
import gettext as gettext_module
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from energy.alarm_texts import translate
from energy.catalogue import po_translations
from energy.notify.policy import Reason
from energy.store.incidents import Incident

__all__ = ["Notification", "compose"]

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
_LOCALES = {"de": "de_DE", "en": "en_GB"}
#: where the console lists incidents, relative to its base URL
INCIDENTS_PATH = "controls"


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark, translate later"
    return message


_CAUSES = {
    "stale_input": N_("measurements stale"),
    "write_failed": N_("writing to a device failed"),
    "no_valid_plan": N_("no valid plan"),
    "store_unavailable": N_("store unavailable"),
    "job_failed": N_("job failed"),
    "grid_signal_lost": N_("grid operator signal lost"),
    "weather_fallback": N_("weather forecast unavailable"),
    "notification_failed": N_("notification could not be sent"),
}
_SEVERITIES = {"info": N_("information"), "warning": N_("warning"), "critical": N_("critical")}
_LABELS = (
    N_("Cause"),
    N_("Message"),
    N_("Devices"),
    N_("Severity"),
    N_("First seen"),
    N_("Last seen"),
    N_("Reports"),
    N_("Acknowledge it in the console"),
)
_REASONS = {
    Reason.NEW: N_("new incident"),
    Reason.ESCALATED: N_("incident escalated"),
    Reason.REPEAT: N_("still unacknowledged"),
    Reason.QUIET_END: N_("held during your quiet hours"),
}


@cache
def _translations(language: str) -> gettext_module.NullTranslations:
    return po_translations(LOCALES_DIR / language / "LC_MESSAGES" / "notify.po", language)


@dataclass(frozen=True)
class Notification:
    subject: str
    body: str
    payload: dict[str, Any]
    """the webhook's JSON"""


def _message(incident: Incident, language: str, tz: ZoneInfo) -> str:
    """The incident's latest message in `language` when the control loop made it from a text with
    a key (energy.alarm_texts), else as stored."""
    if incident.message_key is None:
        return incident.message
    shown = translate(incident.message_key, incident.message_values or {}, language, tz)
    return shown if shown is not None else incident.message


def compose(
    incident: Incident,
    reason: Reason,
    site_name: str,
    console_url: str,
    tz: ZoneInfo,
    language: str = "de",
) -> Notification:
    """The notification of one incident in `language` (de or en), times in the site's zone."""
    if language not in _LOCALES:
        raise ValueError(f"language: expected one of {sorted(_LOCALES)}; found {language!r}")
    _ = _translations(language).gettext

    def when(value: dt.datetime) -> str:
        return format_datetime(value, "dd.MM.yyyy HH:mm zzz", tzinfo=tz, locale=_LOCALES[language])

    cause = ", ".join(_(_CAUSES[c]) if c in _CAUSES else c for c in incident.codes)
    severity = _(_SEVERITIES.get(incident.severity, incident.severity))
    link = f"{console_url.rstrip('/')}/{INCIDENTS_PATH}"
    devices = len(incident.sources)
    subject = _("[%(site)s] %(severity)s: %(cause)s (%(devices)d device(s))") % {
        "site": site_name,
        "severity": severity.capitalize(),
        "cause": cause,
        "devices": devices,
    }
    label = {text: _(text) for text in _LABELS}
    lines = [
        f"{_(_REASONS[reason])}: {site_name}",
        "",
        f"{label['Cause']}: {cause} ({', '.join(incident.codes)})",
        f"{label['Message']}: {_message(incident, language, tz)}",
        f"{label['Devices']} ({devices}): {', '.join(incident.sources)}",
        f"{label['Severity']}: {severity}",
        f"{label['First seen']}: {when(incident.first_seen)}",
        f"{label['Last seen']}: {when(incident.last_seen)}",
        f"{label['Reports']}: {incident.count}",
        "",
        f"{label['Acknowledge it in the console']}: {link}",
    ]
    payload = {
        "site": site_name,
        "reason": reason.value,
        "summary": subject,
        "codes": list(incident.codes),
        "cause": cause,
        "message": incident.message,
        "devices": list(incident.sources),
        "severity": incident.severity,
        "first_seen": incident.first_seen.isoformat(),
        "last_seen": incident.last_seen.isoformat(),
        "count": incident.count,
        "alarm_ids": list(incident.alarm_ids),
        "console_url": link,
    }
    return Notification(subject=subject, body="\n".join(lines) + "\n", payload=payload)
