"""URL converters."""

from __future__ import annotations

from werkzeug.routing import IntegerConverter


class ObjectIdConverter(IntegerConverter):
    """A database id: 1 to 2**31-1. Anything else is simply not found (404), never a
    database error from an out-of-range integer."""

    def __init__(self, map, *args, **kwargs):  # type: ignore[no-untyped-def]  # noqa: A002
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)
