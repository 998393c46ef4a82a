"""The activity library through the web and its operations."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from routines import content, library
from routines.models import Activity
from tenants.context import cross_tenant, tenant_context
from tenants.errors import NotFound, ValidationError
from tenants.models import AuditEvent
from tests.conftest import post_form, sign_in

NEW = {
    "name": "Drum circle echo",
    "instructions": "Tap a simple beat on a hand drum; the child echoes it back.",
    "why": "A shared, even beat.",
    "domains": ["sensory_integration", "relational"],
    "rs": ["rhythmic", "repetitive", "relational"],
    "typical_minutes": "5",
    "settings": ["home", "school"],
    "dev_age_min_months": "24",
    "dev_age_max_months": "144",
    "regulating": "y",
}


def count(db, org) -> int:  # type: ignore[no-untyped-def]
    with tenant_context(org.id):
        return db.scalar(select(func.count(Activity.id))) or 0


def audit_actions(db, org) -> list[str]:  # type: ignore[no-untyped-def]
    with tenant_context(org.id):
        return list(
            db.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "activity"))
        )


def test_default_library_is_imported_once_per_organisation(db, orgs):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    shipped = content.load_default_activities()
    assert len(shipped) >= 30
    with tenant_context(alpha.id):
        assert library.ensure_default_library(db) == len(shipped)
        assert library.ensure_default_library(db) == 0
        rows = library.list_activities(db)
        assert {a.source for a in rows} == {"default"}
        assert {d for a in rows for d in a.domains} == set(content.DOMAINS)
    assert count(db, beta) == 0
    with tenant_context(beta.id):
        library.ensure_default_library(db)
    with cross_tenant("test: both libraries"):
        total = db.scalar(select(func.count(Activity.id)))
    assert total == 2 * len(shipped)


def test_filters_and_search(db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with tenant_context(alpha.id):
        library.ensure_default_library(db)
        cognitive = library.list_activities(db, domain="cognitive")
        assert cognitive and all("cognitive" in a.domains for a in cognitive)
        school = library.list_activities(db, setting="school")
        assert school and all("school" in a.settings for a in school)
        found = library.list_activities(db, search="ROCKING")
        assert "Rocking together" in [a.name for a in found]
        assert library.list_activities(db, search="100%_") == []
        with pytest.raises(ValidationError) as exc:
            library.list_activities(db, domain="limbic")
        assert exc.value.field == "domain"
        rocking = next(a for a in found if a.name == "Rocking together")
        library.retire_activity(db, rocking, actor=alpha.admin)
        assert rocking not in library.list_activities(db)
        assert rocking in library.list_activities(db, include_retired=True)


def test_get_activity_of_another_organisation_is_not_found(db, orgs):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    with tenant_context(alpha.id):
        library.ensure_default_library(db)
        alpha_id = library.list_activities(db)[0].id
        assert library.get_activity(db, alpha_id).id == alpha_id
    with tenant_context(beta.id), pytest.raises(NotFound):
        library.get_activity(db, alpha_id)


def test_everyone_browses_the_library(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    for who in ("admin", "clinician", "carer", "teacher"):
        c = client.application.test_client()
        sign_in(c, getattr(alpha, who).email)
        html = c.get(f"/o/{alpha.slug}/activities/").get_data(as_text=True)
        assert "Rocking together" in html
        assert ("Add an activity" in html) == (who in ("admin", "clinician"))
        assert " style=" not in html and "<script" not in html
    filtered = c.get(f"/o/{alpha.slug}/activities/?domain=cognitive&setting=home&q=story")
    assert filtered.status_code == 200
    assert "Rocking together" not in filtered.get_data(as_text=True)


def test_unknown_filter_is_a_400_with_a_message(client, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    sign_in(client, alpha.carer.email)
    response = client.get(f"/o/{alpha.slug}/activities/?domain=limbic")
    assert response.status_code == 400
    assert "Choose one of the four domains" in response.get_data(as_text=True)
    response = client.get(f"/o/{alpha.slug}/activities/?setting=moon")
    assert response.status_code == 400


def test_clinician_adds_retires_and_restores(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    sign_in(client, alpha.clinician.email)
    response = post_form(client, f"/o/{alpha.slug}/activities/new", NEW)
    assert response.status_code == 303, response.get_data(as_text=True)
    activity_id = int(re.search(r"/activities/(\d+)$", response.headers["Location"]).group(1))
    page = f"/o/{alpha.slug}/activities/{activity_id}"
    html = client.get(page).get_data(as_text=True)
    assert "Drum circle echo" in html and "Added by your organisation" in html
    with tenant_context(alpha.id):
        item = db.get(Activity, activity_id)
        assert item.domains == ["sensory_integration", "relational"]
        assert item.rs == ["relational", "repetitive", "rhythmic"]
        assert (item.dev_age_min_months, item.dev_age_max_months, item.regulating) == (
            24,
            144,
            True,
        )
        assert item.source == "custom" and item.created_by_id == alpha.clinician.id

    assert post_form(client, f"{page}/retire", token_from=page).status_code == 303
    assert "is retired" in client.get(page).get_data(as_text=True)  # the flash, shown once
    with tenant_context(alpha.id):
        assert db.get(Activity, activity_id).retired_at is not None
    listing = client.get(f"/o/{alpha.slug}/activities/").get_data(as_text=True)
    assert "Drum circle echo" not in listing
    listing = client.get(f"/o/{alpha.slug}/activities/?retired=y").get_data(as_text=True)
    assert "Drum circle echo" in listing
    assert post_form(client, f"{page}/retire", token_from=page).status_code == 303  # no-op
    assert post_form(client, f"{page}/restore", token_from=page).status_code == 303
    with tenant_context(alpha.id):
        assert db.get(Activity, activity_id).retired_at is None
    assert sorted(audit_actions(db, alpha)) == [
        "activity.created",
        "activity.restored",
        "activity.retired",
    ]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"typical_minutes": "0"}, "typical_minutes", "from 1 to 60"),
        ({"typical_minutes": "ten"}, "typical_minutes", "whole number"),
        ({"domains": []}, "domains", "at least one domain"),
        ({"domains": ["limbic"]}, "domains", "not a valid choice"),
        ({"dev_age_min_months": "150"}, "dev_age_min_months", "must not be above the oldest"),
        ({"dev_age_max_months": "300"}, "dev_age_max_months", "0 to 216"),
        ({"name": "rocking   TOGETHER"}, "name", "already has an activity with this name"),
        ({"name": "x" * 121}, "name", "120"),
        ({"rs": ["rhythmic"]}, "rs", "at least 3"),
        ({"settings": []}, "settings", "at least one setting"),
        ({"instructions": "  "}, "instructions", "Enter the instructions"),
    ],
)
def test_bad_input_changes_nothing(client, db, orgs, changes, field, message):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    sign_in(client, alpha.admin.email)
    client.get(f"/o/{alpha.slug}/activities/")  # imports the default library
    before = count(db, alpha)
    response = post_form(client, f"/o/{alpha.slug}/activities/new", {**NEW, **changes})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    errors = re.search(rf'<ul class="field-errors" id="{field}-errors"[^>]*>(.*?)</ul>', html, re.S)
    assert errors and message in errors.group(1), html
    assert count(db, alpha) == before
    assert audit_actions(db, alpha) == []


@pytest.mark.parametrize("who", ["carer", "teacher"])
def test_carers_and_teachers_may_not_change_the_library(client, db, orgs, who):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with tenant_context(alpha.id):
        library.ensure_default_library(db)
        activity_id = library.list_activities(db)[0].id
        db.commit()
    sign_in(client, getattr(alpha, who).email)
    assert client.get(f"/o/{alpha.slug}/activities/new").status_code == 403
    page = f"/o/{alpha.slug}/activities/{activity_id}"
    assert client.get(page).status_code == 200
    for path in ("new", f"{activity_id}/retire", f"{activity_id}/restore"):
        response = post_form(
            client, f"/o/{alpha.slug}/activities/{path}", NEW, token_from="/profile/"
        )
        assert response.status_code == 403
    with tenant_context(alpha.id):
        assert db.get(Activity, activity_id).retired_at is None


def test_other_organisations_activities_are_not_found(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    with tenant_context(alpha.id):
        library.ensure_default_library(db)
        activity_id = library.list_activities(db)[0].id
        db.commit()
    sign_in(client, beta.admin.email)
    assert client.get(f"/o/{beta.slug}/activities/{activity_id}").status_code == 404
    for action in ("retire", "restore"):
        response = post_form(
            client, f"/o/{beta.slug}/activities/{activity_id}/{action}", token_from="/profile/"
        )
        assert response.status_code == 404
    with tenant_context(alpha.id):
        assert db.get(Activity, activity_id).retired_at is None
