"""A small NGSI-LD context broker for the tests: a real HTTP server that answers the batch
upsert as the ETSI NGSI-LD API (and Orion-LD's documentation) describes it.

POST /ngsi-ld/v1/entityOperations/upsert with a JSON array of entities:
- Content-Type other than application/ld+json or application/json, a body that is not a JSON
  array: 400 with ProblemDetails (type .../errors/BadRequestData);
- a wrong or missing bearer token (when `token` is set): 401 with ProblemDetails;
- entities without id, type or (for ld+json) @context are errors of their own: with some good
  ones the reply is 207 BatchOperationResult {"success": [...], "errors": [{"entityId",
  "error": ProblemDetails}]}; with none stored, 400;
- otherwise 201 with the ids created when any entity was new, else 204.
`unavailable` answers the next n requests with 503; `delay_s` holds every answer (timeouts).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"


class FakeContextBroker:
    def __init__(self, token: str | None = None):
        self.token = token
        self.entities: dict[str, dict[str, Any]] = {}
        self.requests: list[dict[str, Any]] = []
        self.unavailable = 0
        self.delay_s = 0.0
        broker = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status, reply = broker.handle(self.path, dict(self.headers), body)
                if broker.delay_s:
                    time.sleep(broker.delay_s)
                payload = json.dumps(reply).encode() if reply is not None else b""
                self.send_response(status)
                if reply is not None:
                    ctype = "application/problem+json" if status >= 400 else "application/json"
                    self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeContextBroker:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @staticmethod
    def _problem(kind: str, title: str, detail: str) -> dict[str, str]:
        return {"type": ERRORS + kind, "title": title, "detail": detail}

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        headers = {k.lower(): v for k, v in headers.items()}
        self.requests.append({"path": path, "headers": headers, "body": body})
        if self.unavailable > 0:
            self.unavailable -= 1
            return 503, self._problem("InternalError", "Service Unavailable", "try again later")
        if not path.startswith("/ngsi-ld/v1/entityOperations/upsert"):
            return 404, self._problem("ResourceNotFound", "Not Found", path)
        if self.token is not None and headers.get("authorization") != f"Bearer {self.token}":
            return 401, self._problem("Unauthorized", "Unauthorized", "invalid or missing token")
        ctype = headers.get("content-type", "").split(";")[0].strip()
        if ctype not in ("application/ld+json", "application/json"):
            return 415 if ctype else 400, self._problem(
                "BadRequestData", "Unsupported Media Type", f"Content-Type {ctype!r}"
            )
        try:
            entities = json.loads(body)
        except json.JSONDecodeError as exc:
            return 400, self._problem("InvalidRequest", "JSON Parse Error", str(exc))
        if not isinstance(entities, list):
            return 400, self._problem("BadRequestData", "Invalid payload", "not a JSON array")
        success: list[str] = []
        created: list[str] = []
        errors: list[dict[str, Any]] = []
        for entity in entities:
            problem = self._check(entity, ctype)
            entity_id = entity.get("id") if isinstance(entity, dict) else None
            if problem:
                errors.append(
                    {
                        "entityId": entity_id,
                        "error": self._problem("BadRequestData", "Invalid entity", problem),
                    }
                )
                continue
            if entity_id not in self.entities:
                created.append(entity_id)
            self.entities[entity_id] = entity
            success.append(entity_id)
        if errors and success:
            return 207, {"success": success, "errors": errors}
        if errors:
            return 400, self._problem(
                "BadRequestData", "Invalid entities", json.dumps(errors)[:500]
            )
        return (201, created) if created else (204, None)

    @staticmethod
    def _check(entity: Any, ctype: str) -> str | None:
        if not isinstance(entity, dict):
            return "an entity must be a JSON object"
        for key in ("id", "type"):
            if not isinstance(entity.get(key), str):
                return f"entity lacks {key}"
        if ctype == "application/ld+json" and "@context" not in entity:
            return "application/ld+json needs @context in every entity"
        if not entity["id"].startswith("urn:"):
            return f"id {entity['id']!r} is not a URI"
        return None
