"""Open data: district KPIs per local day and month as CSV and JSON, with DCAT-AP.de metadata.

    files = export_open_data(store, site, dt.date(2026, 6, 1), dt.date(2026, 6, 30), Path("out"))

Writes, for the local dates [first, last] (both included):

    <site>_kpi_day_<first>_<last>.csv / .json     one row per local day
    <site>_kpi_month_<first>_<last>.csv / .json   one row per local month (cut to the range)
    <site>_dcat.jsonld                            DCAT-AP.de dataset with the four distributions

Only district figures, through the same privacy rule as every other publication
(energy.datahub.privacy with kind KPIS: no house ever appears). Slots whose district rows are
missing are computed from the stored device readings first; periods with gaps carry their
coverage_frac. Units are in the column names (kWh, kg, fractions 0..1); times are local ISO
8601 with their offset (the period is a local calendar day or month).

DCAT-AP.de: dcat:Dataset with dct:title, dct:description, dcat:keyword, dcat:theme (EU data
themes ENER, ENVI), dct:publisher (foaf:Organization), dcat:contactPoint, dct:temporal
(dct:PeriodOfTime with dcat:startDate/endDate), dct:issued/modified, dct:accrualPeriodicity,
dcatde:contributorID and dcatde:politicalGeocodingURI when configured, and per file a
dcat:Distribution with dcat:accessURL/downloadURL, dct:format (EU file types), dcat:mediaType,
dct:license (dl-by-de/2.0 or cc-by/4.0 from the dcat-ap.de licence vocabulary),
dcatde:licenseAttributionByText and dcat:byteSize.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from energy.datahub.district import store_district_slot
from energy.datahub.kpis import KPI_COLUMNS, kpi_records, period_kpis, read_district_slots
from energy.datahub.privacy import publishable
from energy.datahub.records import Record, unit_of
from energy.publication_config import LICENCES, PublicationKind
from energy.site import Site
from energy.store.engine import Store
from energy.timegrid import SLOT

__all__ = ["OpenDataExport", "dcat_metadata", "export_open_data"]

log = logging.getLogger(__name__)

_THEMES = ("ENER", "ENVI")
_FORMATS = {
    "csv": ("CSV", "text/csv"),
    "json": ("JSON", "application/json"),
}


@dataclass(frozen=True)
class OpenDataExport:
    files: list[Path]
    days: int
    months: int
    slots_backfilled: int


def _backfill(store: Store, site: Site, start: dt.datetime, end: dt.datetime) -> int:
    """Compute the district rows of slots in [start, end) that have none yet; slots computed."""
    present = set(read_district_slots(store, site, start, end).index)
    done = 0
    for slot in pd.date_range(start, end, freq=SLOT, inclusive="left"):
        if slot not in present and store_district_slot(store, site, slot.to_pydatetime()):
            done += 1
    return done


def _rows(site: Site, records: list[Record]) -> list[dict[str, Any]]:
    rows = []
    for record in records:
        end = record.end or record.time
        rows.append(
            {
                "period_start": record.time.astimezone(site.tz).isoformat(),
                "period_end": end.astimezone(site.tz).isoformat(),
                **{name: record.values.get(name) for name in KPI_COLUMNS},
            }
        )
    return rows


def _write(path: Path, rows: list[dict[str, Any]], fmt: str, site: Site, period: str) -> None:
    if fmt == "csv":
        frame = pd.DataFrame(rows, columns=["period_start", "period_end", *KPI_COLUMNS])
        frame.to_csv(path, index=False, float_format="%.4f", encoding="utf-8")
        return
    document = {
        "site": site.id,
        "name": site.config.name,
        "period": period,
        "timezone": site.config.location.timezone,
        "units": {name: unit_of(name) for name in KPI_COLUMNS},
        "licence": LICENCES[site.config.publication.open_data.licence][0],
        "attribution": site.config.publication.open_data.attribution,
        "rows": rows,
    }
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def dcat_metadata(
    site: Site, first: dt.date, last: dt.date, files: list[Path], issued: dt.datetime
) -> dict[str, Any]:
    """The DCAT-AP.de description of the exported files (JSON-LD)."""
    meta = site.config.publication.open_data
    licence_uri, licence_name = LICENCES[meta.licence]
    stamp = {"@value": issued.astimezone(dt.UTC).isoformat(), "@type": "xsd:dateTime"}
    distributions = []
    for path in files:
        fmt, media = _FORMATS[path.suffix.lstrip(".")]
        period = "Tageswerte" if "_kpi_day_" in path.name else "Monatswerte"
        distributions.append(
            {
                "@type": "dcat:Distribution",
                "dct:title": {"@value": f"{period} ({fmt})", "@language": "de"},
                "dcat:accessURL": {"@id": meta.access_url},
                "dcat:downloadURL": {"@id": f"{meta.access_url.rstrip('/')}/{path.name}"},
                "dct:format": {
                    "@id": f"http://publications.europa.eu/resource/authority/file-type/{fmt}"
                },
                "dcat:mediaType": {"@id": f"http://www.iana.org/assignments/media-types/{media}"},
                "dct:license": {"@id": licence_uri},
                "dcatde:licenseAttributionByText": {"@value": meta.attribution, "@language": "de"},
                "dcat:byteSize": {"@value": path.stat().st_size, "@type": "xsd:decimal"},
                "dct:issued": stamp,
            }
        )
    dataset: dict[str, Any] = {
        "@context": {
            "dcat": "http://www.w3.org/ns/dcat#",
            "dct": "http://purl.org/dc/terms/",
            "dcatde": "http://dcat-ap.de/def/dcatde/",
            "foaf": "http://xmlns.com/foaf/0.1/",
            "vcard": "http://www.w3.org/2006/vcard/ns#",
            "xsd": "http://www.w3.org/2001/XMLSchema#",
        },
        "@id": meta.dataset_uri,
        "@type": "dcat:Dataset",
        "dct:identifier": meta.dataset_uri,
        "dct:title": {"@value": meta.title, "@language": "de"},
        "dct:description": {
            "@value": f"{meta.description} Lizenz: {licence_name}.",
            "@language": "de",
        },
        "dcat:keyword": [{"@value": k, "@language": "de"} for k in meta.keywords],
        "dcat:theme": [
            {"@id": f"http://publications.europa.eu/resource/authority/data-theme/{t}"}
            for t in _THEMES
        ],
        "dct:publisher": {
            "@id": meta.publisher_uri,
            "@type": "foaf:Organization",
            "foaf:name": meta.publisher_name,
        },
        "dct:temporal": {
            "@type": "dct:PeriodOfTime",
            "dcat:startDate": {"@value": first.isoformat(), "@type": "xsd:date"},
            "dcat:endDate": {"@value": last.isoformat(), "@type": "xsd:date"},
        },
        "dct:accrualPeriodicity": {
            "@id": "http://publications.europa.eu/resource/authority/frequency/MONTHLY"
        },
        "dct:issued": stamp,
        "dct:modified": stamp,
        "dcat:distribution": distributions,
    }
    if meta.contact_email:
        dataset["dcat:contactPoint"] = {
            "@type": "vcard:Organization",
            "vcard:fn": meta.publisher_name,
            "vcard:hasEmail": {"@id": f"mailto:{meta.contact_email}"},
        }
    if meta.contributor_id:
        dataset["dcatde:contributorID"] = {"@id": meta.contributor_id}
    if meta.political_geocoding_uri:
        dataset["dcatde:politicalGeocodingURI"] = {"@id": meta.political_geocoding_uri}
        dataset["dcatde:politicalGeocodingLevelURI"] = {
            "@id": "http://dcat-ap.de/def/politicalGeocoding/Level/municipality"
        }
    return dataset


def export_open_data(
    store: Store,
    site: Site,
    first: dt.date,
    last: dt.date,
    out_dir: Path,
    issued: dt.datetime | None = None,
) -> OpenDataExport:
    """Write the day and month KPI files and their DCAT-AP.de metadata (module docstring)."""
    if last < first:
        raise ValueError(f"--to ({last}) is before --from ({first})")
    tz = site.tz
    start = pd.Timestamp(first).tz_localize(tz).tz_convert("UTC").to_pydatetime()
    end = (
        pd.Timestamp(last + dt.timedelta(days=1)).tz_localize(tz).tz_convert("UTC").to_pydatetime()
    )
    backfilled = _backfill(store, site, start, end)
    slots = read_district_slots(store, site, start, end)
    out_dir.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    counts = {}
    for period in ("day", "month"):
        kpis = period_kpis(slots, site, start, end, period)
        records = publishable(site.config, kpi_records(kpis, period), [PublicationKind.KPIS])
        counts[period] = len(records)
        rows = _rows(site, records)
        for fmt in ("csv", "json"):
            path = out_dir / f"{site.id}_kpi_{period}_{first.isoformat()}_{last.isoformat()}.{fmt}"
            _write(path, rows, fmt, site, period)
            files.append(path)
    metadata = dcat_metadata(site, first, last, files, issued or dt.datetime.now(dt.UTC))
    meta_path = out_dir / f"{site.id}_dcat.jsonld"
    meta_path.write_text(
        json.dumps(metadata, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    log.info(
        "open data %s..%s: %d days, %d months to %s",
        first,
        last,
        counts["day"],
        counts["month"],
        out_dir,
    )
    return OpenDataExport([*files, meta_path], counts["day"], counts["month"], backfilled)
