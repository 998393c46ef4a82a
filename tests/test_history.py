"""The developmental history through the web and the timeline chart."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date

import pytest
from sqlalchemy import select

from routines import children
from routines.history_svg import PeriodPoint, render_timeline
from routines.models import HistoryEntry
from tenants.context import tenant_context
from tenants.models import AuditEvent
from tenants.organisations import membership_for
from tests.conftest import post_form, sign_in

SVG = "{http://www.w3.org/2000/svg}"


def make_child(db, org, *, carer=True, teacher=True) -> int:  # type: ignore[no-untyped-def]
    """A child whose lead clinician is org's clinician, with org's carer and teacher on the
    team."""
    with tenant_context(org.id):
        child = children.add_child(
            db,
            children.ChildDetails("Robin", "Ashdown", date(2018, 4, 2)),
            actor=org.clinician,
            actor_membership=membership_for(db, org.clinician),
            default_time_zone="Europe/London",
            today=date(2026, 11, 23),
        )
        for person, role, relation in (
            (org.carer, "carer", "foster_carer") if carer else (None, None, None),
            (org.teacher, "teacher", None) if teacher else (None, None, None),
        ):
            if person is not None:
                children.add_team_member(
                    db,
                    child,
                    membership_id=membership_for(db, person).id,
                    team_role=role,
                    relationship=relation,
                    actor=org.clinician,
                )
        db.commit()
        return child.id


def url(org, child_id: int, rest: str = "") -> str:  # type: ignore[no-untyped-def]
    return f"/o/{org.slug}/children/{child_id}/history/{rest}"


def entries(db, org, child_id: int) -> list[HistoryEntry]:  # type: ignore[no-untyped-def]
    with tenant_context(org.id):
        return list(
            db.scalars(
                select(HistoryEntry)
                .where(HistoryEntry.child_id == child_id)
                .order_by(HistoryEntry.id)
            )
        )


def actions(db, org, child_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    with tenant_context(org.id):
        return list(
            db.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.object_type == "child", AuditEvent.object_id == str(child_id))
                .order_by(AuditEvent.id)
            )
        )


ADVERSITY = {
    "period": "infancy",
    "kind": "Neglect",
    "severity": "severe",
    "certainty": "estimated",
    "note": "",
}


def test_clinician_records_history_and_sees_the_timeline(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    child_id = make_child(db, alpha)
    sign_in(client, alpha.clinician.email)
    page = url(alpha, child_id)

    response = post_form(client, url(alpha, child_id, "adversity"), ADVERSITY, token_from=page)
    assert response.status_code == 303
    response = post_form(
        client,
        url(alpha, child_id, "adversity"),
        {**ADVERSITY, "kind": "Hospital stays", "severity": "mild", "certainty": "known"},
        token_from=page,
    )
    assert response.status_code == 303
    for period, level in (("infancy", "low"), ("current", "strong"), ("infancy", "moderate")):
        response = post_form(
            client,
            url(alpha, child_id, "relational"),
            {"period": period, "relational_level": level},
            token_from=page,
        )
        assert response.status_code == 303

    rows = entries(db, alpha, child_id)
    relational = {(e.period, e.relational_level) for e in rows if e.entry_type == "relational"}
    assert relational == {("infancy", "moderate"), ("current", "strong")}  # one per period
    kinds = [
        (e.adversity_kind, e.severity, e.certainty) for e in rows if e.entry_type == "adversity"
    ]
    assert kinds == [("Neglect", "severe", "estimated"), ("Hospital stays", "mild", "known")]

    html = client.get(page).get_data(as_text=True)
    assert "<svg" in html and "Developmental timeline for Robin Ashdown" in html
    assert "Neglect" in html and "Hospital stays" in html
    # The table alternative: infancy's risk is severe (3) + mild (1), buffers moderate (2).
    assert re.search(r"Infancy \(2–12 months\)</th>\s*<td[^>]*>4</td>", html)
    assert "moderate (2 of 3)" in html and "strong (3 of 3)" in html
    assert " style=" not in html and "<script" not in html

    audit = actions(db, alpha, child_id)
    assert audit.count("history.changed") == 5
    assert "history.viewed" in audit


def test_timeline_scores_by_period(client, db, orgs):  # type: ignore[no-untyped-def]
    from routines import history

    alpha, _ = orgs
    child_id = make_child(db, alpha)
    with tenant_context(alpha.id):
        from routines.models import Child

        child = db.get(Child, child_id)
        history.add_adversity(
            db, child, period="perinatal", kind="Prematurity", severity="moderate",
            certainty="known", actor=alpha.clinician,
        )  # fmt: skip
        history.add_adversity(
            db, child, period="perinatal", kind="Maternal stress", severity="severe",
            certainty="estimated", actor=alpha.clinician,
        )  # fmt: skip
        history.add_adversity(
            db, child, period="childhood", kind="None known", severity="none",
            certainty="known", actor=alpha.clinician,
        )  # fmt: skip
        history.set_relational_health(
            db, child, period="perinatal", level="none", actor=alpha.clinician
        )
        points = {p.period: p for p in history.timeline(db, child)}
    assert list(points) == [
        "perinatal", "infancy", "early_childhood", "childhood", "adolescence", "current"
    ]  # fmt: skip
    assert (points["perinatal"].risk, points["perinatal"].buffer) == (5, 0)
    assert points["perinatal"].worst == "severe" and points["perinatal"].estimated == 1
    assert points["childhood"].risk == 0 and points["childhood"].buffer is None
    assert points["infancy"].risk is None and points["current"].risk is None


@pytest.mark.parametrize(
    ("path", "changes", "field", "message"),
    [
        ("adversity", {"period": "pregnancy"}, "adversity-period", "Not a valid choice"),
        ("adversity", {"period": "current"}, "adversity-period", "Not a valid choice"),
        ("adversity", {"severity": "extreme"}, "severity", "Not a valid choice"),
        ("adversity", {"kind": "   "}, "kind", "Describe the adversity"),
        ("adversity", {"kind": "x" * 101}, "kind", "at most 100"),
        ("adversity", {"note": "x" * 1001}, "adversity-note", "at most 1000"),
        ("relational", {"period": "toddler"}, "relational-period", "Not a valid choice"),
        ("relational", {"relational_level": "huge"}, "relational_level", "Not a valid choice"),
    ],
)
def test_bad_input_changes_nothing(client, db, orgs, path, changes, field, message):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    child_id = make_child(db, alpha)
    sign_in(client, alpha.clinician.email)
    data = ADVERSITY if path == "adversity" else {"period": "current", "relational_level": "low"}
    response = post_form(
        client, url(alpha, child_id, path), {**data, **changes}, token_from=url(alpha, child_id)
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    errors = re.search(rf'<ul class="field-errors" id="{field}-errors"[^>]*>(.*?)</ul>', html, re.S)
    assert errors and message in errors.group(1)
    assert entries(db, alpha, child_id) == []
    assert "history.changed" not in actions(db, alpha, child_id)


def test_domain_rejects_what_the_form_would(db, orgs):  # type: ignore[no-untyped-def]
    from routines import history
    from routines.models import Child
    from tenants.errors import ValidationError

    alpha, _ = orgs
    child_id = make_child(db, alpha)
    with tenant_context(alpha.id):
        child = db.get(Child, child_id)
        with pytest.raises(ValidationError) as exc:
            history.add_adversity(
                db, child, period="current", kind="x", severity="mild", certainty="known",
                actor=alpha.clinician,
            )  # fmt: skip
        assert exc.value.field == "period"
        with pytest.raises(ValidationError) as exc:
            history.set_relational_health(
                db, child, period="infancy", level="vast", actor=alpha.clinician
            )
        assert exc.value.field == "relational_level"


def test_remove_entry(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    child_id = make_child(db, alpha)
    sign_in(client, alpha.admin.email)  # admins change any child's clinical record
    page = url(alpha, child_id)
    post_form(client, url(alpha, child_id, "adversity"), ADVERSITY, token_from=page)
    (entry,) = entries(db, alpha, child_id)
    response = post_form(client, url(alpha, child_id, f"{entry.id}/remove"), token_from=page)
    assert response.status_code == 303
    assert entries(db, alpha, child_id) == []
    assert actions(db, alpha, child_id).count("history.changed") == 2


@pytest.mark.parametrize("who", ["carer", "teacher"])
def test_carers_and_teachers_on_the_team_get_403(client, db, orgs, who):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    child_id = make_child(db, alpha)
    sign_in(client, alpha.clinician.email)
    post_form(client, url(alpha, child_id, "adversity"), ADVERSITY, token_from=url(alpha, child_id))
    (entry,) = entries(db, alpha, child_id)
    token_page = "/profile/"  # a page of theirs with a form
    client = client.application.test_client()
    sign_in(client, getattr(alpha, who).email)
    assert client.get(url(alpha, child_id)).status_code == 403
    for path, data in (
        ("adversity", ADVERSITY),
        ("relational", {"period": "current", "relational_level": "low"}),
        (f"{entry.id}/remove", {}),
    ):
        response = post_form(client, url(alpha, child_id, path), data, token_from=token_page)
        assert response.status_code == 403
    assert len(entries(db, alpha, child_id)) == 1


def test_people_off_the_team_and_other_organisations_get_404(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    child_id = make_child(db, alpha, carer=False)
    sign_in(client, alpha.clinician.email)
    post_form(client, url(alpha, child_id, "adversity"), ADVERSITY, token_from=url(alpha, child_id))
    (entry,) = entries(db, alpha, child_id)
    client = client.application.test_client()
    sign_in(client, alpha.carer.email)  # same organisation, not on the team
    assert client.get(url(alpha, child_id)).status_code == 404

    client = client.application.test_client()
    sign_in(client, beta.admin.email)
    assert client.get(url(beta, child_id)).status_code == 404
    beta_child = make_child(db, beta)
    response = post_form(
        client, url(beta, beta_child, f"{entry.id}/remove"), token_from=url(beta, beta_child)
    )
    assert response.status_code == 404  # alpha's entry through beta's own child
    assert len(entries(db, alpha, child_id)) == 1


def test_svg_is_well_formed_escaped_and_labelled() -> None:
    points = [
        PeriodPoint(
            "perinatal", "Perinatal", "Peri<b>&", "0–2 months", 4, 1, "low", 2, 1, "severe"
        ),
        PeriodPoint("infancy", "Infancy", "Infancy", "2–12 months", None, None, None),
        PeriodPoint("current", "Now", "Now", "", None, 3, "strong"),
    ]
    svg = render_timeline(points, title='Timeline for <script>"x"')
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    assert root.find(f"{SVG}title").text == 'Timeline for <script>"x"'
    assert "Peri<b>&: risk 4, buffers low (1 of 3)." in root.find(f"{SVG}desc").text
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "Risk (adversity severity, summed)" in texts  # the legend
    assert "Peri<b>&" in texts and "4" in texts and "3" in texts
    assert "<script" not in svg and " style=" not in svg
    assert root.get("role") == "img"
    periods = [g.get("data-period") for g in root.iter(f"{SVG}g") if g.get("data-period")]
    assert periods == ["perinatal", "infancy", "current"]


def test_svg_scales_to_large_risk() -> None:
    points = [PeriodPoint("perinatal", "P", "P", "", 30, 2, "moderate", 10)]
    root = ET.fromstring(render_timeline(points, title="t"))  # noqa: S314
    labels = [t.text for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "end"]
    assert labels[-1] == "30" and len(labels) <= 9
