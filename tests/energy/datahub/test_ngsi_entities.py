"""Every NGSI-LD entity we emit passes pysmartdatamodels' check against the Smart Data Models
(schemas served from the committed copies: the library fetches them by URL), the custom
DispatchPlan passes its own schema, and no house without consent appears in any entity."""

from __future__ import annotations

import datetime as dt
import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pysmartdatamodels as sdm
import pytest
import requests

from energy.datahub.district import read_window, window_records
from energy.datahub.ngsi_entities import build_entities, key_values, weather_forecast_entities
from energy.datahub.ngsi_job import NgsiLdJob
from energy.datahub.plans import plan_record
from energy.datahub.privacy import consenting_houses, publishable
from energy.physics.weather_feed import TryWeatherFeed
from energy.publication_config import NgsiLdTargetConfig, PublicationKind
from energy.site import Site
from energy.store import Store
from energy.store.publication import publication_status
from energy.timegrid import SLOT
from tests.connectors.ngsi_ld_broker_support import FakeContextBroker
from tests.energy.datahub.conftest import CONSENTING, NOW, WITHHELD
from tests.energy.web.web_support import make_plan

SCHEMAS = Path(__file__).parent / "data" / "sdm"
SUBJECTS = {
    "ACMeasurement": "dataModel.Energy",
    "ThreePhaseAcMeasurement": "dataModel.Energy",
    "SolarEnergy": "dataModel.Energy",
    "EnergyCommunity": "dataModel.EnergyCommunity",
    "EnergyProsumer": "dataModel.EnergyCommunity",
    "WeatherObserved": "dataModel.Weather",
    "WeatherForecast": "dataModel.Weather",
}


class _Local:
    """What requests.get returns, for a schema file served from SCHEMAS."""

    def __init__(self, path: Path):
        self.content = path.read_bytes()
        self.status_code = 200

    def json(self, **kwargs: Any) -> Any:
        return json.loads(self.content, **kwargs)

    def raise_for_status(self) -> None:
        return None


@pytest.fixture
def offline_schemas(monkeypatch: pytest.MonkeyPatch) -> None:
    """pysmartdatamodels and jsonref fetch schemas with requests.get: answer from the files."""

    def get(url: str, *args: Any, **kwargs: Any) -> _Local:
        path = url.split("#")[0]
        name = path.rsplit("/", 1)[-1]
        if name == "schema.json":
            name = f"{path.rsplit('/', 2)[-2]}.schema.json"
        local = SCHEMAS / name
        if not local.exists():
            raise AssertionError(f"schema {url} is not among the committed copies")
        return _Local(local)

    monkeypatch.setattr(requests, "get", get)


def _entities(site: Site, store: Store) -> list[dict[str, Any]]:
    config = NgsiLdTargetConfig(enabled=True)
    end = NOW - dt.timedelta(minutes=1)
    start = end - dt.timedelta(minutes=1)
    records = window_records(site, read_window(store, site.id, start, end), start, end)
    records.append(plan_record(site, store, make_plan(site, store, NOW)))
    allowed = publishable(site.config, records, list(PublicationKind))
    members = consenting_houses(site.config, NOW.date())
    entities = build_entities(site, config, allowed, members)
    forecast = TryWeatherFeed(site).forecast(NOW, 4 * 25 * SLOT)
    return entities + weather_forecast_entities(site, config, forecast, NOW, hours=3)


def test_every_entity_passes_the_smart_data_models(
    hub_site: Site, hub_store: Store, offline_schemas: None
) -> None:
    entities = _entities(hub_site, hub_store)
    types = {e["type"] for e in entities}
    assert types >= {
        "EnergyCommunity",
        "EnergyProsumer",
        "ACMeasurement",
        "SolarEnergy",
        "WeatherObserved",
        "WeatherForecast",
        "DispatchPlan",
    }
    for entity in entities:
        if entity["type"] == "DispatchPlan":
            continue
        result = sdm.validate_payload(entity["type"], SUBJECTS[entity["type"]], key_values(entity))
        assert result["result"], (entity["id"], result["details"])
        assert not any(d.startswith("Warning") for d in result["details"]), (entity["id"], result)


def test_the_offline_check_catches_a_broken_entity(offline_schemas: None) -> None:
    """The served schemas really are applied: a required attribute missing, a wrong type and
    an attribute the model does not define are all reported."""
    broken = {
        "id": "urn:ngsi-ld:ACMeasurement:x",
        "type": "ACMeasurement",
        "totalActivePower": "high",
    }
    result = sdm.validate_payload("ACMeasurement", "dataModel.Energy", broken)
    assert not result["result"]
    assert any("phaseType" in d for d in result["details"])
    extra = {"id": "urn:ngsi-ld:EnergyCommunity:x", "type": "EnergyCommunity", "autarky": 0.5}
    result = sdm.validate_payload("EnergyCommunity", "dataModel.EnergyCommunity", extra)
    assert any("autarky" in d for d in result["details"])


def test_the_dispatch_plan_passes_its_documented_schema(hub_site: Site, hub_store: Store) -> None:
    schema = json.loads(
        files("energy.datahub").joinpath("schemas/DispatchPlan.schema.json").read_text()
    )
    (plan,) = [e for e in _entities(hub_site, hub_store) if e["type"] == "DispatchPlan"]
    jsonschema.validate(key_values(plan), schema, format_checker=jsonschema.FormatChecker())
    assert len(plan["slotStarts"]["value"]) == len(plan["plannedGridPower"]["value"])


def test_no_house_without_consent_in_any_entity(hub_site: Site, hub_store: Store) -> None:
    text = json.dumps(_entities(hub_site, hub_store))
    assert CONSENTING in text
    for house in hub_site.houses:
        if house.id != CONSENTING:
            assert house.id not in text
    assert WITHHELD not in text


def test_the_job_upserts_to_the_broker_and_records_its_status(
    hub_site: Site, hub_store: Store
) -> None:
    with FakeContextBroker() as broker:
        config = NgsiLdTargetConfig(enabled=True, url=broker.url, retries=0)
        feed = TryWeatherFeed(hub_site)
        job = NgsiLdJob(
            hub_site,
            hub_store,
            config,
            dt.timedelta(seconds=10),
            lambda issue, slots: feed.forecast(issue, slots * SLOT),
        )
        detail = job.run(NOW)
        assert "created" in detail
        assert f"urn:ngsi-ld:EnergyProsumer:{hub_site.id}:{CONSENTING}" in broker.entities
        assert not any(WITHHELD in entity_id for entity_id in broker.entities)
    (row,) = publication_status(hub_store, hub_site.id)
    assert row["target"] == "ngsi_ld"
    assert row["last_success_at"] == NOW
    assert row["failing_since"] is None
