"""The publication section of the site YAML: which data leaves the platform, how fine, to whom.

    publication:
      district: [grid, pv, consumption, storage, self_sufficiency, self_consumption, co2]
      house_quantities: [meter_power_kw, pv_power_kw, battery_soc_frac]
      consent:
        house-03: {granted: true, date: 2026-03-01}
      mqtt: {enabled: true, host: broker.example, port: 8883, ...}
      ngsi_ld: {enabled: true, url: https://context.example, ...}
      open_data: {licence: dl-de/by-2-0, publisher_name: ..., ...}

The rule it encodes (energy.datahub.privacy applies it to every record that leaves): district
aggregates go to every enabled target; a house's own values only for a house whose owner
consented (consent with the date of the declaration, withdrawable); plans and forecasts only as
district aggregates, never per house; open data only district figures per day and month. A house
not listed under `consent` has not consented.

This module is part of the domain kernel: it validates, it does not connect to anything.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "DistrictFigure",
    "HouseConsent",
    "HouseQuantity",
    "MqttTargetConfig",
    "NgsiLdTargetConfig",
    "OpenDataConfig",
    "PublicationConfig",
    "PublicationKind",
]

PositiveFloat = Annotated[float, Field(gt=0.0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DistrictFigure(StrEnum):
    """District aggregates that may be published (each a group of values with units)."""

    GRID = "grid"  # grid_power_kw (import positive), grid import/export energy
    PV = "pv"  # pv_power_kw, pv_energy_kwh
    CONSUMPTION = "consumption"  # consumption_power_kw: household load + heat pumps
    STORAGE = "storage"  # storage_soc_frac (capacity-weighted), storage_energy_kwh
    SELF_SUFFICIENCY = "self_sufficiency"  # autarky: 1 - import / consumption
    SELF_CONSUMPTION = "self_consumption"  # 1 - export / PV generation
    CO2 = "co2"  # co2_kg of the grid import, grid emission factor


class HouseQuantity(StrEnum):
    """Per-house values that may leave the platform for a consenting house."""

    METER_POWER_KW = "meter_power_kw"
    PV_POWER_KW = "pv_power_kw"
    BATTERY_SOC_FRAC = "battery_soc_frac"
    BATTERY_POWER_KW = "battery_power_kw"
    HEAT_PUMP_POWER_KW = "heat_pump_power_kw"


class PublicationKind(StrEnum):
    """Kinds of records a target can receive."""

    MEASUREMENTS = "measurements"
    PLAN = "plan"
    FORECASTS = "forecasts"
    KPIS = "kpis"
    WEATHER = "weather"


class HouseConsent(_Model):
    """An owner's declaration for one house: granted (or withdrawn) on `date`."""

    granted: bool
    date: dt.date = Field(description="date of the owner's declaration (granted or withdrawn)")
    reference: str | None = Field(None, description="where the signed declaration is filed")


class _TargetConfig(_Model):
    enabled: bool = False
    kinds: list[PublicationKind] = Field(default_factory=lambda: list(PublicationKind))
    alarm_after_s: PositiveFloat = Field(
        600.0, description="an alarm is raised when the target has failed for longer than this"
    )


class MqttTargetConfig(_TargetConfig):
    """An MQTT broker (the city's data hub or a local Mosquitto)."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 1883
    topic_prefix: str = "kv"
    client_id: str | None = Field(None, description="default kv-<site id>")
    qos: Literal[0, 1, 2] = 1
    keepalive_s: Annotated[int, Field(ge=5, le=3600)] = 30
    measurements_every: Literal["poll", "minute"] = Field(
        "minute", description="poll: each poll's values; minute: means over each site minute"
    )
    tls: bool = False
    ca_file: str | None = Field(None, description="CA bundle (PEM); default: the system's")
    cert_file: str | None = Field(None, description="client certificate (PEM), if required")
    key_file: str | None = None
    credentials_file: str | None = Field(
        None,
        description="YAML file with username and password (relative to the config file); "
        "KV_MQTT_USERNAME / KV_MQTT_PASSWORD win",
    )
    queue_dir: str | None = Field(
        None, description="on-disk queue directory; default <data_dir>/datahub"
    )
    queue_max_messages: Annotated[int, Field(ge=10)] = Field(
        200_000, description="the queue bound: beyond it the oldest messages are dropped"
    )
    drain_batch: Annotated[int, Field(ge=1, le=10_000)] = 500
    ack_timeout_s: PositiveFloat = 10.0

    @field_validator("topic_prefix")
    @classmethod
    def _plain_topic_level(cls, value: str) -> str:
        if not value or any(c in value for c in "+#\x00") or value.startswith("/"):
            raise ValueError(
                f"expected topic levels without wildcards or a leading '/' (kv, herne/kv); "
                f"found {value!r}"
            )
        return value.rstrip("/")

    @model_validator(mode="after")
    def _key_with_cert(self) -> MqttTargetConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together (client certificate)")
        if (self.cert_file or self.ca_file) and not self.tls:
            raise ValueError("ca_file/cert_file are given but tls is false")
        return self


NGSI_LD_CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
SMART_DATA_MODELS_CONTEXTS = (
    "https://smart-data-models.github.io/dataModel.Energy/context.jsonld",
    "https://smart-data-models.github.io/dataModel.EnergyCommunity/context.jsonld",
    "https://smart-data-models.github.io/dataModel.Weather/context.jsonld",
)


class NgsiLdTargetConfig(_TargetConfig):
    """An NGSI-LD context broker (Orion-LD, Scorpio, Stellio)."""

    url: str = Field("http://127.0.0.1:1026", description="broker base URL, without /ngsi-ld/v1")
    context: list[str] = Field(
        default_factory=lambda: [*SMART_DATA_MODELS_CONTEXTS, NGSI_LD_CORE_CONTEXT],
        description="@context of every entity",
    )
    tenant: str | None = Field(None, description="NGSILD-Tenant header")
    token_file: str | None = Field(
        None,
        description="file with a bearer token (relative to the config file); KV_NGSI_TOKEN wins",
    )
    interval_s: PositiveFloat = Field(60.0, description="push every this many site seconds")
    timeout_s: PositiveFloat = 10.0
    retries: Annotated[int, Field(ge=0, le=10)] = 3
    backoff_s: Annotated[float, Field(ge=0)] = 1.0
    batch_size: Annotated[int, Field(ge=1, le=1000)] = 100
    id_prefix: str = Field("urn:ngsi-ld", description="entity ids are <prefix>:<Type>:<site>:...")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"expected an http(s) URL; found {value!r}")
        return value.rstrip("/")


LICENCES = {
    "dl-de/by-2-0": (
        "http://dcat-ap.de/def/licenses/dl-by-de/2.0",
        "Datenlizenz Deutschland – Namensnennung – Version 2.0",
    ),
    "cc-by-4.0": (
        "http://dcat-ap.de/def/licenses/cc-by/4.0",
        "Creative Commons Namensnennung – 4.0 International (CC BY 4.0)",
    ),
}


class OpenDataConfig(_Model):
    """Metadata of the open-data export (DCAT-AP.de)."""

    licence: Literal["dl-de/by-2-0", "cc-by-4.0"] = "dl-de/by-2-0"
    attribution: str = Field(
        "Stadtwerke Herne AG",
        description="the text users must name (dcatde:licenseAttributionByText)",
    )
    title: str = "Klimaviertel Herne-Sodingen: Energiekennzahlen des Quartiers"
    description: str = (
        "Tages- und Monatswerte des Klimaviertels Herne-Sodingen: Netzbezug und Einspeisung, "
        "PV-Erzeugung, Verbrauch, Autarkiegrad, Eigenverbrauchsquote und CO2 des Netzbezugs. "
        "Nur Quartierssummen, keine Daten einzelner Haushalte."
    )
    keywords: list[str] = Field(
        default_factory=lambda: ["Energie", "Photovoltaik", "Quartier", "Klimaschutz", "Herne"]
    )
    publisher_name: str = "Stadtwerke Herne AG"
    publisher_uri: str = "https://www.stadtwerke-herne.de"
    contact_email: str | None = None
    contributor_id: str | None = Field(
        None,
        description="dcatde:contributorID of the portal (http://dcat-ap.de/def/contributors/...)",
    )
    political_geocoding_uri: str | None = Field(
        None, description="dcatde:politicalGeocodingURI (the municipality key of Herne)"
    )
    dataset_uri: str = Field(
        "https://opendata.herne.de/dataset/klimaviertel-energie",
        description="the dataset's identifier on the portal",
    )
    access_url: str = Field(
        "https://opendata.herne.de/dataset/klimaviertel-energie",
        description="where the files are downloaded (distribution accessURL base)",
    )


class PublicationConfig(_Model):
    """See the module docstring."""

    district: list[DistrictFigure] = Field(default_factory=lambda: list(DistrictFigure))
    house_quantities: list[HouseQuantity] = Field(
        default_factory=lambda: [
            HouseQuantity.METER_POWER_KW,
            HouseQuantity.PV_POWER_KW,
            HouseQuantity.BATTERY_SOC_FRAC,
        ]
    )
    consent: dict[str, HouseConsent] = Field(default_factory=dict)
    mqtt: MqttTargetConfig = MqttTargetConfig()
    ngsi_ld: NgsiLdTargetConfig = NgsiLdTargetConfig()
    open_data: OpenDataConfig = OpenDataConfig()

    def consenting(self, house_id: str, on: dt.date) -> bool:
        """True when the owner of `house_id` has consented on `on` (a local date)."""
        entry = self.consent.get(house_id)
        return entry is not None and entry.granted and entry.date <= on
