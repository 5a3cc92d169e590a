"""The publication rule, applied in one place to every record that leaves the platform.

`publishable(config, records, kinds)` returns what a target may receive:

- a record of a kind the target does not take is dropped;
- district records keep only the values of the district figures the site publishes
  (`publication.district`); a value name that maps to no figure is dropped (fail closed);
- a house record is kept only for a measurement of a house whose owner consented on the
  record's local date (`publication.consent`), and only with the values in
  `publication.house_quantities`; plans, forecasts and KPIs of single houses never leave;
- any record whose text (detail, series names) names a house without consent is dropped whole:
  a district record must not leak a house through a label.

Nothing here knows about MQTT, NGSI-LD or files: the publishers call it before encoding.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import replace
from typing import Any

from energy.config import SiteConfig
from energy.datahub.records import Record
from energy.publication_config import DistrictFigure, PublicationKind

__all__ = ["consenting_houses", "district_figure_of", "publishable"]

log = logging.getLogger(__name__)

#: district value names (without their planned_/forecast_ prefix) -> the figure they belong to
_DISTRICT_VALUES: dict[str, DistrictFigure] = {
    "grid_power_kw": DistrictFigure.GRID,
    "grid_import_kwh": DistrictFigure.GRID,
    "grid_export_kwh": DistrictFigure.GRID,
    "grid_import_total_kwh": DistrictFigure.GRID,
    "grid_export_total_kwh": DistrictFigure.GRID,
    "pv_power_kw": DistrictFigure.PV,
    "pv_energy_kwh": DistrictFigure.PV,
    "consumption_power_kw": DistrictFigure.CONSUMPTION,
    "consumption_kwh": DistrictFigure.CONSUMPTION,
    "heat_pump_power_kw": DistrictFigure.CONSUMPTION,
    "household_load_kw": DistrictFigure.CONSUMPTION,
    "storage_soc_frac": DistrictFigure.STORAGE,
    "storage_energy_kwh": DistrictFigure.STORAGE,
    "storage_power_kw": DistrictFigure.STORAGE,
    "self_sufficiency_frac": DistrictFigure.SELF_SUFFICIENCY,
    "self_consumption_frac": DistrictFigure.SELF_CONSUMPTION,
    "co2_kg": DistrictFigure.CO2,
    "co2_intensity_g_per_kwh": DistrictFigure.CO2,
    "coverage_frac": DistrictFigure.GRID,
}
_PREFIXES = ("planned_", "forecast_")
#: weather is not about anyone: published for the district whenever WEATHER is a target kind
_WEATHER_VALUES = frozenset({"temp_outdoor_c", "ghi_w_per_m2", "dni_w_per_m2", "dhi_w_per_m2"})
_HOUSE_KINDS = frozenset({PublicationKind.MEASUREMENTS})


def district_figure_of(name: str) -> DistrictFigure | None:
    """The district figure a value belongs to (None: not a publishable district value)."""
    for prefix in _PREFIXES:
        name = name.removeprefix(prefix)
    return _DISTRICT_VALUES.get(name)


def consenting_houses(config: SiteConfig, on: dt.date) -> list[str]:
    """House ids whose owners consented on that local date, in configuration order."""
    return [h.id for h in config.houses if config.publication.consenting(h.id, on)]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _strings(item)


def _mentions(record: Record, house_ids: Collection[str]) -> str | None:
    """The first house id of `house_ids` that appears as a token in the record's text."""
    if not house_ids:
        return None
    pattern = re.compile(
        r"(?<![A-Za-z0-9_-])(" + "|".join(re.escape(h) for h in house_ids) + r")(?![A-Za-z0-9_-])"
    )
    for text in _strings([dict(record.detail), list(record.series), list(record.values)]):
        found = pattern.search(text)
        if found:
            return found.group(1)
    return None


def _district(config: SiteConfig, record: Record, kinds: Collection[PublicationKind]) -> Record:
    allowed = set(config.publication.district)

    def keep(name: str) -> bool:
        if record.kind is PublicationKind.WEATHER:
            return name in _WEATHER_VALUES
        figure = district_figure_of(name)
        return figure is not None and figure in allowed

    return replace(
        record,
        values={k: v for k, v in record.values.items() if keep(k)},
        series={k: v for k, v in record.series.items() if keep(k)},
    )


def _house_values(config: SiteConfig, record: Record) -> Record:
    allowed = {q.value for q in config.publication.house_quantities}
    return replace(
        record,
        values={k: v for k, v in record.values.items() if k in allowed},
        series={},
    )


def publishable(
    config: SiteConfig, records: Iterable[Record], kinds: Collection[PublicationKind]
) -> list[Record]:
    """The records (trimmed to their publishable values) a target taking `kinds` may receive."""
    houses = {h.id for h in config.houses}
    out: list[Record] = []
    for record in records:
        if record.kind not in kinds:
            continue
        local_date = record.time.astimezone(config.tz).date()
        withheld = houses - set(consenting_houses(config, local_date))
        leaked = _mentions(record, withheld)
        if leaked is not None:
            log.error(
                "withheld a %s record of %s: it names house %s, whose owner has not consented",
                record.kind.value,
                record.subject,
                leaked,
            )
            continue
        if record.house_id is None:
            trimmed = _district(config, record, kinds)
        elif record.house_id not in houses:
            log.error("withheld a record of unknown house %r", record.house_id)
            continue
        elif record.kind not in _HOUSE_KINDS or record.house_id in withheld:
            continue
        else:
            trimmed = _house_values(config, record)
        if trimmed.values or trimmed.series:
            out.append(trimmed)
    return out
