"""The MQTT topic tree and JSON payloads of the data hub (docs/datahub.md shows examples).

Topics, under `<prefix>/<site id>/`:

    status                          retained  {"state": "online" | "offline", "time": ...}
    district/measurements                     district aggregates of a window (poll or minute)
    district/weather                          outdoor temperature measured in the district
    district/plan                   retained  the active plan as district series
    district/forecasts              retained  the forecast behind it, district sums
    district/kpis/day               retained  today's KPIs so far (local day)
    houses/<house id>/measurements            a consenting house's own values

Payloads are JSON objects: `site`, `subject` ("district" or the house id), `kind`, `time` (start
of the period, UTC, ISO 8601 with Z), `end` (its end, or null), `values` ({name: {"value": x,
"unit": u}}), for plans and forecasts `slots` (UTC starts) and `series` ({name: {"unit": u,
"values": [...]}}), `detail` and `seq`, the publisher's sequence number (increasing by one per
message; a subscriber that sees a gap knows it lost something, a repeat is a QoS 1 redelivery).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from energy.datahub.records import Record, unit_of
from energy.publication_config import PublicationKind

__all__ = [
    "RETAINED_KINDS",
    "decode_payload",
    "encode_payload",
    "status_payload",
    "status_topic",
    "topic_for",
]

RETAINED_KINDS = frozenset({PublicationKind.PLAN, PublicationKind.FORECASTS, PublicationKind.KPIS})


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _parse_utc(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"expected a UTC time with Z; found {text!r}")
    return value.astimezone(dt.UTC)


def status_topic(prefix: str, site_id: str) -> str:
    return f"{prefix}/{site_id}/status"


def status_payload(state: str, now: dt.datetime) -> bytes:
    return json.dumps({"state": state, "time": _utc(now)}).encode()


def topic_for(record: Record, prefix: str, site_id: str) -> str:
    """The topic a record is published on (see module docstring)."""
    base = f"{prefix}/{site_id}"
    if record.house_id is not None:
        return f"{base}/houses/{record.house_id}/{record.kind.value}"
    if record.kind is PublicationKind.KPIS:
        return f"{base}/district/kpis/{record.detail.get('period', 'day')}"
    return f"{base}/district/{record.kind.value}"


def encode_payload(record: Record, site_id: str) -> dict[str, Any]:
    """The JSON object of a record (without `seq`, which the outbox adds)."""
    payload: dict[str, Any] = {
        "site": site_id,
        "subject": record.subject,
        "kind": record.kind.value,
        "time": _utc(record.time),
        "end": _utc(record.end) if record.end is not None else None,
        "values": {
            name: {"value": value, "unit": unit_of(name)} for name, value in record.values.items()
        },
    }
    if record.series:
        payload["slots"] = [_utc(s) for s in record.slots]
        payload["series"] = {
            name: {"unit": unit_of(name), "values": list(values)}
            for name, values in record.series.items()
        }
    if record.detail:
        payload["detail"] = dict(record.detail)
    return payload


def decode_payload(data: bytes | str) -> tuple[str, Record, int | None]:
    """Parse a published payload back: (site id, record, seq). ValueError names what is wrong."""
    try:
        obj = json.loads(data)
    except json.JSONDecodeError as exc:
        raise ValueError(f"payload is not JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object; found {type(obj).__name__}")
    try:
        values = {}
        for name, item in obj["values"].items():
            if item["unit"] != unit_of(name):
                raise ValueError(
                    f"value {name!r}: unit {item['unit']!r}, expected {unit_of(name)!r}"
                )
            values[name] = item["value"]
        series = {name: tuple(item["values"]) for name, item in obj.get("series", {}).items()}
        record = Record(
            PublicationKind(obj["kind"]),
            None if obj["subject"] == "district" else obj["subject"],
            _parse_utc(obj["time"]),
            values,
            end=_parse_utc(obj["end"]) if obj.get("end") else None,
            slots=tuple(_parse_utc(s) for s in obj.get("slots", [])),
            series=series,
            detail=obj.get("detail", {}),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"payload lacks or mistypes {exc}") from exc
    return str(obj["site"]), record, obj.get("seq")
