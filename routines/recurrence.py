"""Expanding a planned activity's frequency into dated occurrences, DST-correct.

Pure functions: no database, no clock. A frequency is the JSON a PlanItem holds
({"days": [...], "mode": "times" | "anchors" | "spread", ...}); each household or
classroom sets its own clock time for every anchor ("before bed" → 19:30).

Expansion happens in local wall time, one date at a time, and each occurrence is
then converted to UTC with zoneinfo. The DST policy is RFC 5545's, which is also
what PEP 495's fold=0 gives: a local time that falls in the spring-forward gap is
moved forward by the length of the gap (02:30 → 03:30 on a one-hour change), and
a local time that happens twice in the autumn means its first occurrence. So there
is exactly one occurrence per local date per slot, in every time zone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo


@dataclass(frozen=True, order=True)
class Slot:
    """One daily time of a frequency. `key` is stable across expansions, so an occurrence
    is identified by (planned item, local date, slot key)."""

    at: time
    key: str


@dataclass(frozen=True)
class Occurrence:
    local_date: date
    slot: str
    local_time: time
    due_utc: datetime


def parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def slots_for(frequency: Mapping[str, Any], anchor_times: Mapping[str, time]) -> list[Slot]:
    """The daily times of a frequency, in time order. An anchor the household has not set
    is an error for the caller to show, not a silently dropped routine."""
    mode = frequency.get("mode")
    if mode == "times":
        slots = [Slot(parse_hhmm(t), f"t{t}") for t in frequency.get("times") or []]
    elif mode == "anchors":
        missing = [a for a in frequency.get("anchors") or [] if a not in anchor_times]
        if missing:
            raise KeyError(f"no time set for anchor(s): {', '.join(missing)}")
        slots = [Slot(anchor_times[a], f"a{a}") for a in frequency.get("anchors") or []]
    elif mode == "spread":
        spread = frequency.get("spread") or {}
        count = int(spread["count"])
        start, end = parse_hhmm(spread["from"]), parse_hhmm(spread["to"])
        first = start.hour * 60 + start.minute
        last = end.hour * 60 + end.minute
        if count == 1:
            minutes = [(first + last) // 2]
        else:
            minutes = [first + round(i * (last - first) / (count - 1)) for i in range(count)]
        slots = [Slot(time(m // 60, m % 60), f"s{i + 1}/{count}") for i, m in enumerate(minutes)]
    else:
        raise ValueError(f"unknown frequency mode {mode!r}")
    return sorted(set(slots))


def local_to_utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The instant of a local wall time, by the RFC 5545 rule (see the module docstring)."""
    return datetime.combine(day, at).replace(tzinfo=zone, fold=0).astimezone(UTC)


def _dates(start: date, end: date) -> Iterator[date]:
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def expand(
    frequency: Mapping[str, Any],
    *,
    start: date,
    end: date,
    zone: ZoneInfo,
    anchor_times: Mapping[str, time] | None = None,
    is_open: Callable[[date], bool] | None = None,
) -> list[Occurrence]:
    """Every occurrence from `start` to `end` (local dates, both included), in time order.

    `is_open` filters dates (a classroom's school days); weekdays come from the
    frequency's "days" (Monday = 0)."""
    days = set(frequency.get("days") or [])
    slots = slots_for(frequency, anchor_times or {})
    found: list[Occurrence] = []
    for day in _dates(start, end):
        if day.weekday() not in days or (is_open is not None and not is_open(day)):
            continue
        for slot in slots:
            found.append(Occurrence(day, slot.key, slot.at, local_to_utc(day, slot.at, zone)))
    return found
