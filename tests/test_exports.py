"""A child's full record as JSON (a data-subject request): who may download it, what it
holds, that it is audited, and that it costs the same number of queries for any child.

The seeding helpers here are shared with test_fhir_export.py and test_research_export.py."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select

from routines import children, logs
from routines import models as m
from tenants import accounts, audit, organisations
from tenants.context import tenant_context
from tenants.db import utcnow
from tenants.models import AuditEvent
from tests import routine_factories as f
from tests.conftest import PASSWORD, sign_in

WEEKDAYS = [0, 1, 2, 3, 4]


@dataclass
class Seeded:
    child: m.Child
    carer_membership: Any
    home_item: m.PlanItem
    school_item: m.PlanItem
    version: m.PlanVersion

    @property
    def id(self) -> int:
        return self.child.id


def framework(db) -> m.Framework:  # type: ignore[no-untyped-def]
    """A small framework of two items (caller inside the tenant), reused if already made."""
    existing = db.scalar(select(m.Framework).where(m.Framework.key == "test"))
    if existing is not None:
        return existing
    band = {"code": "all", "label": "Any age", "from_months": 0, "to_months": 216}
    row = m.Framework(
        key="test", version=3, name="Test map", scale_max=12, age_bands=[band], source="import"
    )
    for position, (code, domain) in enumerate(
        [("SI1", "sensory_integration"), ("SR1", "self_regulation")], start=1
    ):
        row.items.append(
            m.FrameworkItem(
                code=code,
                domain=domain,
                position=position,
                label=f"Item {code}",
                expected={"all": 12},
            )
        )
    db.add(row)
    db.flush()
    return row


def add_assessment(db, kid: m.Child, on: date, scores: tuple[int, int]) -> m.Assessment:  # type: ignore[no-untyped-def]
    fw = framework(db)
    assessment = m.Assessment(
        child_id=kid.id,
        framework_id=fw.id,
        assessed_on=on,
        status="complete",
        age_months=100,
        notes="Seemed calmer than last time.",
        completed_at=datetime.combine(on, datetime.min.time(), tzinfo=UTC),
    )
    for fw_item, score in zip(fw.items, scores, strict=True):
        assessment.ratings.append(m.ItemRating(item_id=fw_item.id, score=score))
    db.add(assessment)
    db.flush()
    return assessment


def seed_child(  # type: ignore[no-untyped-def]
    db,
    org,
    *,
    given: str = "Robin",
    family: str = "Ashdown",
    born: date = date(2018, 4, 2),
    household: str = "Ashdown household",
    school_zone: str | None = None,
    activity_name: str = "Rocking",
    effective_from: date | None = None,
) -> Seeded:
    """A child of `org` (call inside its tenant) with the org's clinician as lead, its carer and
    teacher on the team, a published plan of a home routine at 07:30 every day and a school
    routine at 10:15 on weekdays, materialised from yesterday for a fortnight."""
    clinician_m = organisations.membership_for(db, org.clinician)
    kid = children.add_child(
        db,
        children.ChildDetails(
            given,
            family,
            born,
            preferred_name=f"{given}ie",
            household_name=household,
            school_name="Brook Primary",
            classroom_name="Year 3",
            time_zone="Europe/London",
        ),
        actor=org.clinician,
        actor_membership=clinician_m,
        default_time_zone="Europe/London",
        today=utcnow().date(),
    )
    if school_zone is not None:
        kid.classroom.time_zone = school_zone
    carer_m = organisations.membership_for(db, org.carer)
    teacher_m = organisations.membership_for(db, org.teacher)
    for membership, role, relation in (
        (carer_m, "carer", "foster_carer"),
        (teacher_m, "teacher", None),
    ):
        children.add_team_member(
            db,
            kid,
            membership_id=membership.id,
            team_role=role,
            relationship=relation,
            actor=org.clinician,
        )
    act = db.scalar(select(m.Activity).where(m.Activity.name == activity_name))
    act = act or f.activity(db, activity_name)
    start = effective_from or utcnow().date() - timedelta(days=60)
    home = f.item(act, frequency={"days": f.EVERY_DAY, "mode": "times", "times": ["07:30"]})
    home.start_date = start
    school = f.item(
        act,
        assignee="classroom",
        frequency={"days": WEEKDAYS, "mode": "times", "times": ["10:15"]},
        domain="self_regulation",
        minutes=10,
    )
    school.start_date = start
    version = f.publish(db, kid, [home, school], effective_from=start, now=utcnow())
    return Seeded(kid, carer_m, home, school, version)


def log_home(db, org, seeded: Seeded, count: int, **details: Any) -> list[m.RoutineLog]:  # type: ignore[no-untyped-def]
    """The carer logs the next `count` unlogged home occurrences (all within the next week)."""
    ids = list(
        db.scalars(
            select(m.Occurrence.id)
            .outerjoin(m.RoutineLog, m.RoutineLog.occurrence_id == m.Occurrence.id)
            .where(
                m.Occurrence.child_id == seeded.id,
                m.Occurrence.side == "home",
                m.RoutineLog.id.is_(None),
            )
            .order_by(m.Occurrence.due_at)
            .limit(count)
        )
    )
    fields = {"status": "done", "minutes": 6, "state_before": "alarm", "state_after": "calm"}
    fields.update(details)
    results = logs.record_logs(
        db,
        [logs.LogInput(str(uuid.uuid4()), i, **fields) for i in ids],
        actor=org.carer,
        membership=seeded.carer_membership,
        now=utcnow(),
        source="web",
    )
    assert all(r.ok for r in results), [(r.code, r.outcome, r.message) for r in results]
    return [r.log for r in results]  # type: ignore[misc]


def make_clinician(db, org, email: str = "other.clinician"):  # type: ignore[no-untyped-def]
    """A second clinician of `org`, on no child's team."""
    with tenant_context(org.id):
        user = accounts.create_user(
            db, email=f"{email}@{org.slug}.example", name="Other Clinician", password=PASSWORD
        )
        organisations.add_member(db, user, ["clinician"])
    db.commit()
    return user


def audit_count(db, org, action: str) -> int:  # type: ignore[no-untyped-def]
    with tenant_context(org.id):
        return db.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == action))


def counting(app):  # type: ignore[no-untyped-def]
    """A list that fills with the SQL statements the app runs until `.stop()`."""
    engine = app.extensions["cadence.db"].engine
    seen: list[str] = []

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)

    class Counter(list):  # type: ignore[type-arg]
        def stop(self) -> int:
            event.remove(engine, "before_cursor_execute", count)
            return len(seen)

    return Counter()


# --- the record ----------------------------------------------------------------------------


@pytest.fixture
def rich(db, orgs):  # type: ignore[no-untyped-def]
    """Alpha's child with every kind of record: history, two assessments, two plan versions
    (a draft too), logs with a correction, an away period, an alert episode, a reminder."""
    alpha, _ = orgs
    with f.in_org(alpha):
        seeded = seed_child(db, alpha)
        kid = seeded.child
        db.add(
            m.HistoryEntry(
                child_id=kid.id,
                period="infancy",
                entry_type="adversity",
                adversity_kind="Neglect",
                severity="moderate",
                certainty="estimated",
                note="Reported by the social worker.",
                created_by_id=alpha.clinician.id,
            )
        )
        first = add_assessment(db, kid, date(2026, 5, 1), (5, 6))
        add_assessment(db, kid, date(2026, 8, 1), (7, 8))
        # An event about the child by way of its detail, and one about another child.
        for child_id in (kid.id, kid.id + 1000):
            audit.record(
                db,
                "assessment.completed",
                actor=alpha.clinician,
                object_type="assessment",
                object_id=first.id,
                child_id=child_id,
            )
        db.add(m.PlanVersion(plan_id=seeded.version.plan_id, status="draft"))
        [done] = log_home(db, alpha, seeded, 1)
        [skipped] = log_home(db, alpha, seeded, 1, status="skipped", reason="refused", minutes=None)
        logs.correct_log(db, done, {"enjoyment": 4}, actor=alpha.carer, now=utcnow())
        db.add_all(
            [
                m.AwayPeriod(
                    child_id=kid.id,
                    kind="respite",
                    starts_at=utcnow() + timedelta(days=20),
                    ends_at=utcnow() + timedelta(days=22),
                    time_zone="Europe/London",
                    note="Weekend with grandparents.",
                    created_by_id=alpha.carer.id,
                ),
                m.AlertEpisode(
                    child_id=kid.id, kind="adherence_low", opened_value=0.55, opened_at=utcnow()
                ),
                m.Delivery(
                    kind="reminder",
                    subject=f"occurrence:{done.occurrence_id}",
                    occurrence_id=done.occurrence_id,
                    child_id=kid.id,
                    membership_id=seeded.carer_membership.id,
                    channel="in_app",
                    status="sent",
                    not_before=utcnow(),
                ),
            ]
        )
        db.flush()
    db.commit()
    return seeded, done, skipped


def url(org, child_id: int, kind: str = "export.json") -> str:  # type: ignore[no-untyped-def]
    return f"/o/{org.slug}/children/{child_id}/{kind}"


CSRF_INPUT = re.compile(r'<input[^>]*name="csrf_token"[^>]*>')


def without_csrf(response) -> str:  # type: ignore[no-untyped-def]
    """The page, less its CSRF token (signed with a timestamp, so it changes each second)."""
    return CSRF_INPUT.sub("", response.get_data(as_text=True))


ISO_INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def test_the_record_holds_everything_about_the_child(client, db, orgs, rich):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    seeded, done, skipped = rich
    sign_in(client, "clinician@alpha.example")
    response = client.get(url(alpha, seeded.id))
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and f"child-{seeded.id}" in disposition
    record = response.get_json()

    assert (record["format"], record["version"]) == ("cadence.child-record", 1)
    assert ISO_INSTANT.match(record["exported_at"])
    assert record["exported_by"]["name"] == "alpha clinician"
    assert record["organisation"] == {
        "slug": "alpha",
        "name": "Alpha Services",
        "time_zone": "Europe/London",
    }
    child = record["child"]
    assert (child["given_name"], child["family_name"], child["preferred_name"]) == (
        "Robin",
        "Ashdown",
        "Robinie",
    )
    assert child["date_of_birth"] == "2018-04-02"
    assert record["household"]["name"] == "Ashdown household"
    assert record["classroom"]["school_name"] == "Brook Primary"
    team = {(p["name"], p["team_role"]) for p in record["care_team"]}
    assert team == {
        ("alpha clinician", "lead_clinician"),
        ("alpha carer", "carer"),
        ("alpha teacher", "teacher"),
    }
    [history] = record["developmental_history"]
    assert (history["adversity_kind"], history["created_by"]) == ("Neglect", "alpha clinician")

    first, second = record["assessments"]
    assert first["assessed_on"] == "2026-05-01"
    assert first["framework"] == {"key": "test", "version": 3, "name": "Test map"}
    assert [(r["item_code"], r["domain"], r["score"]) for r in second["ratings"]] == [
        ("SI1", "sensory_integration", 7),
        ("SR1", "self_regulation", 8),
    ]

    published, draft = record["plan_versions"]
    assert (published["number"], published["status"], draft["status"]) == (1, "published", "draft")
    assert [(i["activity"], i["assignee"], i["minutes"]) for i in published["items"]] == [
        ("Rocking", "household", 5),
        ("Rocking", "classroom", 10),
    ]
    assert published["items"][0]["frequency"]["times"] == ["07:30"]

    occurrences = {o["id"]: o for o in record["occurrences"]}
    assert len(occurrences) > 10
    logged = occurrences[done.occurrence_id]
    assert (logged["local_time"], logged["time_zone"], logged["status"]) == (
        "07:30",
        "Europe/London",
        "done",
    )
    assert ISO_INSTANT.match(logged["due_at"])
    by_id = {log["id"]: log for log in record["logs"]}
    assert by_id[skipped.id]["reason"] == "refused"
    [correction] = by_id[done.id]["corrections"]
    assert (correction["before"]["enjoyment"], correction["after"]["enjoyment"]) == (None, 4)
    assert by_id[done.id]["logged_by"] == "alpha carer"
    assert record["away_periods"][0]["note"] == "Weekend with grandparents."
    assert record["alert_episodes"][0]["opened_value"] == 0.55
    assert record["messages"][0]["to"] == "alpha carer"
    actions = {e["action"] for e in record["audit_events"]}
    assert {
        "child.created",
        "routine.logged",
        "routine.log_corrected",
        "assessment.completed",
    } <= actions
    about = [e for e in record["audit_events"] if e["action"] == "assessment.completed"]
    assert [e["detail"]["child_id"] for e in about] == [seeded.id]


def test_the_export_is_audited(client, db, orgs, rich):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    seeded = rich[0]
    sign_in(client, "admin@alpha.example")
    assert client.get(url(alpha, seeded.id)).status_code == 200
    with tenant_context(alpha.id):
        [row] = db.scalars(select(AuditEvent).where(AuditEvent.action == "child.exported"))
    assert (row.object_type, row.object_id, row.detail) == (
        "child",
        str(seeded.id),
        {"format": "json"},
    )
    assert row.actor_email == "admin@alpha.example"


def test_the_record_never_holds_another_childs_rows(client, db, orgs, rich):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    seeded = rich[0]
    with f.in_org(alpha):
        sibling = seed_child(db, alpha, given="Sable", household="Other household")
        log_home(db, alpha, sibling, 2)
    with f.in_org(beta):
        seed_child(db, beta, given="Bramble")
    db.commit()
    sign_in(client, "clinician@alpha.example")
    record = client.get(url(alpha, seeded.id)).get_json()
    text = str(record)
    assert "Sable" not in text and "Bramble" not in text
    with tenant_context(alpha.id):
        sibling_ids = set(
            db.scalars(select(m.Occurrence.id).where(m.Occurrence.child_id == sibling.id))
        )
    assert not sibling_ids & {o["id"] for o in record["occurrences"]}
    assert not sibling_ids & {log["occurrence_id"] for log in record["logs"]}


def test_the_record_runs_a_fixed_number_of_queries(app, client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with f.in_org(alpha):
        small = seed_child(db, alpha, given="Small", household="Small household")
        large = seed_child(db, alpha, given="Large", household="Large household")
        for month in range(1, 6):
            add_assessment(db, large.child, date(2026, month, 1), (month, month + 1))
        log_home(db, alpha, large, 6)
        db.add(m.HistoryEntry(child_id=large.id, period="infancy", entry_type="relational"))
        db.add_all(
            m.AwayPeriod(
                child_id=large.id,
                kind="holiday",
                starts_at=utcnow() + timedelta(days=30 + n),
                ends_at=utcnow() + timedelta(days=31 + n),
                time_zone="Europe/London",
            )
            for n in range(4)
        )
        db.flush()
    db.commit()
    sign_in(client, "clinician@alpha.example")
    client.get(url(alpha, small.id))  # warm: first-request work is not the export's
    counter = counting(app)
    assert client.get(url(alpha, small.id)).status_code == 200
    few = counter.stop()
    counter = counting(app)
    record = client.get(url(alpha, large.id)).get_json()
    many = counter.stop()
    assert len(record["assessments"]) == 5 and len(record["logs"]) == 6
    assert few == many
    assert few <= 30, few


# --- who may download it -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["export.json", "fhir.json"])
def test_only_the_childs_clinicians_and_admins_export(app, db, orgs, kind):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    with f.in_org(alpha):
        seeded = seed_child(db, alpha)
    db.commit()
    make_clinician(db, alpha)
    for email, status in (
        ("carer@alpha.example", 403),
        ("teacher@alpha.example", 403),
        ("other.clinician@alpha.example", 404),
        ("admin@beta.example", 404),
    ):
        client = app.test_client()
        sign_in(client, email)
        response = client.get(url(alpha, seeded.id, kind))
        assert response.status_code == status, email
        assert "Robin" not in response.get_data(as_text=True)
        if status == 403:
            assert "only the child" in response.get_data(as_text=True)
    assert audit_count(db, alpha, "child.exported") == 0
    # The other organisation's admin, in their own organisation, gets "nothing here" too.
    missing = client.get(url(beta, 999_999, kind))
    theirs = client.get(url(beta, seeded.id, kind))
    assert missing.status_code == theirs.status_code == 404
    assert without_csrf(missing) == without_csrf(theirs)
    for email in ("clinician@alpha.example", "admin@alpha.example"):
        client = app.test_client()
        sign_in(client, email)
        assert client.get(url(alpha, seeded.id, kind)).status_code == 200, email
    assert audit_count(db, alpha, "child.exported") == 2


def test_signed_out_is_sent_to_sign_in(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    response = client.get(url(alpha, 1))
    assert response.status_code == 302
    assert "/auth/sign-in" in response.headers["Location"]
