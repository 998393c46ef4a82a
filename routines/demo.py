"""Demo children for `cadence seed-demo`: care teams, and (as the clinical core grows)
histories, assessments and plans, so a new user sees the whole picture at once.

Mia has the longest story: assessed about three months ago, her first plan followed, her
carers and teacher logged it every day since (routines.demo_history), and she was assessed
again last week, with change in the lower domains. Noah has a fortnight on his first plan
(his adherence alert shows on the first run), and Jay has no plan yet."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from routines import (
    assessments,
    children,
    demo_history,
    demo_routines,
    frameworks,
    history,
    library,
    plans,
)
from routines.metrics import age_band_for, age_in_months
from routines.models import Assessment, Child, Framework
from tenants.db import utcnow
from tenants.models import Organisation, User
from tenants.organisations import membership_for

# (given, family, preferred, pronouns, born, household, school, class, carers, teacher?)
DEMO_CHILDREN = (
    (
        "Mia",
        "Hartley",
        None,
        "she/her",
        date(2017, 6, 14),
        "Taylor household",
        "Brook Primary",
        "Year 4",
        ("carer", "carer2"),
        True,
    ),
    (
        "Jayden",
        "Cole",
        "Jay",
        "he/him",
        date(2020, 2, 3),
        "Taylor household",
        None,
        None,
        ("carer",),
        False,
    ),
    (
        "Noah",
        "Reid",
        None,
        "he/him",
        date(2018, 1, 9),
        "Reid household",
        "Brook Primary",
        "Year 4",
        ("carer2",),
        True,
    ),
)
# Children whose record is filled in, and how many days ago: (assessed, plan in effect from,
# assessed again). Mia's months of routines lie between her two assessments.
PLANNED = {"Mia": (98, 95, 7), "Noah": (21, 14, None)}


# Mia's developmental history: (period, adversity kind, severity, certainty)
MIA_ADVERSITY = (
    ("perinatal", "Exposure to alcohol before birth", "moderate", "estimated"),
    ("infancy", "Neglect: long periods without a responsive adult", "severe", "known"),
    ("early_childhood", "Domestic violence in the home", "severe", "known"),
    ("early_childhood", "Three placement moves", "moderate", "known"),
    ("childhood", "Separation from a sibling", "mild", "known"),
)
MIA_RELATIONAL = (
    ("perinatal", "low"),
    ("infancy", "none"),
    ("early_childhood", "low"),
    ("childhood", "moderate"),
    ("current", "strong"),
)


def seed_library(db: Session) -> None:
    """The organisation's copies of Cadence's default framework and activity library."""
    frameworks.ensure_default_framework(db)
    library.ensure_default_library(db)


def seed_history(db: Session, child: Child, clinician: User) -> None:
    for period, kind, severity, certainty in MIA_ADVERSITY:
        history.add_adversity(
            db,
            child,
            period=period,
            kind=kind,
            severity=severity,
            certainty=certainty,
            actor=clinician,
        )
    for period, level in MIA_RELATIONAL:
        history.set_relational_health(db, child, period=period, level=level, actor=clinician)


# Mia's functional map: score per item as a share of what is typical at her age, by domain.
# Bottom-up she is most compromised low down (sensory, self-regulation), as is common after
# early neglect, and closest to age-typical in cognition.
MIA_SHARE = {
    "sensory_integration": 0.55,
    "self_regulation": 0.5,
    "relational": 0.7,
    "cognitive": 0.9,
}


# Mia's reassessment: points gained per item since the first, by domain (items in framework
# order, the pattern repeating). Three months of rhythmic, relational routines show low
# down, in sensory integration and self-regulation; higher up there is little change yet.
MIA_GAINS = {
    "sensory_integration": (2, 3, 2, 1, 2, 3),
    "self_regulation": (2, 1, 2, 2, 1, 2),
    "relational": (1, 0, 0, 1, 0, 0),
    "cognitive": (0,),
}


def _scores(
    framework: Framework, born: date, on: date, gains: dict[str, tuple[int, ...]] | None
) -> dict[str, int]:
    """The demo map at MIA_SHARE of what is typical at the age on `on`, plus any gains."""
    band = age_band_for(age_in_months(born, on), frameworks.age_bands(framework))
    scores: dict[str, int] = {}
    seen: dict[str, int] = {}
    for item in framework.items:
        score = round(item.expected[band.code] * MIA_SHARE[item.domain])
        if gains is not None:
            steps = gains.get(item.domain, (0,))
            score += steps[seen.get(item.domain, 0) % len(steps)]
            seen[item.domain] = seen.get(item.domain, 0) + 1
        scores[item.code] = max(0, min(framework.scale_max, score))
    return scores


def seed_assessment(
    db: Session,
    child: Child,
    clinician: User,
    today: date,
    *,
    days_ago: int = 21,
    gains: dict[str, tuple[int, ...]] | None = None,
) -> Assessment:
    """A completed assessment `days_ago`, so the map and developmental ages show."""
    assessed_on = today - timedelta(days=days_ago)
    assessment = assessments.start_assessment(
        db, child, assessed_on=assessed_on, today=today, actor=clinician
    )
    scores = _scores(assessment.framework, child.date_of_birth, assessed_on, gains)
    assessments.save_ratings(db, assessment, scores, actor=clinician)
    assessments.complete_assessment(db, assessment, child, actor=clinician)
    return assessment


def seed_plan(
    db: Session,
    child: Child,
    org: Organisation,
    clinician: User,
    effective: date,
    *,
    longer: tuple[str, int] | None = None,
) -> None:
    """Cadence's proposal from the assessment plus a class movement break, published as
    version 1 in effect from `effective` (so there are past routines to show); `longer`
    gives one activity (by name) a longer dose."""
    draft = plans.draft_for(db, child, actor=clinician)
    plans.propose_into_draft(db, draft, child, org, actor=clinician, today=effective)
    draft.effective_from = effective
    demo_routines.spread_over_the_day(draft)
    if longer is not None:
        demo_routines.lengthen(draft, *longer)
    demo_routines.add_class_break(db, draft, child, clinician)
    warnings = plans.warnings_for(db, draft, child, org)
    plans.publish(
        db,
        draft,
        child,
        effective_from=effective,
        acknowledged=bool(warnings),
        reason="Demo: Cadence's proposal, published as it stands." if warnings else "",
        actor=clinician,
        org=org,
    )


def seed_children(db: Session, org: Organisation, people: dict[str, User], today: date) -> None:
    """The demo children and their care teams; existing ones are left as they are."""
    seed_library(db)
    clinician = membership_for(db, people["clinician"])
    demo_routines.set_reminder_preferences(db, membership_for(db, people["carer"]))
    for (
        given,
        family,
        preferred,
        pronouns,
        born,
        home,
        school,
        klass,
        carers,
        taught,
    ) in DEMO_CHILDREN:
        exists = db.scalar(
            select(Child.id).where(Child.given_name == given, Child.family_name == family)
        )
        if exists is not None:
            continue
        child = children.add_child(
            db,
            children.ChildDetails(
                given, family, born, preferred, pronouns, home, org.time_zone, school, klass
            ),
            actor=people["clinician"],
            actor_membership=clinician,
            default_time_zone=org.time_zone,
            today=today,
        )
        for local in carers:
            children.add_team_member(
                db,
                child,
                membership_id=membership_for(db, people[local]).id,
                team_role="carer",
                relationship="foster_carer",
                actor=people["clinician"],
            )
        if taught:
            children.add_team_member(
                db,
                child,
                membership_id=membership_for(db, people["teacher"]).id,
                team_role="teacher",
                relationship=None,
                actor=people["clinician"],
            )
        if given == "Mia":
            seed_history(db, child, people["clinician"])
        if given in PLANNED:
            seed_routines(db, child, org, people, carers, today)


def seed_routines(
    db: Session,
    child: Child,
    org: Organisation,
    people: dict[str, User],
    carers: tuple[str, ...],
    today: date,
) -> None:
    """Assessment, plan, the home's and class's settings, the routines lived since the plan
    took effect, and (for Mia) the reassessment after them."""
    now = utcnow()
    clinician = people["clinician"]
    assessed, effective, reassessed = PLANNED[child.given_name]
    seed_assessment(db, child, clinician, today, days_ago=assessed)
    demo_routines.set_up_places(db, child, clinician, today, now)
    teacher = people.get("teacher") if child.classroom_id else None
    if reassessed is None:
        seed_plan(db, child, org, clinician, today - timedelta(days=effective))
        demo_routines.live_two_weeks(
            db,
            child,
            carer=people[carers[0]],
            carer_membership=membership_for(db, people[carers[0]]),
            teacher=teacher,
            teacher_membership=membership_for(db, teacher) if teacher else None,
            now=now,
        )
        return
    first_day = today - timedelta(days=effective)
    longer = (demo_history.LOW_ACTIVITY, demo_history.LOW_MINUTES)
    seed_plan(db, child, org, clinician, first_day, longer=longer)
    demo_history.live_since_plan(
        db,
        child,
        first_day=first_day,
        carers=[(people[c], membership_for(db, people[c])) for c in carers],
        teacher=(teacher, membership_for(db, teacher)) if teacher else None,
        now=now,
    )
    seed_assessment(db, child, clinician, today, days_ago=reassessed, gains=MIA_GAINS)
