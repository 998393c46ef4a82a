"""Functional brain map assessments: the hand-checked map, and the pages with their rules."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import func, select

from routines import assessments as ops
from routines import children
from routines.frameworks import build_framework
from routines.models import Assessment, ItemRating
from tenants import accounts, organisations
from tenants.context import cross_tenant, tenant_context
from tenants.errors import NotFound, ValidationError
from tenants.models import AuditEvent
from tests.conftest import PASSWORD, post_form, sign_in

# A small framework, hand-checkable: three age bands, five items.
FRAMEWORK = {
    "key": "small",
    "name": "Small test framework",
    "scale_max": 12,
    "age_bands": [
        {"code": "0-4y", "label": "0–4 years", "from_months": 0, "to_months": 48},
        {"code": "4-8y", "label": "4–8 years", "from_months": 48, "to_months": 96},
        {"code": "8-18y", "label": "8–18 years", "from_months": 96, "to_months": 216},
    ],
    "items": [
        {
            "code": "S1",
            "domain": "sensory_integration",
            "label": "Steady body rhythms",
            "expected": {"0-4y": 6, "4-8y": 10, "8-18y": 12},
        },
        {
            "code": "S2",
            "domain": "sensory_integration",
            "label": "Tolerates <touch> & noise",
            "expected": {"0-4y": 4, "4-8y": 6, "8-18y": 8},
        },
        {
            "code": "R1",
            "domain": "self_regulation",
            "label": "Settles after upset",
            "expected": {"0-4y": 4, "4-8y": 7, "8-18y": 10},
        },
        {
            "code": "L1",
            "domain": "relational",
            "label": "Trusts familiar adults",
            "expected": {"0-4y": 2, "4-8y": 6, "8-18y": 10},
        },
        {
            "code": "C1",
            "domain": "cognitive",
            "label": "Plans ahead",
            "expected": {"0-4y": 2, "4-8y": 6, "8-18y": 10},
        },
    ],
}
BORN = date(2017, 4, 2)
ASSESSED = date(2025, 4, 2)  # 96 months: compared with the 8–18 years band
SCORES = {"S1": 12, "S2": 4, "R1": 3, "L1": 5, "C1": 8}


@dataclass
class Setup:
    slug: str
    org_id: int
    child_id: int
    other_child_id: int
    framework_item_ids: dict[str, int]


def _user(db, org, role: str, name: str):  # type: ignore[no-untyped-def]
    user = accounts.create_user(
        db, email=f"{name}@{org.slug}.example", name=f"{org.slug} {name}", password=PASSWORD
    )
    organisations.add_member(db, user, [role])
    return user


def _child(db, org, family: str, born: date = BORN):  # type: ignore[no-untyped-def]
    return children.add_child(
        db,
        children.ChildDetails("Robin", family, born),
        actor=org.clinician,
        actor_membership=organisations.membership_for(db, org.clinician),
        default_time_zone="Europe/London",
        today=date(2026, 11, 23),
    )


@pytest.fixture
def setup(db, orgs) -> Setup:  # type: ignore[no-untyped-def]
    """alpha: a child with alpha's clinician as lead and alpha's carer on the team; a second
    child with another carer; a clinician on no team; the small framework as current."""
    alpha, _ = orgs
    with tenant_context(alpha.id):
        framework = build_framework(FRAMEWORK, source="import")
        db.add(framework)
        child = _child(db, alpha, "Ashdown")
        children.add_team_member(
            db,
            child,
            membership_id=organisations.membership_for(db, alpha.carer).id,
            team_role="carer",
            relationship="foster_carer",
            actor=alpha.clinician,
        )
        other = _child(db, alpha, "Brookes")
        carer2 = _user(db, alpha, "carer", "carer2")
        _user(db, alpha, "clinician", "clinician2")
        children.add_team_member(
            db,
            other,
            membership_id=organisations.membership_for(db, carer2).id,
            team_role="carer",
            relationship="kinship_carer",
            actor=alpha.clinician,
        )
        db.flush()
        item_ids = {item.code: item.id for item in framework.items}
    db.commit()
    return Setup(alpha.slug, alpha.id, child.id, other.id, item_ids)


# --- the hand-checked map -------------------------------------------------------------------


def _completed(db, orgs, setup, scores=SCORES):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    child = children.get_child(
        db, setup.child_id, organisations.membership_for(db, alpha.clinician)
    )
    assessment = ops.start_assessment(
        db, child, assessed_on=ASSESSED, today=date(2026, 11, 23), actor=alpha.clinician
    )
    ops.save_ratings(db, assessment, scores, actor=alpha.clinician)
    ops.complete_assessment(db, assessment, child, actor=alpha.clinician)
    return child, assessment


def test_hand_checked_map_with_the_organisation_thresholds(db, orgs, setup):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    alpha.org.map_red_below, alpha.org.map_green_from = 50.0, 80.0
    with tenant_context(alpha.id):
        child, assessment = _completed(db, orgs, setup)
        assert assessment.age_months == 96 and assessment.status == "complete"
        result = ops.map_for(assessment, alpha.org)
        ages = ops.developmental_ages(result, assessment.framework.age_bands)
    assert result.age_band.code == "8-18y"
    items = {i.code: (i.score, i.expected, i.percent, i.band) for i in result.items}
    assert items == {
        "S1": (12, 12, 100.0, "green"),
        "S2": (4, 8, 50.0, "yellow"),  # exactly red_below: not red
        "R1": (3, 10, 30.0, "red"),
        "L1": (5, 10, 50.0, "yellow"),
        "C1": (8, 10, 80.0, "green"),  # exactly green_from: green
    }
    domains = {d.domain: (d.score, d.expected, d.percent, d.band) for d in result.domains}
    assert domains == {
        "sensory_integration": (16, 20, 80.0, "green"),
        "self_regulation": (3, 10, 30.0, "red"),
        "relational": (5, 10, 50.0, "yellow"),
        "cognitive": (8, 10, 80.0, "green"),
    }
    # sensory 16 reaches 0–4y (10) and 4–8y (16) but not 8–18y (20); R1 3 < 4: below all;
    # L1 5 reaches 0–4y (2) not 4–8y (6); C1 8 reaches 4–8y (6) not 8–18y (10)
    assert [(a.label, a.age) for a in ages] == [
        ("Sensory integration", "4–8 years"),
        ("Self-regulation", "Below 0–4 years"),
        ("Relational", "0–4 years"),
        ("Cognitive", "4–8 years"),
    ]


def test_default_thresholds_band_the_same_scores_differently(db, orgs, setup):  # type: ignore[no-untyped-def]
    alpha, _ = orgs  # 60 / 85: 80% is yellow, 50% is red
    with tenant_context(alpha.id):
        _, assessment = _completed(db, orgs, setup)
        result = ops.map_for(assessment, alpha.org)
        with pytest.raises(NotFound):
            ops.get_assessment(db, children.get_child(
                db, setup.other_child_id, organisations.membership_for(db, alpha.clinician)
            ), assessment.id)  # fmt: skip
    assert result.domain("sensory_integration").band == "yellow"
    assert result.domain("relational").band == "red"


def test_latest_completed_ignores_drafts(db, orgs, setup):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with tenant_context(alpha.id):
        child, done = _completed(db, orgs, setup)
        ops.start_assessment(
            db, child, assessed_on=date(2026, 1, 5), today=date(2026, 11, 23), actor=alpha.admin
        )
        assert ops.latest_completed(db, child) is done
        latest = ops.latest_developmental_ages(db, child, alpha.org)
    assert latest is not None and latest[0] is done


def test_partial_saves_and_clearing_a_rating(db, orgs, setup):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with tenant_context(alpha.id):
        child = children.get_child(
            db, setup.child_id, organisations.membership_for(db, alpha.clinician)
        )
        a = ops.start_assessment(
            db, child, assessed_on=ASSESSED, today=date(2026, 11, 23), actor=alpha.clinician
        )
        ops.save_ratings(db, a, {"S1": 7, "S2": 0}, actor=alpha.clinician)
        ops.save_ratings(db, a, {"S1": 9, "S2": None}, actor=alpha.clinician)
        assert ops.scores_of(a) == {"S1": 9}
        with pytest.raises(ValidationError, match="Not yet rated: S2"):
            ops.complete_assessment(db, a, child, actor=alpha.clinician)
        with pytest.raises(ValidationError) as bad:
            ops.save_ratings(db, a, {"S2": 5, "R1": 13}, actor=alpha.clinician)
        assert bad.value.field == "R1"
        assert ops.scores_of(a) == {"S1": 9}  # checked first: S2 was not saved either
        assert a.status == "draft"


# --- the pages -------------------------------------------------------------------------------


def base(setup: Setup, child_id: int | None = None) -> str:
    return f"/o/{setup.slug}/children/{child_id or setup.child_id}/assessments"


def as_user(client, email: str):  # type: ignore[no-untyped-def]
    other = client.application.test_client()
    sign_in(other, email)
    return other


def start(client, setup: Setup, when: str = ASSESSED.isoformat()):  # type: ignore[no-untyped-def]
    return post_form(
        client, f"{base(setup)}/new", {"assessed_on": when}, token_from=f"{base(setup)}/"
    )


def started_id(response) -> int:  # type: ignore[no-untyped-def]
    assert response.status_code == 303, response.get_data(as_text=True)
    return int(re.search(r"/assessments/(\d+)$", response.headers["Location"]).group(1))


def rate(client, setup: Setup, assessment_id: int, scores: dict, action: str = "save"):  # type: ignore[no-untyped-def]
    url = f"{base(setup)}/{assessment_id}"
    data = {f"score_{setup.framework_item_ids[c]}": str(s) for c, s in scores.items()}
    return post_form(client, url, {**data, "action": action}, token_from=f"{base(setup)}/")


def stored(db, assessment_id: int):  # type: ignore[no-untyped-def]
    with cross_tenant("test: read the assessment back"):
        db.expire_all()
        a = db.get(Assessment, assessment_id)
        return (
            a.status,
            a.age_months,
            dict(
                db.execute(
                    select(ItemRating.item_id, ItemRating.score).where(
                        ItemRating.assessment_id == assessment_id
                    )
                ).all()
            ),
        )


def actions(db, org_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    with cross_tenant("test: read the audit trail"):
        return list(
            db.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.tenant_id == org_id, AuditEvent.action.like("assessment.%"))
                .order_by(AuditEvent.id)
            )
        )


@pytest.mark.parametrize("role", ["clinician", "admin"])
def test_lead_clinician_and_admin_rate_complete_and_see_the_map(client, db, orgs, setup, role):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    alpha.org.map_red_below, alpha.org.map_green_from = 50.0, 80.0
    db.commit()
    sign_in(client, getattr(alpha, role).email)
    assert client.get(f"{base(setup)}/").status_code == 200
    assessment_id = started_id(start(client, setup))
    form = client.get(f"{base(setup)}/{assessment_id}").get_data(as_text=True)
    # grouped bottom-up, labels escaped
    assert (
        form.index("Sensory integration") < form.index("Self-regulation") < form.index("Cognitive")
    )
    assert "Tolerates &lt;touch&gt; &amp; noise" in form
    # a draft saved as it goes
    saved = rate(client, setup, assessment_id, {"S1": 12, "S2": 4})
    assert saved.status_code == 303
    assert stored(db, assessment_id)[0] == "draft"
    assert client.get(f"{base(setup)}/{assessment_id}/map").status_code == 302  # no map yet
    done = rate(client, setup, assessment_id, SCORES, action="complete")
    assert done.status_code == 303 and done.headers["Location"].endswith("/map")
    status, age, ratings = stored(db, assessment_id)
    assert (status, age) == ("complete", 96)
    assert ratings == {setup.framework_item_ids[c]: s for c, s in SCORES.items()}

    page = client.get(f"{base(setup)}/{assessment_id}/map")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count("<svg") == 2 and "<script" not in html and "style=" not in html
    assert 'data-code="R1" data-band="red"' in html and 'data-code="S2" data-band="yellow"' in html
    assert "Below 0–4 years" in html and "4–8 years" in html  # developmental ages
    assert "Tolerates &lt;touch&gt; &amp; noise" in html and "<touch>" not in html
    assert "R red: below 50%" in html
    trail = actions(db, alpha.id)
    assert trail.count("assessment.created") == 1 and trail.count("assessment.rated") == 2
    assert trail.count("assessment.completed") == 1 and trail[-1] == "assessment.viewed"


def test_permission_matrix(client, db, orgs, setup):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    sign_in(client, alpha.clinician.email)
    assessment_id = started_id(start(client, setup))
    assert rate(client, setup, assessment_id, SCORES, action="complete").status_code == 303
    draft_id = started_id(start(client, setup))
    urls = [
        f"{base(setup)}/",
        f"{base(setup)}/{assessment_id}",
        f"{base(setup)}/{assessment_id}/map",
        f"{base(setup)}/{draft_id}",
    ]
    expected = {
        alpha.carer.email: 403,  # on the team, but no clinical scores
        "clinician2@alpha.example": 404,  # a clinician not on the team
        "carer2@alpha.example": 404,  # the carer of another child
        alpha.teacher.email: 404,  # not on the team
        beta.admin.email: 404,  # another organisation (its own slug is not even alpha's)
    }
    before = stored(db, draft_id)
    for email, status in expected.items():
        other = as_user(client, email)
        for url in urls:
            assert other.get(url).status_code == status, (email, url)
        token_page = other.get(urls[0])  # the sign-out form carries the CSRF token
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', token_page.text)
        assert token is not None
        posted = other.post(
            f"{base(setup)}/{draft_id}",
            data={"csrf_token": token.group(1), f"score_{setup.framework_item_ids['S1']}": "1"},
        )
        assert posted.status_code == status, email
        new = other.post(
            f"{base(setup)}/new", data={"csrf_token": token.group(1), "assessed_on": "2025-01-01"}
        )
        assert new.status_code == status, email
    assert stored(db, draft_id) == before
    with cross_tenant("test: count assessments"):
        assert db.scalar(select(func.count(Assessment.id))) == 2


def test_completing_with_a_missing_item_names_it_and_stays_draft(client, db, orgs, setup):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    sign_in(client, alpha.clinician.email)
    assessment_id = started_id(start(client, setup))
    partial = {k: v for k, v in SCORES.items() if k != "L1"}
    response = rate(client, setup, assessment_id, partial, action="complete")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Not yet rated: L1 (Trusts familiar adults)" in html
    assert "Rate this item before completing." in html
    assert '<option selected value="12">' in html  # what was entered is kept on the page
    assert stored(db, assessment_id) == ("draft", None, {})  # nothing changed


@pytest.mark.parametrize("bad", ["13", "-1", "seven", "4.5"])
def test_scores_outside_the_scale_are_refused(client, db, orgs, setup, bad):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    sign_in(client, alpha.clinician.email)
    assessment_id = started_id(start(client, setup))
    assert rate(client, setup, assessment_id, {"S1": 5}).status_code == 303
    response = rate(client, setup, assessment_id, {"S1": 6, "S2": bad})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    field = f"score_{setup.framework_item_ids['S2']}"
    assert re.search(rf'id="{field}-errors"[^>]*>\s*<li>Choose a score from 0 to 12\.', html)
    assert stored(db, assessment_id) == ("draft", None, {setup.framework_item_ids["S1"]: 5})


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("2099-01-01", "cannot be in the future"),
        ("2017-04-01", "before the child&#39;s date of birth"),
        ("", "Enter the date of the assessment"),
        ("yesterday", "Enter the date of the assessment"),
    ],
)
def test_bad_assessment_dates_are_refused(client, db, orgs, setup, when, message):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    sign_in(client, alpha.clinician.email)
    response = start(client, setup, when)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert re.search(rf'id="assessed_on-errors"[^>]*>\s*<li>[^<]*{re.escape(message)}', html)
    with cross_tenant("test: count assessments"):
        assert db.scalar(select(func.count(Assessment.id))) == 0


def test_a_completed_assessment_cannot_be_rated_again(client, db, orgs, setup):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    sign_in(client, alpha.clinician.email)
    assessment_id = started_id(start(client, setup))
    assert rate(client, setup, assessment_id, SCORES, action="complete").status_code == 303
    before = stored(db, assessment_id)
    for action in ("save", "complete"):
        response = rate(client, setup, assessment_id, {**SCORES, "S1": 1}, action=action)
        assert response.status_code == 400
        assert "complete and can no longer be changed" in response.get_data(as_text=True)
    assert stored(db, assessment_id) == before
    with tenant_context(alpha.id):
        a = db.get(Assessment, assessment_id)
        with pytest.raises(ValidationError, match="can no longer be changed"):
            ops.save_ratings(db, a, {"S1": 1}, actor=alpha.clinician)
    # the read-only page still shows the ratings
    page = client.get(f"{base(setup)}/{assessment_id}").get_data(as_text=True)
    assert "View the map" in page and "<select" not in page


def test_another_childs_assessment_answers_404(client, db, orgs, setup):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    sign_in(client, alpha.clinician.email)
    assessment_id = started_id(start(client, setup))
    other = base(setup, setup.other_child_id)
    assert client.get(f"{other}/{assessment_id}").status_code == 404
    assert client.get(f"{other}/{assessment_id}/map").status_code == 404
    assert client.get(f"{base(setup)}/999999").status_code == 404
