"""Functional brain map assessments: commands and queries.

A clinician starts a draft on a date, rates items as they go (partial saves are
fine) and completes it once every item is rated; completing fixes the child's
age in months on the assessment date, and from then on the assessment never
changes. Every function acts in the current tenant; the caller has checked
access with routines.access.can_change_clinical_record.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from routines.frameworks import age_bands, current_framework, metric_items
from routines.map_svg import domain_label
from routines.metrics import MapResult, Thresholds, age_in_months, compute_map
from routines.models import Assessment, Child, FrameworkItem, ItemRating
from tenants import audit
from tenants.db import utcnow
from tenants.errors import NotFound, ValidationError
from tenants.isolation import get_scoped
from tenants.models import Organisation, User

logger = logging.getLogger(__name__)

DRAFT = "draft"
COMPLETE = "complete"

COMPLETED_MESSAGE = "This assessment is complete and can no longer be changed."


def _check_date(child: Child, assessed_on: date | None, today: date) -> date:
    if assessed_on is None:
        raise ValidationError("Enter the date of the assessment.", "assessed_on")
    if assessed_on > today:
        raise ValidationError("The assessment date cannot be in the future.", "assessed_on")
    if assessed_on < child.date_of_birth:
        raise ValidationError(
            "The assessment date cannot be before the child's date of birth "
            f"({child.date_of_birth.isoformat()}).",
            "assessed_on",
        )
    return assessed_on


def start_assessment(
    db: Session,
    child: Child,
    *,
    assessed_on: date | None,
    today: date,
    actor: User,
    ip: str | None = None,
) -> Assessment:
    """A draft assessment of `child` with the organisation's current framework.

    A reassessment starts from the previous one: when the child has a complete assessment
    dated on or before this one, its ratings are copied as the starting scores, matched by
    item code (items new in the current framework start unrated, and a score outside the
    current framework's scale is left for the clinician). Which assessment it started from
    is kept in the audit record and worked out again as previous_complete().
    """
    when = _check_date(child, assessed_on, today)
    framework = current_framework(db)
    previous = _latest_complete(db, child.id, on_or_before=when)
    assessment = Assessment(
        child_id=child.id,
        framework_id=framework.id,
        status=DRAFT,
        assessed_on=when,
        created_by_id=actor.id,
    )
    copied = 0
    if previous is not None:
        items = {item.code: item for item in framework.items}
        for code, score in sorted(scores_of(previous).items()):
            item = items.get(code)
            if item is not None and 0 <= score <= framework.scale_max:
                assessment.ratings.append(ItemRating(item_id=item.id, score=score))
                copied += 1
    db.add(assessment)
    db.flush()
    audit.record(
        db,
        "assessment.created",
        actor=actor,
        object_type="assessment",
        object_id=assessment.id,
        ip_address=ip,
        child_id=child.id,
        framework=f"{framework.key} v{framework.version}",
        assessed_on=when.isoformat(),
        started_from=previous.id if previous is not None else None,
        copied=copied,
    )
    return assessment


def _latest_complete(db: Session, child_id: int, *, on_or_before: date) -> Assessment | None:
    return db.scalar(
        select(Assessment)
        .where(
            Assessment.child_id == child_id,
            Assessment.status == COMPLETE,
            Assessment.assessed_on <= on_or_before,
        )
        .order_by(Assessment.assessed_on.desc(), Assessment.id.desc())
        .limit(1)
    )


def previous_complete(db: Session, assessment: Assessment) -> Assessment | None:
    """The latest complete assessment of the same child dated before this one (on the same
    date, the one made earlier): what a reassessment started from and is compared with."""
    return db.scalar(
        select(Assessment)
        .where(
            Assessment.child_id == assessment.child_id,
            Assessment.status == COMPLETE,
            Assessment.id != assessment.id,
            or_(
                Assessment.assessed_on < assessment.assessed_on,
                and_(
                    Assessment.assessed_on == assessment.assessed_on,
                    Assessment.id < assessment.id,
                ),
            ),
        )
        .order_by(Assessment.assessed_on.desc(), Assessment.id.desc())
        .limit(1)
    )


def get_assessment(db: Session, child: Child, assessment_id: int) -> Assessment:
    """The child's assessment; NotFound for another organisation's or another child's."""
    assessment = get_scoped(db, Assessment, assessment_id)
    if assessment is None or assessment.child_id != child.id:
        raise NotFound("assessment")
    return assessment


def list_assessments(db: Session, child: Child) -> list[Assessment]:
    """Newest first."""
    return list(
        db.scalars(
            select(Assessment)
            .where(Assessment.child_id == child.id)
            .order_by(Assessment.assessed_on.desc(), Assessment.id.desc())
        )
    )


def latest_completed(db: Session, child: Child) -> Assessment | None:
    return db.scalar(
        select(Assessment)
        .where(Assessment.child_id == child.id, Assessment.status == COMPLETE)
        .order_by(Assessment.assessed_on.desc(), Assessment.id.desc())
        .limit(1)
    )


def scores_of(assessment: Assessment) -> dict[str, int]:
    """The ratings so far, keyed by item code."""
    codes = {item.id: item.code for item in assessment.framework.items}
    return {codes[r.item_id]: r.score for r in assessment.ratings if r.item_id in codes}


def _refuse_if_complete(assessment: Assessment) -> None:
    if assessment.status == COMPLETE:
        raise ValidationError(COMPLETED_MESSAGE)


def _checked_scores(
    assessment: Assessment, scores: Mapping[str, int | None]
) -> dict[FrameworkItem, int | None]:
    items = {item.code: item for item in assessment.framework.items}
    scale_max = assessment.framework.scale_max
    checked: dict[FrameworkItem, int | None] = {}
    for code, score in scores.items():
        item = items.get(code)
        if item is None:
            raise ValidationError(f"{code} is not an item of this assessment's framework.")
        if score is not None and (
            isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= scale_max
        ):
            raise ValidationError(
                f"Rate {item.code} ({item.label}) with a whole number from 0 to {scale_max}.",
                code,
            )
        checked[item] = score
    return checked


def save_ratings(
    db: Session,
    assessment: Assessment,
    scores: Mapping[str, int | None],
    *,
    actor: User,
    ip: str | None = None,
) -> None:
    """Save some or all ratings of a draft (item code -> score; None clears a rating).

    Every score is checked before anything changes, so one bad score saves nothing.
    """
    _refuse_if_complete(assessment)
    checked = _checked_scores(assessment, scores)
    existing = {r.item_id: r for r in assessment.ratings}
    changed = 0
    for item, score in checked.items():
        rating = existing.get(item.id)
        if score is None:
            if rating is not None:
                assessment.ratings.remove(rating)
                changed += 1
        elif rating is None:
            assessment.ratings.append(ItemRating(item_id=item.id, score=score))
            changed += 1
        elif rating.score != score:
            rating.score = score
            changed += 1
    db.flush()
    audit.record(
        db,
        "assessment.rated",
        actor=actor,
        object_type="assessment",
        object_id=assessment.id,
        ip_address=ip,
        child_id=assessment.child_id,
        changed=changed,
        rated=len(assessment.ratings),
    )


def missing_items(assessment: Assessment) -> list[FrameworkItem]:
    rated = {r.item_id for r in assessment.ratings}
    return [item for item in assessment.framework.items if item.id not in rated]


def complete_assessment(
    db: Session, assessment: Assessment, child: Child, *, actor: User, ip: str | None = None
) -> None:
    """Complete a draft whose every item is rated; fixes the child's age on the date."""
    _refuse_if_complete(assessment)
    if assessment.child_id != child.id:
        raise ValueError("the assessment is not this child's")
    missing = missing_items(assessment)
    if missing:
        names = ", ".join(f"{item.code} ({item.label})" for item in missing)
        raise ValidationError(f"Rate every item before completing. Not yet rated: {names}.")
    assessment.status = COMPLETE
    assessment.age_months = age_in_months(child.date_of_birth, assessment.assessed_on)
    assessment.completed_at = utcnow()
    db.flush()
    audit.record(
        db,
        "assessment.completed",
        actor=actor,
        object_type="assessment",
        object_id=assessment.id,
        ip_address=ip,
        child_id=child.id,
        age_months=assessment.age_months,
    )


def record_view(
    db: Session, assessment: Assessment, *, actor: User, page: str, ip: str | None = None
) -> None:
    audit.record(
        db,
        "assessment.viewed",
        actor=actor,
        object_type="assessment",
        object_id=assessment.id,
        ip_address=ip,
        child_id=assessment.child_id,
        page=page,
    )


def record_child_view(
    db: Session, child: Child, *, actor: User, page: str, ip: str | None = None, **detail: object
) -> None:
    audit.record(
        db,
        "assessment.viewed",
        actor=actor,
        object_type="child",
        object_id=child.id,
        ip_address=ip,
        page=page,
        **detail,
    )


def record_list_view(db: Session, child: Child, *, actor: User, ip: str | None = None) -> None:
    record_child_view(db, child, actor=actor, page="list", ip=ip)


def thresholds_of(org: Organisation) -> Thresholds:
    return Thresholds(red_below=org.map_red_below, green_from=org.map_green_from)


def map_for(assessment: Assessment, org: Organisation) -> MapResult:
    """The functional brain map of a completed assessment, banded by the org's thresholds."""
    if assessment.status != COMPLETE or assessment.age_months is None:
        raise ValidationError("Complete the assessment to see its map.")
    framework = assessment.framework
    return compute_map(
        metric_items(framework),
        scores_of(assessment),
        age_months=assessment.age_months,
        bands=age_bands(framework),
        thresholds=thresholds_of(org),
    )


@dataclass(frozen=True)
class DevelopmentalAge:
    domain: str
    label: str  # the domain, for people
    age: str  # the matched age band's label, or "below <earliest band>"
    percent: float
    band: str


def developmental_ages(
    result: MapResult, framework_bands: list[dict[str, object]]
) -> list[DevelopmentalAge]:
    """Per domain, bottom-up: the age band whose typical scores the child's scores match."""
    earliest = str(framework_bands[0]["label"]) if framework_bands else "the earliest age band"
    return [
        DevelopmentalAge(
            domain=d.domain,
            label=domain_label(d.domain),
            age=d.developmental_band.label
            if d.developmental_band is not None
            else f"Below {earliest}",
            percent=d.percent,
            band=d.band,
        )
        for d in result.domains
    ]


def latest_developmental_ages(
    db: Session, child: Child, org: Organisation
) -> tuple[Assessment, list[DevelopmentalAge]] | None:
    """For the child's page: the latest completed assessment and its developmental ages."""
    assessment = latest_completed(db, child)
    if assessment is None:
        return None
    result = map_for(assessment, org)
    return assessment, developmental_ages(result, assessment.framework.age_bands)
