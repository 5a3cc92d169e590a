"""The district as NGSI-LD entities of the FIWARE Smart Data Models (normalized representation).

From records that already passed the privacy filter (energy.datahub.privacy):

| entity | Smart Data Model | id |
|---|---|---|
| the district | EnergyCommunity (dataModel.EnergyCommunity) | urn:ngsi-ld:EnergyCommunity:<site> |
| a consenting house | EnergyProsumer (dataModel.EnergyCommunity) | urn:ngsi-ld:EnergyProsumer:<site>:<house> |
| grid connection meter | ACMeasurement (dataModel.Energy) | urn:ngsi-ld:ACMeasurement:<site>:grid |
| a consenting house's meter | ACMeasurement | urn:ngsi-ld:ACMeasurement:<site>:<house> |
| the district's PV | SolarEnergy (dataModel.Energy) | urn:ngsi-ld:SolarEnergy:<site> |
| a consenting house's PV | SolarEnergy | urn:ngsi-ld:SolarEnergy:<site>:<house> |
| outdoor weather measured | WeatherObserved (dataModel.Weather) | urn:ngsi-ld:WeatherObserved:<site> |
| weather forecast, hour h | WeatherForecast (dataModel.Weather) | urn:ngsi-ld:WeatherForecast:<site>:h<hh> |
| the active plan | DispatchPlan (ours, no model exists) | urn:ngsi-ld:DispatchPlan:<site> |

Units follow each model's documented default, stated with UN/CEFACT codes in `unitCode`: power
in W (WTT), energy in kWh (KWH), temperature in degC (CEL), irradiance in W/m2 (D54). Times are
UTC. Multi-valued relationships (hasMember) are NGSI-LD multi-attributes, one instance per
member with its datasetId. `key_values` gives the simplified representation the models' JSON
schemas describe (used to validate what we emit).

DispatchPlan (documented in docs/datahub.md and energy/datahub/schemas/DispatchPlan.schema.json):
version, planState, validFrom, validTo, slotMinutes, slotStarts and per slot plannedGridPower,
plannedStoragePower, plannedPvPower, plannedHeatPumpPower (W, sign: import and charging
positive), refEnergyCommunity.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pandas as pd

from energy.datahub.records import Record
from energy.publication_config import HouseQuantity, NgsiLdTargetConfig, PublicationKind
from energy.site import Site

__all__ = ["build_entities", "entity_id", "key_values", "weather_forecast_entities"]

Entity = dict[str, Any]


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def entity_id(config: NgsiLdTargetConfig, kind: str, site_id: str, part: str | None = None) -> str:
    return f"{config.id_prefix}:{kind}:{site_id}" + (f":{part}" if part else "")


def _prop(
    value: Any, unit: str | None = None, observed: dt.datetime | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "Property", "value": value}
    if unit is not None:
        out["unitCode"] = unit
    if observed is not None:
        out["observedAt"] = _utc(observed)
    return out


def _time(value: dt.datetime) -> dict[str, Any]:
    return {"type": "Property", "value": {"@type": "DateTime", "@value": _utc(value)}}


def _rel(target: str) -> dict[str, Any]:
    return {"type": "Relationship", "object": target}


def _location(site: Site) -> dict[str, Any]:
    loc = site.config.location
    return {
        "type": "GeoProperty",
        "value": {"type": "Point", "coordinates": [loc.longitude_deg, loc.latitude_deg]},
    }


def _watts(kw: float | None) -> float | None:
    return None if kw is None else round(kw * 1000.0, 1)


class _Builder:
    def __init__(self, site: Site, config: NgsiLdTargetConfig):
        self.site = site
        self.config = config

    def id(self, kind: str, part: str | None = None) -> str:
        return entity_id(self.config, kind, self.site.id, part)

    def entity(self, kind: str, part: str | None, attrs: dict[str, Any]) -> Entity:
        body = {k: v for k, v in attrs.items() if v is not None and not _empty_prop(v)}
        return {
            "id": self.id(kind, part),
            "type": kind,
            **body,
            "@context": list(self.config.context),
        }

    def community(self, members: Sequence[str]) -> Entity:
        config = self.site.config
        return self.entity(
            "EnergyCommunity",
            None,
            {
                "name": _prop(config.name),
                "description": _prop(
                    f"{config.name}: district of {len(config.houses)} houses behind one grid "
                    "connection (aggregates only; houses listed with their owners' consent)"
                ),
                "communityType": _prop("renewableEnergyCommunity"),
                "location": _location(self.site),
                "hasMember": [
                    {**_rel(self.id("EnergyProsumer", h)), "datasetId": f"urn:ngsi-ld:Dataset:{h}"}
                    for h in members
                ]
                or None,
                "aggregatesConsumption": _rel(self.id("ACMeasurement", "grid")),
                "aggregatesProduction": _rel(self.id("SolarEnergy")),
                "usesWeatherForecast": _rel(self.id("WeatherForecast", "h01")),
            },
        )

    def grid(self, record: Record) -> Entity:
        v, t = record.values, record.end or record.time
        return self.entity(
            "ACMeasurement",
            "grid",
            {
                "name": _prop("grid connection point"),
                "location": _location(self.site),
                "dateObserved": _time(t),
                "dateObservedFrom": _time(record.time),
                "dateObservedTo": _time(t),
                "phaseType": _prop("threePhase"),
                "totalActivePower": _prop(_watts(v.get("grid_power_kw")), "WTT", t),
                "totalActiveEnergyImport": _prop(v.get("grid_import_total_kwh"), "KWH", t),
                "totalActiveEnergyExport": _prop(v.get("grid_export_total_kwh"), "KWH", t),
            },
        )

    def solar(self, record: Record, part: str | None, kw: float | None) -> Entity:
        t = record.end or record.time
        return self.entity(
            "SolarEnergy",
            part,
            {
                "name": _prop(f"PV of {part}" if part else "PV of the district"),
                "location": _location(self.site),
                "observationDateTime": _time(t),
                "totalActivePower": _prop(_watts(kw), "WTT", t),
                "energyGenerated": _prop(record.values.get("pv_energy_kwh"), "KWH", t)
                if part is None
                else None,
            },
        )

    def prosumer(self, house: str) -> Entity:
        """A consenting house; its meter and PV are related only when they are published."""
        config = next(h for h in self.site.config.houses if h.id == house)
        shown = set(self.site.config.publication.house_quantities)
        meter = HouseQuantity.METER_POWER_KW in shown and config.meter is not None
        pv = HouseQuantity.PV_POWER_KW in shown and config.pv is not None
        return self.entity(
            "EnergyProsumer",
            house,
            {
                "name": _prop(house),
                "roleType": _prop("prosumer" if config.pv is not None else "consumer"),
                "timezone": _prop(self.site.config.location.timezone),
                "memberOf": _rel(self.id("EnergyCommunity")),
                "consumes": [_rel(self.id("ACMeasurement", house))] if meter else None,
                "produces": [_rel(self.id("SolarEnergy", house))] if pv else None,
            },
        )

    def house(self, record: Record) -> list[Entity]:
        house = record.house_id
        assert house is not None
        v, t = record.values, record.end or record.time
        out = []
        if "meter_power_kw" in v:
            out.append(
                self.entity(
                    "ACMeasurement",
                    house,
                    {
                        "name": _prop(f"meter of {house}"),
                        "location": _location(self.site),
                        "dateObserved": _time(t),
                        "phaseType": _prop("threePhase"),
                        "totalActivePower": _prop(_watts(v["meter_power_kw"]), "WTT", t),
                    },
                )
            )
        if "pv_power_kw" in v:
            out.append(self.solar(record, house, v["pv_power_kw"]))
        return out

    def weather(self, record: Record) -> Entity:
        t = record.end or record.time
        return self.entity(
            "WeatherObserved",
            None,
            {
                "name": _prop(f"weather measured in {self.site.config.name}"),
                "location": _location(self.site),
                "dateObserved": _time(t),
                "temperature": _prop(record.values.get("temp_outdoor_c"), "CEL", t),
            },
        )

    def plan(self, record: Record) -> Entity:
        s = record.series
        detail = record.detail

        def watts(name: str) -> list[float | None] | None:
            return [_watts(x) for x in s[name]] if name in s else None

        return self.entity(
            "DispatchPlan",
            None,
            {
                "name": _prop(f"dispatch plan of {self.site.config.name}"),
                "version": _prop(detail.get("version")),
                "planState": _prop(detail.get("state")),
                "dateCreated": _time(dt.datetime.fromisoformat(detail["created_at"]))
                if "created_at" in detail
                else None,
                "validFrom": _time(record.time),
                "validTo": _time(record.end) if record.end else None,
                "slotMinutes": _prop(detail.get("slot_minutes", 15)),
                "slotStarts": _prop([_utc(x) for x in record.slots]),
                "plannedGridPower": _prop(watts("planned_grid_power_kw"), "WTT"),
                "plannedStoragePower": _prop(watts("planned_storage_power_kw"), "WTT"),
                "plannedPvPower": _prop(watts("planned_pv_power_kw"), "WTT"),
                "plannedHeatPumpPower": _prop(watts("planned_heat_pump_power_kw"), "WTT"),
                "refEnergyCommunity": _rel(self.id("EnergyCommunity")),
            },
        )


def _empty_prop(value: Any) -> bool:
    return (
        isinstance(value, dict) and value.get("type") == "Property" and value.get("value") is None
    )


def build_entities(
    site: Site, config: NgsiLdTargetConfig, records: Sequence[Record], members: Sequence[str]
) -> list[Entity]:
    """Entities for publishable records (see module docstring). `members`: the consenting
    houses, listed as the community's members, each with its EnergyProsumer."""
    b = _Builder(site, config)
    out = [b.community(members)] + [b.prosumer(h) for h in members]
    for record in records:
        if record.kind is PublicationKind.MEASUREMENTS and record.house_id is None:
            out.append(b.grid(record))
            out.append(b.solar(record, None, record.values.get("pv_power_kw")))
        elif record.kind is PublicationKind.MEASUREMENTS:
            out += b.house(record)
        elif record.kind is PublicationKind.WEATHER:
            out.append(b.weather(record))
        elif record.kind is PublicationKind.PLAN:
            out.append(b.plan(record))
    return out


def weather_forecast_entities(
    site: Site,
    config: NgsiLdTargetConfig,
    forecast: pd.DataFrame,
    issued: dt.datetime,
    hours: int = 24,
) -> list[Entity]:
    """Hourly WeatherForecast entities from a weather feed's forecast (index UTC slot starts,
    column temp_outdoor_c), for the next `hours` hours; h01 is the hour starting next."""
    b = _Builder(site, config)
    if forecast.empty or "temp_outdoor_c" not in forecast:
        return []
    hourly = forecast["temp_outdoor_c"].resample("1h").mean().dropna()
    hourly = hourly[hourly.index >= pd.Timestamp(issued).floor("h")].iloc[:hours]
    out = []
    for number, (start, temp) in enumerate(hourly.items(), start=1):
        begin = pd.Timestamp(start).to_pydatetime()
        end = begin + dt.timedelta(hours=1)
        out.append(
            b.entity(
                "WeatherForecast",
                f"h{number:02d}",
                {
                    "name": _prop(f"weather forecast for {site.config.name}, hour {number}"),
                    "location": _location(site),
                    "dateIssued": _time(issued),
                    "validFrom": _time(begin),
                    "validTo": _time(end),
                    "validity": _prop(f"{_utc(begin)}/{_utc(end)}"),
                    "temperature": _prop(round(float(temp), 2), "CEL"),
                },
            )
        )
    return out


def key_values(entity: Entity) -> dict[str, Any]:
    """The simplified (keyValues) representation of a normalized entity, without @context."""
    out: dict[str, Any] = {}
    for name, attr in entity.items():
        if name == "@context":
            continue
        if name in ("id", "type"):
            out[name] = attr
        elif isinstance(attr, list):
            out[name] = [_plain(a) for a in attr]
        else:
            out[name] = _plain(attr)
    return out


def _plain(attr: dict[str, Any]) -> Any:
    if attr["type"] == "Relationship":
        return attr["object"]
    value = attr["value"]
    if isinstance(value, dict) and value.get("@type") == "DateTime":
        return value["@value"]
    return value
