"""The clinician's caseload at a glance: for each child on it, adherence over the last 7 and
28 local days, its trend, its band against the organisation's threshold, the open alerts,
when reassessment is due, and where the child lives and learns.

Five queries whatever the caseload's size or the length of its history: the children (with
household and class), the adherence rows of the window (routines.rollups.daily_rows: the
nightly rollups plus today's and any changed day's live rows), the open alert episodes, and
the latest complete assessment per child. Filtering and sorting happen on the rows read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, func, select, true
from sqlalchemy.orm import Session, raiseload

from routines import rollups
from routines.children import child_time_zone
from routines.metrics import at_least
from routines.models import AlertEpisode, Assessment, CareTeamMember, Child, TeamRole
from routines.rollups import Figures
from tenants.errors import ValidationError
from tenants.models import Membership, Organisation
from tenants.roles import Role

WEEK_DAYS = 7
MONTH_DAYS = 28
# The trend compares the last 7 days with the 7 before: within 5 points either way is steady.
DEAD_BAND = Fraction(5, 100)
# Under the threshold but within 20 points of it is "slipping"; further down is "low".
SLIPPING_MARGIN = Fraction(20, 100)
CLINICAL_TEAM_ROLES = (TeamRole.LEAD_CLINICIAN.value, TeamRole.CLINICIAN.value)

BANDS: dict[str, str] = {
    "on_track": "On track",
    "slipping": "Slipping",
    "low": "Low",
    "none": "No routines counted",
}
SORTS: dict[str, str] = {
    "name": "Name",
    "adherence_7": "7-day adherence",
    "adherence_28": "28-day adherence",
    "trend": "Trend",
    "due": "Reassessment due",
}
DIRECTIONS = ("asc", "desc")
PLACE_KINDS = ("household", "classroom")
ALERT_LABELS: dict[str, str] = {"adherence_low": "7-day adherence under the threshold"}


def alert_label(kind: str) -> str:
    return ALERT_LABELS.get(kind, kind.replace("_", " ").capitalize())


# --- what the page asks for ---------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """How the caseload is sorted and filtered (the page's query string, checked)."""

    sort: str = "name"
    direction: str = "asc"
    band: str | None = None
    open_alert: bool = False
    place: tuple[str, int] | None = None  # ("household" | "classroom", id)

    @property
    def place_key(self) -> str | None:
        return None if self.place is None else f"{self.place[0]}:{self.place[1]}"


def _choice(args: Mapping[str, str], name: str, allowed: Any, message: str) -> str | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    if raw not in allowed:
        raise ValidationError(message, name)
    return raw


def parse_options(args: Mapping[str, str]) -> Options:
    """sort=name|adherence_7|adherence_28|trend|due, dir=asc|desc, band=on_track|slipping|
    low|none, alert=open, place=household:<id>|classroom:<id>; empty means "any"."""
    sort = _choice(args, "sort", SORTS, "Sort by name, adherence_7, adherence_28, trend or due.")
    direction = _choice(args, "dir", DIRECTIONS, "The sort direction is asc or desc.")
    band = _choice(args, "band", BANDS, "The band is on_track, slipping, low or none.")
    alert = _choice(args, "alert", ("open",), "The alert filter is alert=open.")
    place = None
    raw_place = (args.get("place") or "").strip()
    if raw_place:
        kind, _, raw_id = raw_place.partition(":")
        if kind not in PLACE_KINDS or not (raw_id.isascii() and raw_id.isdigit()):
            raise ValidationError(
                "The place is household:<number> or classroom:<number>, as the list offers.",
                "place",
            )
        place = (kind, int(raw_id))
    return Options(
        sort=sort or "name",
        direction=direction or "asc",
        band=band,
        open_alert=alert == "open",
        place=place,
    )


# --- one line per child -------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    child: Child
    today: date  # in the child's home time zone
    week: Figures  # the 7 local days ending today
    previous_week: Figures  # the 7 days before those
    month: Figures  # the 28 local days ending today
    band: str  # a key of BANDS, from the 7-day adherence
    trend: str | None  # "up" | "down" | "steady"; None when either week counts nothing
    change: Fraction | None  # 7-day adherence minus that of the 7 days before
    alerts: tuple[str, ...]  # kinds of the open alert episodes
    last_assessed: date | None  # the latest complete assessment
    due_in: int | None  # days until reassessment is due; negative: overdue
    adherence_7: Fraction | None  # of `week`, worked out once
    adherence_28: Fraction | None  # of `month`

    @property
    def due_on(self) -> date | None:
        return None if self.due_in is None else self.today + timedelta(days=self.due_in)

    @property
    def places(self) -> list[str]:
        found = []
        if self.child.household_id is not None:
            found.append(f"household:{self.child.household_id}")
        if self.child.classroom_id is not None:
            found.append(f"classroom:{self.child.classroom_id}")
        return found


def band_of(ratio: Fraction | None, threshold: float) -> str:
    """On track at or above the threshold, slipping within 20 points under it, else low."""
    if ratio is None:
        return "none"
    if at_least(ratio, threshold):
        return "on_track"
    if at_least(ratio, Fraction(str(threshold)) - SLIPPING_MARGIN):
        return "slipping"
    return "low"


def trend_of(week: Fraction | None, before: Fraction | None) -> tuple[str | None, Fraction | None]:
    if week is None or before is None:
        return None, None
    change = week - before
    if change > DEAD_BAND:
        return "up", change
    if change < -DEAD_BAND:
        return "down", change
    return "steady", change


def caseload_filter(membership: Membership) -> Select | None:
    """The ids of the children on the member's caseload: every child for an admin (None),
    otherwise those on whose care team they are (lead) clinician."""
    if membership.has_role(Role.ADMIN):
        return None
    return select(CareTeamMember.child_id).where(
        CareTeamMember.membership_id == membership.id,
        CareTeamMember.team_role.in_(CLINICAL_TEAM_ROLES),
    )


def _among(column: Any, ids: Select | None) -> ColumnElement[bool]:
    return true() if ids is None else column.in_(ids)


def caseload(
    db: Session, membership: Membership, org: Organisation, *, now: datetime
) -> list[Entry]:
    """Every child on the member's caseload, by name (family, then given)."""
    ids = caseload_filter(membership)
    kids = list(
        db.scalars(
            select(Child)
            .options(raiseload(Child.team))
            .where(_among(Child.id, ids))
            .order_by(func.lower(Child.family_name), func.lower(Child.given_name), Child.id)
        )
    )
    if not kids:
        return []
    zones: dict[str, date] = {}
    todays: dict[int, date] = {}
    for kid in kids:
        zone = child_time_zone(kid, org.time_zone)
        if zone not in zones:
            zones[zone] = now.astimezone(ZoneInfo(zone)).date()
        todays[kid.id] = zones[zone]
    first = min(todays.values()) - timedelta(days=MONTH_DAYS - 1)
    rows = rollups.daily_rows(db, ids, first, max(todays.values()))
    # Each row goes to one stretch: this week, the week before, or the rest of the 28 days.
    week: dict[int, Figures] = defaultdict(Figures)
    before: dict[int, Figures] = defaultdict(Figures)
    rest: dict[int, Figures] = defaultdict(Figures)
    for row in rows:
        today = todays.get(row.child_id)
        if today is None:
            continue
        age = (today - row.local_date).days
        if 0 <= age < WEEK_DAYS:
            week[row.child_id] += row.figures
        elif WEEK_DAYS <= age < 2 * WEEK_DAYS:
            before[row.child_id] += row.figures
        elif 2 * WEEK_DAYS <= age < MONTH_DAYS:
            rest[row.child_id] += row.figures
    alerts: dict[int, list[str]] = defaultdict(list)
    for child_id, kind in db.execute(
        select(AlertEpisode.child_id, AlertEpisode.kind)
        .where(AlertEpisode.closed_at.is_(None), _among(AlertEpisode.child_id, ids))
        .order_by(AlertEpisode.opened_at, AlertEpisode.id)
    ):
        alerts[child_id].append(kind)
    assessed: dict[int, date] = dict(
        db.execute(  # type: ignore[arg-type]
            select(Assessment.child_id, func.max(Assessment.assessed_on))
            .where(Assessment.status == "complete", _among(Assessment.child_id, ids))
            .group_by(Assessment.child_id)
        ).all()
    )
    interval = timedelta(days=org.reassessment_interval_days)
    entries = []
    for kid in kids:
        today = todays[kid.id]
        this_week, last_week = week[kid.id], before[kid.id]
        month = this_week + last_week + rest[kid.id]
        ratio = this_week.adherence
        trend, change = trend_of(ratio, last_week.adherence)
        last = assessed.get(kid.id)
        entries.append(
            Entry(
                child=kid,
                today=today,
                week=this_week,
                previous_week=last_week,
                month=month,
                band=band_of(ratio, org.adherence_threshold),
                trend=trend,
                change=change,
                alerts=tuple(alerts.get(kid.id, ())),
                last_assessed=last,
                due_in=None if last is None else (last + interval - today).days,
                adherence_7=ratio,
                adherence_28=month.adherence,
            )
        )
    return entries


# --- choosing and ordering ------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    key: str  # "household:<id>" | "classroom:<id>"
    label: str


def places(entries: list[Entry]) -> list[Place]:
    """The households, then the classes, of the caseload's children, by name."""
    homes: dict[str, str] = {}
    classes: dict[str, str] = {}
    for entry in entries:
        kid = entry.child
        if kid.household is not None:
            homes[f"household:{kid.household.id}"] = kid.household.name
        if kid.classroom is not None:
            classes[f"classroom:{kid.classroom.id}"] = kid.classroom.label
    return [
        *(Place(k, v) for k, v in sorted(homes.items(), key=lambda kv: kv[1].lower())),
        *(Place(k, v) for k, v in sorted(classes.items(), key=lambda kv: kv[1].lower())),
    ]


SORT_VALUES: dict[str, Callable[[Entry], Any]] = {
    "adherence_7": lambda e: e.adherence_7,
    "adherence_28": lambda e: e.adherence_28,
    "trend": lambda e: e.change,
    "due": lambda e: e.due_in,
}


def choose(entries: list[Entry], options: Options) -> list[Entry]:
    """The entries the options keep, in their order. Children without a value to sort by
    (nothing counted, no assessment) come last either way; ties stay in name order."""
    if options.place_key is not None and options.place_key not in {p.key for p in places(entries)}:
        raise ValidationError(
            "No child on this caseload lives in that household or is in that class; "
            "choose a place from the list.",
            "place",
        )
    kept = [
        e
        for e in entries
        if (options.band is None or e.band == options.band)
        and (not options.open_alert or e.alerts)
        and (options.place_key is None or options.place_key in e.places)
    ]
    descending = options.direction == "desc"
    if options.sort == "name":
        return kept[::-1] if descending else kept
    value = SORT_VALUES[options.sort]
    known = [e for e in kept if value(e) is not None]
    unknown = [e for e in kept if value(e) is None]
    known.sort(key=value, reverse=descending)  # stable, also reversed: ties stay by name
    return known + unknown
