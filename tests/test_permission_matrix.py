"""Every kind of person against every action on a child's record.

alpha's child Robin has a care team of alpha's clinician (lead), carer (foster carer) and
teacher. Around them: a second clinician, a carer of a different child and a teacher who
are all in alpha but not on Robin's team, alpha's admin, and beta's admin. A request is
allowed (2xx/3xx), forbidden (403: on the team, but not for this), or hidden (404: exactly
as if the child did not exist).
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from routines import children, library
from routines.models import (
    Activity,
    Assessment,
    CareTeamMember,
    HistoryEntry,
    Plan,
    PlanItem,
    PlanVersion,
)
from tenants import accounts, organisations
from tenants.context import cross_tenant, tenant_context
from tests.conftest import PASSWORD, post_form, sign_in

ALLOWED, FORBIDDEN, HIDDEN = "allowed", "forbidden", "hidden"

# who -> (view child, change team, view history, change history, view assessments,
#         start assessment, view plan, change plan)
A, F, H = ALLOWED, FORBIDDEN, HIDDEN
MATRIX = {
    "admin": (A, A, A, A, A, A, A, A),
    "lead_clinician": (A, A, A, A, A, A, A, A),
    "clinician_off_team": (H,) * 8,
    "carer_on_team": (A, F, F, F, F, F, A, F),  # the plan in plain language, not the editor
    "carer_of_other_child": (H,) * 8,
    "teacher_on_team": (A, F, F, F, F, F, A, F),
    "teacher_off_team": (H,) * 8,
    "other_organisation_admin": (H,) * 8,
}
ACTIONS = (
    "view child",
    "change team",
    "view history",
    "change history",
    "view assessments",
    "start assessment",
    "view plan",
    "change plan",
)


def _member(db, org, local: str, role: str):  # type: ignore[no-untyped-def]
    user = accounts.create_user(
        db, email=f"{local}@{org.slug}.example", name=local.title(), password=PASSWORD
    )
    organisations.add_member(db, user, [role])
    return user


@pytest.fixture
def world(db, orgs):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    today = date(2026, 11, 23)
    with tenant_context(alpha.id):
        clinician = organisations.membership_for(db, alpha.clinician)
        robin = children.add_child(
            db,
            children.ChildDetails("Robin", "Ashdown", date(2018, 4, 2)),
            actor=alpha.clinician,
            actor_membership=clinician,
            default_time_zone="Europe/London",
            today=today,
        )
        for user, role, relation in (
            (alpha.carer, "carer", "foster_carer"),
            (alpha.teacher, "teacher", None),
        ):
            children.add_team_member(
                db,
                robin,
                membership_id=organisations.membership_for(db, user).id,
                team_role=role,
                relationship=relation,
                actor=alpha.clinician,
            )
        other_child = children.add_child(
            db,
            children.ChildDetails("Sky", "Brennan", date(2016, 1, 9)),
            actor=alpha.clinician,
            actor_membership=clinician,
            default_time_zone="Europe/London",
            today=today,
        )
        other_carer = _member(db, alpha.org, "othercarer", "carer")
        children.add_team_member(
            db,
            other_child,
            membership_id=organisations.membership_for(db, other_carer).id,
            team_role="carer",
            relationship="kinship_carer",
            actor=alpha.clinician,
        )
        people = {
            "admin": alpha.admin,
            "lead_clinician": alpha.clinician,
            "clinician_off_team": _member(db, alpha.org, "clinician2", "clinician"),
            "carer_on_team": alpha.carer,
            "carer_of_other_child": other_carer,
            "teacher_on_team": alpha.teacher,
            "teacher_off_team": _member(db, alpha.org, "teacher2", "teacher"),
            "other_organisation_admin": beta.admin,
        }
        newcomer = organisations.membership_for(db, people["teacher_off_team"]).id
        library.ensure_default_library(db)
        activity = db.scalar(select(Activity.id).where(Activity.name == "Rocking together"))
    db.commit()
    emails = {who: user.email for who, user in people.items()}
    return {
        "slug": alpha.slug,
        "child": robin.id,
        "emails": emails,
        "newcomer": newcomer,
        "activity": activity,
    }


def _request(client, world, action: str):  # type: ignore[no-untyped-def]
    base = f"/o/{world['slug']}/children/{world['child']}"
    if action == "view child":
        return client.get(base)
    if action == "change team":
        return post_form(
            client,
            f"{base}/team",
            {"membership_id": world["newcomer"], "team_role": "teacher"},
            token_from="/profile/",
        )
    if action == "view history":
        return client.get(f"{base}/history/")
    if action == "change history":
        return post_form(
            client,
            f"{base}/history/adversity",
            {
                "period": "infancy",
                "kind": "Hospital stays",
                "severity": "mild",
                "certainty": "known",
            },
            token_from="/profile/",
        )
    if action == "view assessments":
        return client.get(f"{base}/assessments/")
    if action == "view plan":
        return client.get(f"{base}/plan/")
    if action == "change plan":
        return post_form(
            client,
            f"{base}/plan/items",
            {
                "activity_id": world["activity"],
                "domain": "sensory_integration",
                "assignee": "household",
                "days": ["0", "2", "4"],
                "mode": "anchors",
                "anchors": ["before_bed"],
                "minutes": "5",
                "start_date": "2026-11-23",
            },
            token_from="/profile/",
        )
    if action == "start assessment":
        return post_form(
            client, f"{base}/assessments/new", {"assessed_on": "2026-11-20"}, token_from="/profile/"
        )
    raise AssertionError(action)


def _counts(db, child_id: int) -> tuple[int, ...]:  # type: ignore[no-untyped-def]
    with cross_tenant("test: count the child's records"):
        return (
            db.scalar(select(func.count()).where(CareTeamMember.child_id == child_id)),
            db.scalar(select(func.count()).where(HistoryEntry.child_id == child_id)),
            db.scalar(select(func.count()).where(Assessment.child_id == child_id)),
            db.scalar(
                select(func.count(PlanItem.id))
                .join(PlanVersion)
                .join(Plan)
                .where(Plan.child_id == child_id)
            ),
        )


CASES = [(who, i) for who in MATRIX for i in range(len(ACTIONS))]


@pytest.mark.parametrize(
    ("who", "index"), CASES, ids=[f"{who}-{ACTIONS[i].replace(' ', '_')}" for who, i in CASES]
)
def test_permission_matrix(client, db, world, who, index):  # type: ignore[no-untyped-def]
    action, expected = ACTIONS[index], MATRIX[who][index]
    assert sign_in(client, world["emails"][who]).status_code == 302
    before = _counts(db, world["child"])
    response = _request(client, world, action)
    status = response.status_code
    if expected == ALLOWED:
        assert status in (200, 302, 303), f"{who} {action}: {status}"
        if action in ("change team", "change history", "start assessment", "change plan"):
            assert _counts(db, world["child"]) != before, f"{who} {action} changed nothing"
    else:
        assert status == (403 if expected == FORBIDDEN else 404), f"{who} {action}: {status}"
        assert _counts(db, world["child"]) == before, f"{who} {action} changed the record"
        if expected == HIDDEN:
            assert "Ashdown" not in response.get_data(as_text=True)
