"""The schemas (JSON shapes) of the OpenAPI document; they describe portal/api/serialise.py."""

from __future__ import annotations

from typing import Any

from routines.logs import MAX_BATCH, MINUTES_MAX, NOTE_MAX
from routines.models import AROUSAL_STATES, LOG_STATUSES, OCCURRENCE_STATUSES, SKIP_REASONS


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    if kind is None:
        return {"anyOf": [schema, {"type": "null"}]}
    return {**schema, "type": [kind, "null"]}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


DATE = {"type": "string", "format": "date", "examples": ["2026-11-23"]}
INSTANT = {"type": "string", "format": "date-time", "examples": ["2026-11-23T19:30:00Z"]}
ID = {"type": "integer", "minimum": 1}

SCHEMAS: dict[str, Any] = {
    "ErrorDetail": {
        "type": "object",
        "required": ["code", "message", "field"],
        "properties": {
            "code": {
                "type": "string",
                "description": "Stable, for programs: bad_request, malformed_json, "
                "not_an_object, unauthenticated, forbidden, not_found, method_not_allowed, "
                "conflict, too_large, too_many_logs, invalid, rate_limited, busy, server_error.",
            },
            "message": {"type": "string", "description": "Plain English, for people."},
            "field": nullable({"type": "string"}),
        },
    },
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": ref("ErrorDetail")},
    },
    "TokenRequest": {
        "type": "object",
        "required": ["email", "password", "organisation"],
        "properties": {
            "email": {"type": "string", "format": "email"},
            "password": {"type": "string"},
            "organisation": {"type": "string", "description": "The organisation's slug."},
            "name": {
                "type": "string",
                "maxLength": 120,
                "description": "A label, e.g. the device.",
            },
        },
    },
    "CreatedToken": {
        "type": "object",
        "required": ["token", "token_id", "expires_at", "organisation", "membership_id"],
        "properties": {
            "token": {"type": "string", "description": "Shown once: cad_..."},
            "token_id": ID,
            "name": {"type": "string"},
            "expires_at": INSTANT,
            "organisation": {
                "type": "object",
                "properties": {"slug": {"type": "string"}, "name": {"type": "string"}},
            },
            "membership_id": ID,
        },
    },
    "Me": {
        "type": "object",
        "required": ["user", "organisation", "membership_id", "roles", "token"],
        "properties": {
            "user": {
                "type": "object",
                "properties": {
                    "id": ID,
                    "name": {"type": "string"},
                    "email": {"type": "string"},
                    "time_zone": {"type": "string"},
                },
            },
            "organisation": {
                "type": "object",
                "properties": {
                    "slug": {"type": "string"},
                    "name": {"type": "string"},
                    "time_zone": {"type": "string"},
                },
            },
            "membership_id": ID,
            "roles": {
                "type": "array",
                "items": {"enum": ["admin", "clinician", "carer", "teacher"]},
            },
            "token": {
                "type": "object",
                "properties": {
                    "id": ID,
                    "name": {"type": "string"},
                    "prefix": {"type": "string"},
                    "created_at": INSTANT,
                    "expires_at": INSTANT,
                    "last_used_at": nullable(INSTANT),
                },
            },
        },
    },
    "Child": {
        "type": "object",
        "required": ["id", "name", "time_zone"],
        "properties": {
            "id": ID,
            "name": {"type": "string"},
            "time_zone": {"type": "string", "description": "The household's IANA zone."},
            "household": nullable({"type": "string"}),
            "classroom": nullable({"type": "string", "description": "School, class."}),
            "logs_side": {
                "enum": ["home", "school", None],
                "description": "Which side of the child's routines you log (null: neither).",
            },
        },
    },
    "Schedule": {
        "type": "object",
        "properties": {
            "frequency": {
                "type": "object",
                "description": 'Days (0 = Monday) and a mode: {"days": [...], "mode": '
                '"times", "times": ["07:30"]}, "anchors" (["before_bed", ...]) or "spread" '
                '({"count": 3, "from": "09:00", "to": "17:00"}).',
                "additionalProperties": True,
            },
            "time_zone": {"type": "string"},
            "start_date": DATE,
            "end_date": nullable(DATE),
        },
    },
    "PlanActivity": {
        "type": "object",
        "properties": {
            "id": ID,
            "activity": {
                "type": "object",
                "properties": {
                    "id": ID,
                    "name": {"type": "string"},
                    "instructions": {"type": "string"},
                },
            },
            "domain": {"type": "string"},
            "rs": {"type": "array", "items": {"type": "string"}},
            "minutes": {"type": "integer"},
            "assignee": {"enum": ["household", "carer", "teacher", "classroom"]},
            "side": {"enum": ["home", "school"]},
            "notes": {"type": "string"},
            "schedule": ref("Schedule"),
        },
    },
    "Plan": {
        "type": "object",
        "properties": {
            "child_id": ID,
            "version": {
                "type": "object",
                "properties": {
                    "id": ID,
                    "number": {"type": "integer"},
                    "effective_from": DATE,
                    "published_at": nullable(INSTANT),
                },
            },
            "activities": {"type": "array", "items": ref("PlanActivity")},
        },
    },
    "Log": {
        "type": "object",
        "properties": {
            "id": ID,
            "client_uuid": {"type": "string", "format": "uuid"},
            "occurrence_id": ID,
            "child_id": ID,
            "status": {"enum": list(LOG_STATUSES)},
            "reason": {"enum": [*SKIP_REASONS, None]},
            "minutes": nullable({"type": "integer"}),
            "state_before": {"enum": [*AROUSAL_STATES, None]},
            "state_after": {"enum": [*AROUSAL_STATES, None]},
            "enjoyment": nullable({"type": "integer"}),
            "note": {"type": "string"},
            "source": {"type": "string"},
            "logged_at": INSTANT,
            "created_at": INSTANT,
            "updated_at": nullable(INSTANT),
            "author_id": nullable(ID),
            "can_correct": {"type": "boolean", "description": "You made it, under 48 h ago."},
        },
    },
    "Occurrence": {
        "type": "object",
        "properties": {
            "id": ID,
            "child_id": ID,
            "activity": {
                "type": "object",
                "properties": {
                    "id": ID,
                    "name": {"type": "string"},
                    "minutes": {"type": "integer", "description": "The library's typical."},
                    "instructions": {"type": "string"},
                },
            },
            "side": {"enum": ["home", "school"]},
            "assignee": {"enum": ["household", "carer", "teacher", "classroom"]},
            "local_date": DATE,
            "local_time": {"type": "string", "examples": ["07:30"]},
            "time_zone": {"type": "string"},
            "due_utc": INSTANT,
            "due_local": {
                "type": "string",
                "format": "date-time",
                "examples": ["2026-11-23T07:30:00-05:00"],
            },
            "minutes": {"type": "integer", "description": "Planned for this occurrence."},
            "status": {"enum": [s for s in OCCURRENCE_STATUSES if s != "withdrawn"]},
            "log": {"anyOf": [ref("Log"), {"type": "null"}]},
        },
    },
    "LogChanges": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "status": {"enum": list(LOG_STATUSES)},
            "reason": {
                "enum": [*SKIP_REASONS, None],
                "description": "Required with skipped; not with done.",
            },
            "minutes": nullable({"type": "integer", "minimum": 0, "maximum": MINUTES_MAX}),
            "state_before": {"enum": [*AROUSAL_STATES, None]},
            "state_after": {"enum": [*AROUSAL_STATES, None]},
            "enjoyment": nullable({"type": "integer", "minimum": 1, "maximum": 5}),
            "note": nullable({"type": "string", "maxLength": NOTE_MAX}),
        },
    },
    "NewLog": {
        "allOf": [
            ref("LogChanges"),
            {
                "type": "object",
                "required": ["client_uuid", "occurrence_id", "status"],
                "properties": {
                    "client_uuid": {
                        "type": "string",
                        "format": "uuid",
                        "description": "Made by the client; the same UUID sent "
                        "again gets the stored log (200), with other content 409.",
                    },
                    "occurrence_id": ID,
                    "child_id": {**ID, "description": "If given, must be the occurrence's."},
                    "logged_at": {
                        **INSTANT,
                        "description": "When it was logged on the device (default: now).",
                    },
                },
            },
        ]
    },
    "LogBatch": {
        "type": "object",
        "required": ["logs"],
        "properties": {
            "logs": {"type": "array", "maxItems": MAX_BATCH, "items": ref("NewLog")},
        },
    },
    "LogResult": {
        "type": "object",
        "required": ["client_uuid", "status", "outcome", "log", "error"],
        "properties": {
            "client_uuid": nullable({"type": "string"}),
            "status": {
                "type": "integer",
                "description": "201 created, 200 repeat, 403, 404, 409 or 422 for this item.",
            },
            "outcome": {"enum": ["created", "repeat", "conflict", "refused"]},
            "log": {"anyOf": [ref("Log"), {"type": "null"}]},
            "error": {"anyOf": [ref("ErrorDetail"), {"type": "null"}]},
        },
    },
    "Correction": {
        "type": "object",
        "properties": {
            "corrected_at": INSTANT,
            "corrected_by_id": nullable(ID),
            "before": {"type": "object"},
            "after": {"type": "object"},
        },
    },
}
