"""The schemas (JSON shapes) of the OpenAPI document; they describe portal/api/serialise.py."""

from __future__ import annotations

from typing import Any

from routines.logs import MAX_BATCH, MINUTES_MAX, NOTE_MAX
from routines.metrics import DOMAINS
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
COUNT = {"type": "integer", "minimum": 0}
DOMAIN = {"enum": list(DOMAINS), "description": "A domain of the model, named bottom-up."}
ADHERENCE = {
    **nullable({"type": "number", "minimum": 0, "maximum": 1}),
    "description": "Done counts 1, partly 0.5, skipped and missed 0, over the routines that "
    "count (excused and pending ones do not), rounded to 4 places; null when none count.",
}
FIGURES = {
    "adherence": ADHERENCE,
    "counts": ref("OutcomeCounts"),
    "dose_minutes": {
        **COUNT,
        "description": "Minutes done: as logged, else as planned (half for partly).",
    },
    "planned_minutes": {**COUNT, "description": "Minutes planned for the routines that count."},
}

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
    "OutcomeCounts": {
        "type": "object",
        "required": ["done", "partly", "skipped", "missed", "excused", "pending"],
        "properties": {
            "done": COUNT,
            "partly": COUNT,
            "skipped": COUNT,
            "missed": COUNT,
            "excused": {**COUNT, "description": "The child was away: not counted."},
            "pending": {**COUNT, "description": "Not yet due or not yet marked: not counted."},
        },
    },
    "ActivityAdherence": {
        "type": "object",
        "required": ["activity_id", "name", *FIGURES],
        "properties": {"activity_id": ID, "name": {"type": "string"}, **FIGURES},
    },
    "DomainAdherence": {
        "type": "object",
        "required": ["domain", "label", *FIGURES],
        "properties": {"domain": DOMAIN, "label": {"type": "string"}, **FIGURES},
    },
    "WeeklyDose": {
        "type": "object",
        "required": ["week_start", "domain", "minutes"],
        "properties": {
            "week_start": {**DATE, "description": "The Monday the week starts on."},
            "domain": DOMAIN,
            "minutes": COUNT,
        },
    },
    "Adherence": {
        "type": "object",
        "required": [
            "child_id",
            "from",
            "to",
            *FIGURES,
            "threshold",
            "adherent",
            "by_activity",
            "by_domain",
            "dose_per_week",
        ],  # fmt: skip
        "properties": {
            "child_id": ID,
            "from": DATE,
            "to": DATE,
            **FIGURES,
            "threshold": {
                "type": "number",
                "minimum": 0,
                "maximum": 1,
                "description": "The organisation's adherent level (0.8 unless it chose another).",
            },
            "adherent": {
                **nullable({"type": "boolean"}),
                "description": "Whether adherence reaches the threshold (null: none count).",
            },
            "by_activity": {
                "type": "array",
                "items": ref("ActivityAdherence"),
            },
            "by_domain": {
                "type": "array",
                "description": "Bottom-up.",
                "items": ref("DomainAdherence"),
            },
            "dose_per_week": {
                "type": "array",
                "description": "Per week (Monday first) and domain, for the weeks in the range.",
                "items": ref("WeeklyDose"),
            },
        },
    },
    "AgeBand": {
        "type": "object",
        "required": ["code", "label"],
        "properties": {"code": {"type": "string"}, "label": {"type": "string"}},
    },
    "AssessmentDomain": {
        "type": "object",
        "required": [
            "domain",
            "label",
            "score",
            "expected",
            "percent",
            "band",
            "developmental_age",
        ],  # fmt: skip
        "properties": {
            "domain": DOMAIN,
            "label": {"type": "string"},
            "score": COUNT,
            "expected": {**COUNT, "description": "Typical for the child's age band."},
            "percent": {
                "type": "number",
                "minimum": 0,
                "maximum": 100,
                "description": "Score as a percent of typical, at most 100, to 2 places.",
            },
            "band": {"enum": ["red", "yellow", "green"]},
            "developmental_age": {
                "anyOf": [ref("AgeBand"), {"type": "null"}],
                "description": "The oldest age band (up to the child's own) whose typical "
                "scores the child reaches; null: below the earliest band.",
            },
        },
    },
    "Assessment": {
        "type": "object",
        "required": [
            "id",
            "assessed_on",
            "age_months",
            "framework",
            "age_band",
            "domains",
            "items",
        ],  # fmt: skip
        "properties": {
            "id": ID,
            "assessed_on": DATE,
            "age_months": {**COUNT, "description": "The child's age on the day, in months."},
            "framework": {
                "type": "object",
                "required": ["key", "version"],
                "properties": {
                    "key": {"type": "string"},
                    "version": {"type": "integer", "minimum": 1},
                    "name": {"type": "string"},
                },
            },
            "age_band": {
                "allOf": [ref("AgeBand")],
                "description": "The age band the child is compared with.",
            },
            "domains": {
                "type": "array",
                "description": "Bottom-up.",
                "items": ref("AssessmentDomain"),
            },
            "items": {
                "type": "array",
                "description": "In the framework's order.",
                "items": {
                    "type": "object",
                    "required": ["code", "domain", "score"],
                    "properties": {
                        "code": {"type": "string"},
                        "domain": DOMAIN,
                        "score": COUNT,
                    },
                },
            },
        },
    },
}
