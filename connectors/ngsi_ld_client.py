"""A client for an NGSI-LD context broker (ETSI GS CIM 009: Orion-LD, Scorpio, Stellio):
batch upsert of entities with their @context, with retries.

    client = NgsiLdClient("http://broker:1026", token="...", tenant="herne")
    result = client.upsert(entities)          # POST /ngsi-ld/v1/entityOperations/upsert

Replies, as the API documents them:

- 201 Created (body: the ids created) and 204 No Content (all updated): success;
- 207 Multi-Status (body: BatchOperationResult {"success": [ids], "errors": [{"entityId",
  "error": ProblemDetails}]}): the entities in `success` were stored, the others are reported
  in `UpsertResult.errors` and not retried (the broker judged them; resending changes nothing);
- 400 Bad Request, 401 Unauthorized, 403, 404, 413, 422: NgsiLdRejectedError (not retried: the
  request or the credentials must change), with the ProblemDetails title and detail;
- 5xx, 429, timeouts and connection errors: retried `retries` times with exponential backoff,
  then NgsiLdUnavailableError.

`options=update` is not used: an upsert replaces each entity's attributes with ours, so an
attribute we stopped sending (a withdrawn consent) does not linger at the broker.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = [
    "NgsiLdClient",
    "NgsiLdError",
    "NgsiLdRejectedError",
    "NgsiLdUnavailableError",
    "UpsertResult",
]

log = logging.getLogger(__name__)

UPSERT_PATH = "/ngsi-ld/v1/entityOperations/upsert"
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class NgsiLdError(RuntimeError):
    """Base of the client's errors; the message names the broker, the status and the reason."""


class NgsiLdRejectedError(NgsiLdError):
    """The broker refused the request (4xx); retrying the same request would not help."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class NgsiLdUnavailableError(NgsiLdError):
    """The broker did not answer usefully within the retries (timeouts, 5xx)."""


@dataclass
class UpsertResult:
    created: list[str] = field(default_factory=list)
    updated: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    """entity id -> the broker's reason, for entities a 207 reply reported as failed"""
    attempts: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


def _problem(response: httpx.Response) -> str:
    """ProblemDetails (RFC 7807) as 'title: detail', else the body's start."""
    try:
        body = response.json()
    except (json.JSONDecodeError, ValueError):
        return response.text[:300] or "(empty body)"
    if isinstance(body, dict):
        parts = [str(body.get(k)) for k in ("title", "detail") if body.get(k)]
        if parts:
            return ": ".join(parts)
    return json.dumps(body)[:300]


class NgsiLdClient:
    """See the module docstring. Synchronous (httpx); the platform calls it in a worker thread."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        tenant: str | None = None,
        timeout_s: float = 10.0,
        retries: int = 3,
        backoff_s: float = 1.0,
        batch_size: int = 100,
        transport: httpx.BaseTransport | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.backoff_s = backoff_s
        self.batch_size = batch_size
        headers = {"Content-Type": "application/ld+json", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if tenant:
            headers["NGSILD-Tenant"] = tenant
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout_s, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def upsert(self, entities: Sequence[dict[str, Any]]) -> UpsertResult:
        """Create or replace the entities, in batches of batch_size (see module docstring)."""
        result = UpsertResult()
        for first in range(0, len(entities), self.batch_size):
            self._upsert_batch(list(entities[first : first + self.batch_size]), result)
        return result

    def _post(self, batch: list[dict[str, Any]], result: UpsertResult) -> httpx.Response:
        where = f"{self.base_url}{UPSERT_PATH}"
        last = ""
        for attempt in range(self.retries + 1):
            result.attempts += 1
            try:
                response = self._http.post(UPSERT_PATH, content=json.dumps(batch))
            except httpx.TimeoutException as exc:
                last = f"timed out ({type(exc).__name__})"
            except httpx.TransportError as exc:
                last = f"connection failed: {exc}"
            else:
                if response.status_code not in _RETRY_STATUS:
                    return response
                last = f"HTTP {response.status_code}: {_problem(response)}"
            if attempt < self.retries:
                delay = self.backoff_s * 2**attempt
                log.warning("NGSI-LD upsert to %s: %s; retry in %.1f s", where, last, delay)
                time.sleep(delay)
        raise NgsiLdUnavailableError(
            f"NGSI-LD broker {where}: {last} (after {self.retries + 1} attempts)"
        )

    def _upsert_batch(self, batch: list[dict[str, Any]], result: UpsertResult) -> None:
        response = self._post(batch, result)
        status = response.status_code
        where = f"{self.base_url}{UPSERT_PATH}"
        if status == 201:
            body = response.json() if response.content else []
            result.created += [str(x) for x in body] if isinstance(body, list) else []
            result.updated += len(batch) - (len(body) if isinstance(body, list) else 0)
        elif status == 204:
            result.updated += len(batch)
        elif status == 207:
            body = response.json()
            if not isinstance(body, dict):
                raise NgsiLdError(f"NGSI-LD broker {where}: 207 without a BatchOperationResult")
            result.updated += len(body.get("success", []))
            for error in body.get("errors", []):
                problem = error.get("error", {})
                reason = ": ".join(
                    str(problem.get(k)) for k in ("title", "detail") if problem.get(k)
                )
                result.errors[str(error.get("entityId"))] = reason or json.dumps(problem)
            log.error("NGSI-LD broker %s refused entities: %s", where, result.errors)
        elif 400 <= status < 500:
            raise NgsiLdRejectedError(
                f"NGSI-LD broker {where}: HTTP {status}: {_problem(response)}", status
            )
        else:
            raise NgsiLdError(
                f"NGSI-LD broker {where}: unexpected HTTP {status}: {_problem(response)}"
            )
