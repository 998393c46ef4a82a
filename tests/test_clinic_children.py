"""Children and care teams through the web: who may add, see and change what."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from routines.models import CareTeamMember, Child
from tenants.context import cross_tenant, tenant_context
from tenants.models import AuditEvent
from tenants.organisations import membership_for
from tests.conftest import post_form, sign_in

CHILD = {
    "given_name": "Robin",
    "family_name": "Ashdown",
    "preferred_name": "Rob",
    "pronouns": "he/him",
    "date_of_birth": "2018-04-02",
    "household_name": "Ashdown household",
    "time_zone": "Europe/London",
    "school_name": "Brook Primary",
    "classroom_name": "Year 3",
}


def add_child(client, slug: str, **changes: str):  # type: ignore[no-untyped-def]
    return post_form(client, f"/o/{slug}/children/new", {**CHILD, **changes})


def child_count(db) -> int:  # type: ignore[no-untyped-def]
    with cross_tenant("test: count children"):
        return db.scalar(select(func.count(Child.id))) or 0


def new_child_id(response) -> int:  # type: ignore[no-untyped-def]
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(re.search(r"/children/(\d+)$", response.headers["Location"]).group(1))


@pytest.fixture
def alpha_child(client, orgs):  # type: ignore[no-untyped-def]
    """alpha's clinician adds a child (becoming lead) and puts alpha's carer on the team."""
    alpha, _ = orgs
    sign_in(client, alpha.clinician.email)
    child_id = new_child_id(add_child(client, alpha.slug))
    return child_id


def test_clinician_adds_a_child_and_becomes_lead(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    sign_in(client, alpha.clinician.email)
    child_id = new_child_id(add_child(client, alpha.slug))
    page = client.get(f"/o/{alpha.slug}/children/{child_id}").get_data(as_text=True)
    assert "Rob Ashdown" in page and "he/him" in page
    assert "Lead clinician" in page
    assert "Brook Primary, Year 3" in page
    with tenant_context(alpha.id):
        team = db.scalars(select(CareTeamMember).where(CareTeamMember.child_id == child_id)).all()
        assert [(m.membership.user_id, m.team_role) for m in team] == [
            (alpha.clinician.id, "lead_clinician")
        ]
        actions = db.scalars(
            select(AuditEvent.action).where(AuditEvent.object_id == str(child_id))
        ).all()
    assert {"child.created", "child.viewed"} <= set(actions)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"date_of_birth": "2099-01-01"}, "cannot be in the future"),
        ({"date_of_birth": "1990-01-01"}, "up to 25"),
        ({"date_of_birth": "not a date"}, "Enter the date of birth"),
        ({"given_name": "   "}, "given name"),
        ({"classroom_name": ""}, "both the school and the class"),
        ({"time_zone": "Mars/Base"}, "Not a valid choice"),
    ],
)
def test_bad_child_details_are_refused(client, db, orgs, changes, message):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    sign_in(client, alpha.clinician.email)
    response = add_child(client, alpha.slug, **changes)
    assert response.status_code == 400
    assert message.lower() in response.get_data(as_text=True).lower()
    assert child_count(db) == 0


@pytest.mark.parametrize("role", ["carer", "teacher"])
def test_carers_and_teachers_cannot_add_children(client, db, orgs, role):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    sign_in(client, getattr(alpha, role).email)
    assert client.get(f"/o/{alpha.slug}/children/new").status_code == 403
    assert child_count(db) == 0


def test_care_team_gives_access_and_only_clinicians_change_it(client, db, orgs, alpha_child):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    url = f"/o/{alpha.slug}/children/{alpha_child}"
    with tenant_context(alpha.id):
        carer_membership = membership_for(db, alpha.carer).id
        teacher_membership = membership_for(db, alpha.teacher).id
    # the lead clinician adds the carer, as a foster carer
    added = post_form(
        client,
        f"{url}/team",
        {"membership_id": carer_membership, "team_role": "carer", "relationship": "foster_carer"},
        token_from=url,
    )
    assert added.status_code == 303

    carer = client.application.test_client()
    sign_in(carer, alpha.carer.email)
    assert carer.get(url).status_code == 200
    assert "Rob Ashdown" in carer.get(f"/o/{alpha.slug}/children/").get_data(as_text=True)
    refused = post_form(
        carer,
        f"{url}/team",
        {"membership_id": teacher_membership, "team_role": "teacher"},
        token_from="/profile/",
    )
    assert refused.status_code == 403

    teacher = client.application.test_client()
    sign_in(teacher, alpha.teacher.email)
    assert teacher.get(url).status_code == 404  # not on the team: as if it did not exist
    assert "Ashdown" not in teacher.get(f"/o/{alpha.slug}/children/").get_data(as_text=True)

    admin = client.application.test_client()
    sign_in(admin, alpha.admin.email)
    assert admin.get(url).status_code == 200


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"team_role": "carer", "relationship": ""}, "relationship to the child"),
        ({"team_role": "teacher", "relationship": ""}, "organisation role"),
        ({"team_role": "lead_clinician", "relationship": ""}, "organisation role"),
        ({"team_role": "carer", "relationship": "grandparent"}, "Not a valid choice"),
    ],
)
def test_bad_care_team_entries_are_refused(client, db, orgs, alpha_child, form, message):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    url = f"/o/{alpha.slug}/children/{alpha_child}"
    with tenant_context(alpha.id):
        carer_membership = membership_for(db, alpha.carer).id
    response = post_form(
        client, f"{url}/team", {"membership_id": carer_membership, **form}, token_from=url
    )
    assert response.status_code == 400
    assert message.lower() in response.get_data(as_text=True).lower()
    with tenant_context(alpha.id):
        count = db.scalar(select(func.count(CareTeamMember.id)))
    assert count == 1  # only the lead clinician


def test_lead_clinician_cannot_be_removed(client, db, orgs, alpha_child):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    url = f"/o/{alpha.slug}/children/{alpha_child}"
    with tenant_context(alpha.id):
        lead = db.scalar(select(CareTeamMember.id).where(CareTeamMember.child_id == alpha_child))
    response = post_form(client, f"{url}/team/{lead}/remove", token_from=url)
    assert response.status_code == 303
    with tenant_context(alpha.id):
        assert db.get(CareTeamMember, lead) is not None
    assert "another lead clinician" in client.get(url).get_data(as_text=True)
