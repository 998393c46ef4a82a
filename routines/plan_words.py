"""Plans in words and side by side: the plain-language descriptions carers and teachers read,
and the comparison of two versions. Pure functions of the plan's rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from routines.content import DOMAINS as DOMAIN_LABELS
from routines.content import SIX_RS
from routines.models import ANCHORS, ASSIGNEES, Activity, Child, PlanItem, PlanVersion

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
EVERY_DAY = [0, 1, 2, 3, 4, 5, 6]


# --- comparing -----------------------------------------------------------------------------

COMPARED_FIELDS = {
    "position": "order",
    "assignee": "who",
    "assignee_membership_id": "named person",
    "frequency": "how often",
    "minutes": "minutes",
    "start_date": "start date",
    "end_date": "end date",
    "notes": "notes",
}


@dataclass(frozen=True)
class Change:
    name: str  # the activity's name
    domain: str
    fields: tuple[str, ...]  # keys of COMPARED_FIELDS


@dataclass(frozen=True)
class Diff:
    added: tuple[Change, ...]
    removed: tuple[Change, ...]
    changed: tuple[Change, ...]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def diff_versions(a: PlanVersion, b: PlanVersion) -> Diff:
    """What b adds, removes and changes relative to a, per (activity, domain)."""
    before = {(i.activity_id, i.domain): i for i in a.items}
    after = {(i.activity_id, i.domain): i for i in b.items}
    order_a = {k: n for n, k in enumerate(sorted(before, key=lambda k: before[k].position))}
    order_b = {k: n for n, k in enumerate(sorted(after, key=lambda k: after[k].position))}

    def change(item: PlanItem, fields: tuple[str, ...] = ()) -> Change:
        return Change(item.activity.name, item.domain, fields)

    added = tuple(
        change(after[k]) for k in sorted(after, key=lambda k: after[k].position) if k not in before
    )
    removed = tuple(
        change(before[k])
        for k in sorted(before, key=lambda k: before[k].position)
        if k not in after
    )
    changed: list[Change] = []
    for key in sorted(after, key=lambda k: after[k].position):
        if key not in before:
            continue
        old, new = before[key], after[key]
        fields = tuple(
            name
            for name in COMPARED_FIELDS
            if (
                order_a[key] != order_b[key]
                if name == "position"
                else getattr(old, name) != getattr(new, name)
            )
        )
        if fields:
            changed.append(change(new, fields))
    return Diff(added, removed, tuple(changed))


# --- words for people ----------------------------------------------------------------------


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def describe_days(days: list[int]) -> str:
    days = sorted(set(days))
    if days == EVERY_DAY:
        return "Every day"
    if days == [0, 1, 2, 3, 4]:
        return "Monday to Friday"
    if days == [5, 6]:
        return "At weekends"
    return _join([DAY_NAMES[d] for d in days])


def describe_frequency(frequency: dict[str, Any]) -> str:
    """In words: "Every day, after school and before bed"."""
    days = describe_days(frequency.get("days") or [])
    mode = frequency.get("mode")
    if mode == "times":
        when = "at " + _join(list(frequency.get("times") or []))
    elif mode == "anchors":
        when = _join([ANCHORS.get(a, a).lower() for a in frequency.get("anchors") or []])
    elif mode == "spread":
        spread = frequency.get("spread") or {}
        count = int(spread.get("count") or 0)
        times = "once" if count == 1 else "twice" if count == 2 else f"{count} times"
        when = f"{times} between {spread.get('from')} and {spread.get('to')}"
    else:
        when = ""
    return f"{days}, {when}" if when else days


def describe_assignee(item: PlanItem, child: Child) -> str:
    if item.assignee in ("carer", "teacher") and item.assignee_membership_id is not None:
        member = next(
            (m for m in child.team if m.membership_id == item.assignee_membership_id), None
        )
        if member is not None:
            return member.membership.user.name
    if item.assignee == "classroom" and child.classroom is not None:
        return f"The whole class ({child.classroom.label})"
    return ASSIGNEES.get(item.assignee, item.assignee)


def domain_name(domain: str) -> str:
    label = DOMAIN_LABELS.get(domain, domain.replace("_", " "))
    return label.split(" (")[0]


def rs_words(activity: Activity) -> str:
    return _join([r.capitalize() for r in SIX_RS if r in activity.rs])
