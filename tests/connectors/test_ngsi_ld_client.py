"""The NGSI-LD client against a local context broker answering as the NGSI-LD API documents:
201, 204, 207, 400, 401, 503 and timeouts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from connectors.ngsi_ld_client import (
    NgsiLdClient,
    NgsiLdRejectedError,
    NgsiLdUnavailableError,
)
from tests.connectors.ngsi_ld_broker_support import FakeContextBroker

CONTEXT = ["https://smart-data-models.github.io/dataModel.Energy/context.jsonld"]


def _entity(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:SolarEnergy:site:{n}",
        "type": "SolarEnergy",
        "totalActivePower": {"type": "Property", "value": 1000.0 * n, "unitCode": "WTT"},
        "@context": CONTEXT,
        **extra,
    }


@pytest.fixture
def broker() -> Iterator[FakeContextBroker]:
    with FakeContextBroker(token="secret") as instance:
        yield instance


def _client(broker: FakeContextBroker, **kwargs: Any) -> NgsiLdClient:
    options: dict[str, Any] = {"token": "secret", "retries": 2, "backoff_s": 0.0, "timeout_s": 2.0}
    return NgsiLdClient(broker.url, **(options | kwargs))


def test_201_reports_the_created_ids_and_204_the_updates(broker: FakeContextBroker) -> None:
    client = _client(broker, tenant="herne")
    first = client.upsert([_entity(1), _entity(2)])
    assert first.created == ["urn:ngsi-ld:SolarEnergy:site:1", "urn:ngsi-ld:SolarEnergy:site:2"]
    assert first.ok
    again = client.upsert([_entity(1), _entity(2)])
    assert again.created == []
    assert again.updated == 2
    request = broker.requests[-1]
    assert request["headers"]["content-type"] == "application/ld+json"
    assert request["headers"]["ngsild-tenant"] == "herne"
    assert json.loads(request["body"])[0]["@context"] == CONTEXT
    client.close()


def test_207_keeps_the_stored_and_reports_the_refused(broker: FakeContextBroker) -> None:
    client = _client(broker)
    bad = _entity(3, id="not-a-uri")
    result = client.upsert([_entity(1), bad])
    assert not result.ok
    assert "not a URI" in result.errors["not-a-uri"]
    assert result.updated == 1
    assert "urn:ngsi-ld:SolarEnergy:site:1" in broker.entities
    assert result.attempts == 1  # a refused entity is not retried


def test_400_is_rejected_with_the_brokers_reason(broker: FakeContextBroker) -> None:
    client = _client(broker)
    no_context = {k: v for k, v in _entity(1).items() if k != "@context"}
    with pytest.raises(NgsiLdRejectedError, match=r"HTTP 400.*@context") as raised:
        client.upsert([no_context])
    assert raised.value.status == 400
    assert len(broker.requests) == 1


def test_401_names_the_credentials_and_is_not_retried(broker: FakeContextBroker) -> None:
    client = _client(broker, token="wrong")
    with pytest.raises(NgsiLdRejectedError, match="HTTP 401: Unauthorized"):
        client.upsert([_entity(1)])
    assert len(broker.requests) == 1


def test_503_is_retried_then_succeeds(broker: FakeContextBroker) -> None:
    broker.unavailable = 2
    result = _client(broker).upsert([_entity(1)])
    assert result.created == ["urn:ngsi-ld:SolarEnergy:site:1"]
    assert result.attempts == 3


def test_timeouts_are_retried_then_reported(broker: FakeContextBroker) -> None:
    broker.delay_s = 1.0
    client = _client(broker, timeout_s=0.2, retries=1)
    with pytest.raises(NgsiLdUnavailableError, match=r"timed out.*after 2 attempts"):
        client.upsert([_entity(1)])


def test_an_unreachable_broker_is_unavailable() -> None:
    client = NgsiLdClient("http://127.0.0.1:9", retries=0, timeout_s=1.0)
    with pytest.raises(NgsiLdUnavailableError, match="connection failed"):
        client.upsert([_entity(1)])


def test_large_upserts_go_in_batches(broker: FakeContextBroker) -> None:
    result = _client(broker, batch_size=3).upsert([_entity(n) for n in range(7)])
    assert len(result.created) == 7
    assert [len(json.loads(r["body"])) for r in broker.requests] == [3, 3, 1]
