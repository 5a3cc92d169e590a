"""The OpenAPI document states every status code an operation can answer, and the bounds.

FastAPI documents the success code and, for operations with parameters, 422. The others are
added here, so that a client (and the schemathesis test, which checks status codes and response
bodies against this document) knows them: 401 (no or an unknown token or session), 403 (the
role lacks the permission; a session request without its CSRF token), 503 (the store is
unavailable), 400 for operations with a body (the body is not JSON), and what a route declares itself (404, 409; see `NOT_FOUND` and `CONFLICT`).
Errors other than 422 carry `{"detail": "..."}`; every 422 carries FastAPI's validation list
(energy.web.app normalises the routes' own 422s to it).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

__all__ = ["CONFLICT", "NOT_FOUND", "ErrorOut", "install_documented_openapi"]


class ErrorOut(BaseModel):
    """An error with a human-readable reason."""

    detail: str


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description}


NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _error("the named object does not exist")}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: _error("the object is not in a state that allows this")
}

_ALWAYS = {
    "401": "authentication required: no, an unknown or a revoked token or session",
    "403": "the role lacks the permission, or a session request lacks its CSRF token",
    "503": "the store is unavailable (the reason says since when); retry later",
}


def install_documented_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` return the completed document (built once)."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.setdefault("ErrorOut", ErrorOut.model_json_schema())
        for path, operations in schema.get("paths", {}).items():
            if not path.startswith("/api/"):
                continue
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                always = dict(_ALWAYS)
                if "requestBody" in operation:
                    always["400"] = "the body is not JSON"
                for code, description in always.items():
                    responses.setdefault(
                        code,
                        {
                            "description": description,
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/ErrorOut"}
                                }
                            },
                        },
                    )
        app.openapi_schema = schema
        return schema

    app.openapi = build  # type: ignore[method-assign]
