"""Demo children for `cadence seed-demo`: care teams, and (as the clinical core grows)
histories, assessments and plans, so a new user sees the whole picture at once."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from routines import children
from routines.models import Child
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
)


def seed_children(db: Session, org: Organisation, people: dict[str, User], today: date) -> None:
    """The demo children and their care teams; existing ones are left as they are."""
    clinician = membership_for(db, people["clinician"])
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
