"""Telling the clinician: when a child's routines slip (trailing 7-day adherence under the
organisation's threshold) and when a reassessment is due.

An adherence alert belongs to an episode: the first night adherence is under the threshold
opens an episode and alerts the child's lead clinician(s); later nights under it add
nothing; a night at or above it closes the episode, so a later slip alerts again. A
reassessment reminder belongs to the assessment it follows, so it comes once per
assessment. Both only write rows (routines.deliveries sends them) and both are safe to run
again: an open episode, or the unique key of a delivery, turns a repeat into a no-op.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from routines import metrics, reminders
from routines.models import (
    AlertEpisode,
    Assessment,
    CareTeamMember,
    Child,
    Occurrence,
    Plan,
    PlanVersion,
    TeamRole,
)
from tenants.context import current_tenant_id
from tenants.models import Membership, Organisation

WINDOW_DAYS = 7
EPISODE_KIND = "adherence_low"
ALERT_CHANNELS = ("in_app", "email")


def _ratio(counts: Mapping[str, int]) -> Fraction | None:
    return metrics.tally_counts(counts).adherence


def trailing_adherence(statuses: Iterable[str]) -> float | None:
    """Done 1, partly 0.5, skipped or missed 0, over the routines that count (excused and
    pending do not); None when none counts."""
    ratio = metrics.adherence(statuses)
    return None if ratio is None else float(ratio)


def below(ratio: Fraction, threshold: float) -> bool:
    """Exactly at the threshold is not below it (4 of 5 against 0.8 is not an alert)."""
    return not metrics.at_least(ratio, threshold)


@dataclass
class AdherenceCheck:
    checked: int = 0
    opened: list[int] = field(default_factory=list)  # child ids
    closed: list[int] = field(default_factory=list)
    rows: int = 0


def check_adherence(db: Session, *, now: datetime) -> AdherenceCheck:
    """For each child of the current organisation with a published plan: adherence over the
    7 local days ending yesterday (in each routine's own zone); open an episode and alert,
    or close the episode, as described above."""
    org = db.get(Organisation, current_tenant_id())
    assert org is not None
    planned = (
        select(Plan.child_id)
        .join(PlanVersion, PlanVersion.plan_id == Plan.id)
        .where(PlanVersion.status == "published")
        .distinct()
    )
    children = set(db.scalars(planned))
    result = AdherenceCheck(checked=len(children))
    if not children:
        return result
    # Any zone's local date is within a day of UTC's: fetch that wider range in one grouped
    # query, then keep each row only if it is in its own zone's window.
    utc_today = now.date()
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    firsts: dict[str, date] = {}
    for child_id, zone, day, status, n in db.execute(
        select(
            Occurrence.child_id,
            Occurrence.time_zone,
            Occurrence.local_date,
            Occurrence.status,
            func.count(),
        )
        .where(
            Occurrence.child_id.in_(planned),
            Occurrence.local_date >= utc_today - timedelta(days=WINDOW_DAYS + 1),
            Occurrence.local_date <= utc_today,
        )
        .group_by(
            Occurrence.child_id, Occurrence.time_zone, Occurrence.local_date, Occurrence.status
        )
    ):
        if zone not in firsts:
            firsts[zone] = now.astimezone(ZoneInfo(zone)).date() - timedelta(days=WINDOW_DAYS)
        if firsts[zone] <= day < firsts[zone] + timedelta(days=WINDOW_DAYS):
            counts[child_id][status] += n
    open_episodes = {
        e.child_id: e
        for e in db.scalars(
            select(AlertEpisode).where(
                AlertEpisode.kind == EPISODE_KIND, AlertEpisode.closed_at.is_(None)
            )
        )
    }
    opened: list[tuple[AlertEpisode, Counter[str], Fraction]] = []
    for child_id in sorted(children):
        ratio = _ratio(counts.get(child_id, Counter()))
        if ratio is None:
            continue  # nothing counted (away all week, or no routines yet): no change
        episode = open_episodes.get(child_id)
        if below(ratio, org.adherence_threshold):
            if episode is None:
                episode = AlertEpisode(
                    child_id=child_id, kind=EPISODE_KIND, opened_at=now, opened_value=float(ratio)
                )
                db.add(episode)
                opened.append((episode, counts[child_id], ratio))
                result.opened.append(child_id)
        elif episode is not None:
            episode.closed_at = now
            result.closed.append(child_id)
    db.flush()
    if opened:
        leads = _lead_clinicians(db, [e.child_id for e, _, _ in opened])
        kids = _children(db, [e.child_id for e, _, _ in opened])
        rows = []
        for episode, child_counts, ratio in opened:
            payload = _adherence_payload(org, kids[episode.child_id], child_counts, ratio)
            subject = f"child:{episode.child_id}:adherence:{episode.id}"
            rows += _rows(org.id, "adherence_alert", subject, episode.child_id, leads, payload, now)
        reminders.insert_deliveries(db, rows)
        db.flush()
        result.rows = len(rows)
    return result


def check_reassessment_due(db: Session, *, now: datetime) -> int:
    """Remind the lead clinician(s) of each child whose latest completed assessment is at
    least the organisation's interval old (in the organisation's local days): due on the
    day the interval has passed, e.g. 90 days after 1 January is 1 April. Returns the rows
    offered (those planned before stay as they were)."""
    org = db.get(Organisation, current_tenant_id())
    assert org is not None
    today = now.astimezone(ZoneInfo(org.time_zone)).date()
    cutoff = today - timedelta(days=org.reassessment_interval_days)
    latest = (
        select(Assessment.child_id, func.max(Assessment.assessed_on).label("on"))
        .where(Assessment.status == "complete")
        .group_by(Assessment.child_id)
        .subquery()
    )
    due: dict[int, tuple[int, date]] = {}
    for child_id, assessment_id, assessed_on in db.execute(
        select(Assessment.child_id, Assessment.id, Assessment.assessed_on)
        .join(
            latest,
            (latest.c.child_id == Assessment.child_id) & (latest.c.on == Assessment.assessed_on),
        )
        .where(Assessment.status == "complete", latest.c.on <= cutoff)
        .order_by(Assessment.id)
    ):
        due[child_id] = (assessment_id, assessed_on)  # two on one day: the later row wins
    if not due:
        return 0
    leads = _lead_clinicians(db, list(due))
    kids = _children(db, list(due))
    rows = []
    for child_id, (assessment_id, assessed_on) in sorted(due.items()):
        kid = kids[child_id]
        name = kid.preferred_name or kid.given_name
        days = (today - assessed_on).days
        payload = {
            "title": f"Reassessment due for {name}",
            "body": (
                f"{name}'s last completed assessment was on {assessed_on.day} "
                f"{assessed_on:%B %Y}, {days} days ago; {org.name} reassesses every "
                f"{org.reassessment_interval_days} days."
            ),
            "path": f"/o/{org.slug}/children/{child_id}/assessments/",
        }
        subject = f"child:{child_id}:reassessment:{assessment_id}"
        rows += _rows(org.id, "reassessment_due", subject, child_id, leads, payload, now)
    reminders.insert_deliveries(db, rows)
    db.flush()
    return len(rows)


def _lead_clinicians(db: Session, child_ids: list[int]) -> dict[int, list[int]]:
    leads: dict[int, list[int]] = defaultdict(list)
    for child_id, membership_id in db.execute(
        select(CareTeamMember.child_id, CareTeamMember.membership_id)
        .join(Membership, Membership.id == CareTeamMember.membership_id)
        .where(
            CareTeamMember.child_id.in_(child_ids),
            CareTeamMember.team_role == TeamRole.LEAD_CLINICIAN.value,
            Membership.is_active,
        )
        .order_by(CareTeamMember.id)
    ):
        leads[child_id].append(membership_id)
    return leads


def _children(db: Session, child_ids: list[int]) -> dict[int, Child]:
    return {c.id: c for c in db.scalars(select(Child).where(Child.id.in_(child_ids)))}


def _rows(
    tenant_id: int,
    kind: str,
    subject: str,
    child_id: int,
    leads: Mapping[int, list[int]],
    payload: dict[str, str],
    now: datetime,
) -> list[dict]:
    return [
        {
            "tenant_id": tenant_id,
            "kind": kind,
            "subject": subject,
            "occurrence_id": None,
            "child_id": child_id,
            "membership_id": member,
            "channel": channel,
            "status": "pending",
            "not_before": now,
            "attempts": 0,
            "payload": payload,
        }
        for member in leads.get(child_id, [])
        for channel in ALERT_CHANNELS
    ]


def _adherence_payload(
    org: Organisation, kid: Child, counts: Counter[str], ratio: Fraction
) -> dict[str, str]:
    name = kid.preferred_name or kid.given_name
    # Rounded down: 79.6% is shown as 79%, never as the 80% it is below.
    percent = math.floor(ratio * 100)
    threshold = round(org.adherence_threshold * 100)
    counted = sum(counts[s] for s in metrics.CREDIT)
    missed = counts["skipped"] + counts["missed"]
    return {
        "title": f"{name}'s routines have slipped to {percent}% this week",
        "body": (
            f"Over the last {WINDOW_DAYS} days, of {counted} routines {counts['done']} were "
            f"done, {counts['partly']} partly done and {missed} skipped or missed: "
            f"{percent}% against {org.name}'s threshold of {threshold}%. You will not be "
            "alerted again until it has recovered."
        ),
        "path": f"/o/{org.slug}/children/{kid.id}",
    }
