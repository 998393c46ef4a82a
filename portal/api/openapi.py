"""The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json.

Written by hand as a Python dict, next to the views and serialise.py it describes; a test
validates it and checks that every route of the API is in it with its operationId."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from portal.api import bp
from portal.api.openapi_schemas import DATE, ID, SCHEMAS, ref

# operationId of each endpoint (the test walks app.url_map with this).
OPERATIONS = {
    "api.create_token": "createToken",
    "api.revoke_token": "revokeToken",
    "api.get_me": "getMe",
    "api.list_children": "listChildren",
    "api.get_current_plan": "getCurrentPlan",
    "api.get_adherence": "getAdherence",
    "api.get_assessments": "getAssessments",
    "api.list_occurrences": "listOccurrences",
    "api.create_logs": "createLogs",
    "api.update_log": "updateLog",
    "api.openapi": "getOpenApi",
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): {"$ref": f"#/components/responses/{ERROR_RESPONSES[s][0]}"} for s in statuses}


ERROR_RESPONSES = {
    400: (
        "BadRequest",
        "The body is not JSON, or not a JSON object (malformed_json, "
        "not_an_object). Nothing was changed.",
    ),
    401: (
        "Unauthenticated",
        "No token, or a token that is unknown, expired or revoked, or "
        "whose membership ended (unauthenticated). Carries WWW-Authenticate: Bearer.",
    ),
    403: ("Forbidden", "Allowed to see it, not to do this (forbidden)."),
    404: (
        "NotFound",
        "No such object that you may see; another organisation's objects answer "
        "exactly the same (not_found).",
    ),
    413: (
        "TooLarge",
        "The body is over 1 MB (too_large), or the batch has more than 500 logs "
        "(too_many_logs). Nothing was stored.",
    ),
    422: ("Invalid", "A field is missing or wrong (invalid); `field` names it."),
    429: ("RateLimited", "Too many failed attempts (rate_limited); see Retry-After."),
}

BEARER = [{"bearerAuth": []}]


def _op(
    operation_id: str,
    summary: str,
    ok: dict[str, Any],
    *errors: int,
    parameters: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    public: bool = False,
) -> dict[str, Any]:
    codes = set(errors) | ({400, 413} if body else set()) | (set() if public else {401})
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "responses": {**ok, **_errors(*sorted(codes))},
    }
    if parameters:
        operation["parameters"] = parameters
    if body:
        operation["requestBody"] = {"required": True, "content": {"application/json": body}}
    if public:
        operation["security"] = []
    return operation


def _path_id(name: str, what: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": ID, "description": what}


def _query(name: str, schema: dict[str, Any], required: bool, what: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": what,
    }


PATHS: dict[str, Any] = {
    "/tokens": {
        "post": _op(
            "createToken",
            "Sign in: a bearer token for your membership of one organisation.",
            {"201": _json(ref("CreatedToken"), "The token; its secret is shown only now.")},
            422,
            429,
            body={"schema": ref("TokenRequest")},
            public=True,
        )
    },
    "/tokens/current": {
        "delete": _op(
            "revokeToken",
            "Revoke the token this request carries.",
            {"204": {"description": "Revoked; it stops working at once."}},
        )
    },
    "/me": {"get": _op("getMe", "Who the token acts for.", {"200": _json(ref("Me"), "You.")})},
    "/children": {
        "get": _op(
            "listChildren",
            "The children on your care teams (every child, for an admin).",
            {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {"children": {"type": "array", "items": ref("Child")}},
                    },
                    "The children.",
                )
            },
        )
    },
    "/children/{child_id}/plan": {
        "get": _op(
            "getCurrentPlan",
            "The child's published plan version in effect today (the household's date).",
            {"200": _json(ref("Plan"), "The version and its activities.")},
            404,
            parameters=[_path_id("child_id", "The child.")],
        )
    },
    "/children/{child_id}/adherence": {
        "get": _op(
            "getAdherence",
            "How much of the child's plan was done between two of the child's local dates "
            "(at most five years): adherence and dose overall, per activity, per domain, and "
            "dose per domain and week. Always current: today's logs count at once.",
            {"200": _json(ref("Adherence"), "The child's adherence and dose.")},
            404,
            422,
            parameters=[
                _path_id("child_id", "The child."),
                _query("from", DATE, True, "First local date (YYYY-MM-DD)."),
                _query("to", DATE, True, "Last local date (included; at most five years on)."),
            ],
        )
    },
    "/children/{child_id}/assessments": {
        "get": _op(
            "getAssessments",
            "The child's complete assessments, newest first, each with its map per domain "
            "and every item's score. For the child's clinicians and admins; others on the "
            "care team get 403.",
            {
                "200": _json(
                    {
                        "type": "object",
                        "required": ["child_id", "assessments"],
                        "properties": {
                            "child_id": ID,
                            "assessments": {"type": "array", "items": ref("Assessment")},
                        },
                    },
                    "The assessments (drafts are not listed).",
                )
            },
            403,
            404,
            parameters=[_path_id("child_id", "The child.")],
        )
    },
    "/occurrences": {
        "get": _op(
            "listOccurrences",
            "Routines between two local dates (at most 62 days), each with its log: the home "
            "side for carers, the school side for teachers, both for clinicians and admins.",
            {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "from": DATE,
                            "to": DATE,
                            "occurrences": {"type": "array", "items": ref("Occurrence")},
                        },
                    },
                    "The occurrences in due order.",
                )
            },
            404,
            422,
            parameters=[
                _query("from", DATE, True, "First local date."),
                _query("to", DATE, True, "Last local date (included)."),
                _query("child_id", ID, False, "Only this child."),
            ],
        )
    },
    "/logs": {
        "post": _op(
            "createLogs",
            "Store up to 500 logs; one result per item. Idempotent by client_uuid; bad items "
            "get their own 4xx in `results` and the rest are still stored.",
            {
                "200": _json(
                    {
                        "type": "object",
                        "required": ["results"],
                        "properties": {"results": {"type": "array", "items": ref("LogResult")}},
                    },
                    "A result per item, in order.",
                )
            },
            422,
            body={"schema": ref("LogBatch")},
        )
    },
    "/logs/{log_id}": {
        "patch": _op(
            "updateLog",
            "Correct a log: only its author, only within 48 hours. Every correction is kept.",
            {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "log": ref("Log"),
                            "corrections": {"type": "array", "items": ref("Correction")},
                        },
                    },
                    "The corrected log and all its corrections.",
                )
            },
            403,
            404,
            422,
            parameters=[_path_id("log_id", "The log.")],
            body={"schema": ref("LogChanges")},
        )
    },
    "/openapi.json": {
        "get": _op(
            "getOpenApi",
            "This document.",
            {"200": _json({"type": "object"}, "OpenAPI 3.1.")},
            public=True,
        )
    },
}

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Cadence API",
        "version": "1",
        "description": "Daily routines of the children you care for or teach. Authenticate "
        "with `Authorization: Bearer cad_...` (createToken). Every error has the shape "
        '{"error": {"code", "message", "field"}}.',
    },
    "servers": [{"url": "/api/v1"}],
    "security": BEARER,
    "paths": PATHS,
    "components": {
        "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "cad_..."}
        },
        "schemas": SCHEMAS,
        "responses": {
            name: _json(ref("Error"), description) for name, description in ERROR_RESPONSES.values()
        },
    },
}


@bp.get("/openapi.json")
def openapi():  # type: ignore[no-untyped-def]
    return jsonify(SPEC)
