"""Reading what a client sent: the JSON body and query parameters, strictly.

The body is parsed here rather than with request.get_json() so that each way it can be
wrong gets its own clear 4xx: not JSON, too deep, a number JSON cannot hold
(NaN, Infinity, 1e999), or not an object.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date
from typing import Any

from flask import request

from portal.api.errors import ApiError

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ID = re.compile(r"[1-9]\d{0,9}")
MAX_ID = 2**31 - 1


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number out of range: {text}")
    return number


def _no_constants(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


def json_object() -> dict[str, Any]:
    """The body as a JSON object; ApiError 400 for anything else (413 is raised by the
    request itself when the body is over the API's limit)."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise ApiError(400, "Send a JSON object as the request body.", code="malformed_json")
    try:
        data = json.loads(raw, parse_float=_finite, parse_constant=_no_constants)
    except (ValueError, RecursionError) as error:
        # ValueError covers UnicodeDecodeError and JSONDecodeError.
        raise ApiError(
            400, f"The request body is not valid JSON ({_reason(error)}).", code="malformed_json"
        ) from None
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object.", code="not_an_object")
    return data


def _reason(error: Exception) -> str:
    if isinstance(error, RecursionError):
        return "nested too deeply"
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at line {error.lineno}, column {error.colno}"
    return str(error)[:200]


def query_date(name: str) -> date:
    value = request.args.get(name)
    if value is None or value == "":
        raise ApiError(422, f"Give {name} as a date, for example 2026-11-23.", field=name)
    if not _DATE.fullmatch(value):
        raise ApiError(422, f"{name} must be a date written YYYY-MM-DD.", field=name)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError(422, f"{name} is not a real date: {value}.", field=name) from None


def query_id(name: str) -> int | None:
    value = request.args.get(name)
    if value is None or value == "":
        return None
    if not _ID.fullmatch(value) or int(value) > MAX_ID:
        raise ApiError(422, f"{name} must be a whole number from 1.", field=name)
    return int(value)


def text_field(data: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise ApiError(422, f"Give {name} as text.", field=name)
    return value
