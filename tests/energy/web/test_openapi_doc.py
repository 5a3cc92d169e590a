"""The OpenAPI document lists every status code an operation answers, and the bounds."""

from __future__ import annotations

from web_support import Web

from energy.store.users import Role

ALWAYS = {"401", "403", "503"}


def test_every_operation_documents_its_error_codes(web: Web) -> None:
    document = web.app.openapi()
    for path, operations in document["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            codes = set(operation["responses"])
            where = f"{method.upper()} {path}"
            assert codes >= ALWAYS, where
            if operation.get("parameters") or "requestBody" in operation:
                assert "422" in codes, where
            if "requestBody" in operation:
                assert "400" in codes, where
            if "{" in path and method != "get":
                assert "404" in codes, where


def test_time_bounds_and_the_series_span_are_in_the_schema(web: Web) -> None:
    operation = web.app.openapi()["paths"]["/api/measurements/series"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    for name in ("start", "end"):
        schema = parameters[name]["schema"]
        assert schema["x-minimum"].startswith("1970-01-01")
        assert schema["x-maximum"].startswith("2200-12-31")
    assert parameters["end"]["schema"]["x-max-span-days"] == 31
    assert "31 days" in parameters["end"]["description"]


def test_a_routes_own_422_has_the_documented_shape(web: Web) -> None:
    response = web.client.get(
        "/api/measurements/series",
        params={
            "asset_id": "grid",
            "quantity": "power_kw",
            "start": "2026-01-01T00:00:00Z",
            "end": "2026-03-01T00:00:00Z",
        },
        headers=web.auth(Role.VIEWER),
    )
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert "31 days" in error["msg"]
