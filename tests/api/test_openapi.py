"""The OpenAPI document: served without a token, a valid OpenAPI 3.1 document, and it
describes every route of the API with the operationIds the issue names."""

from __future__ import annotations

import re

from openapi_spec_validator import validate

from portal.api.openapi import OPERATIONS

REQUIRED = {
    "createToken", "getMe", "listChildren", "getCurrentPlan", "listOccurrences", "createLogs",
    "updateLog",
}  # fmt: skip


def test_served_without_a_token_and_valid(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    validate(spec)
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert spec["components"]["schemas"]["Error"]["required"] == ["error"]


def test_every_api_route_is_described_with_its_operation_id(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    prefix = spec["servers"][0]["url"]
    described = {
        (prefix + path, method.upper()): operation["operationId"]
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    }
    routed = {}
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routed[(path, method)] = OPERATIONS[rule.endpoint]
    assert routed == described
    assert REQUIRED <= set(described.values())
    ids = list(described.values())
    assert len(ids) == len(set(ids))


def test_operations_with_an_id_declare_it_and_all_errors_share_one_schema(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path, item in spec["paths"].items():
        for name in re.findall(r"{([a-z_]+)}", path):
            for operation in item.values():
                declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
                assert name in declared, (path, name)
        for operation in item.values():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert response["$ref"].startswith("#/components/responses/")
    for response in spec["components"]["responses"].values():
        schema = response["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Error"}
