"""/api/docs: the API's documentation as a page of this app, drawn from the OpenAPI document on
the server (no JavaScript bundle, no CDN: it works where the console has no internet access).
The machine-readable document stays at /api/openapi.json."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from energy.web.auth import Permission, Principal, require
from energy.web.pages import render

__all__ = ["Operation", "operations", "router"]

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, Depends(require(Permission.READ))]

_METHODS = ("get", "post", "put", "patch", "delete")


@dataclass
class Operation:
    method: str
    path: str
    tag: str
    summary: str
    description: str
    parameters: list[dict[str, Any]]
    body: str | None
    responses: list[tuple[str, str]]


def _schema_text(schema: dict[str, Any]) -> str:
    """A schema reference by its name, else the schema as compact JSON."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(_schema_text(s) for s in schema["anyOf"])
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        return f"array of {_schema_text(schema['items'])}"
    return str(schema.get("type") or json.dumps(schema, sort_keys=True))


def operations(document: dict[str, Any]) -> list[Operation]:
    """Every operation of an OpenAPI document, by tag and path."""
    found = []
    for path, item in document.get("paths", {}).items():
        for method in _METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            content: dict[str, Any] = (op.get("requestBody") or {}).get("content", {})
            first: dict[str, Any] = next(iter(content.values()), {})
            body = first.get("schema")
            found.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    tag=(op.get("tags") or ["other"])[0],
                    summary=op.get("summary", ""),
                    description=op.get("description", ""),
                    parameters=[
                        {
                            "name": p.get("name"),
                            "in": p.get("in"),
                            "required": bool(p.get("required")),
                            "schema": _schema_text(p.get("schema", {})),
                        }
                        for p in op.get("parameters", [])
                    ],
                    body=_schema_text(body) if isinstance(body, dict) else None,
                    responses=[
                        (code, str(r.get("description", "")))
                        for code, r in sorted(op.get("responses", {}).items())
                    ],
                )
            )
    return sorted(found, key=lambda o: (o.tag, o.path, _METHODS.index(o.method.lower())))


@router.get("/api/docs", response_class=HTMLResponse)
def docs_page(request: Request, principal: Reader) -> HTMLResponse:
    document = request.app.openapi()
    schemas = document.get("components", {}).get("schemas", {})
    return render(
        request,
        "api_docs.html",
        principal,
        document=document,
        operations=operations(document),
        schemas={name: json.dumps(s, indent=2, sort_keys=True) for name, s in schemas.items()},
    )
