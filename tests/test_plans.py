"""Sequenced plans: proposing, the sequencing checks at publication, immutability and
versions in effect, bad input, and the pages with their access rules."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date

import pytest
from sqlalchemy import func, select, update

from routines import assessments, children, plan_words, plans
from routines.frameworks import build_framework
from routines.models import Activity, PlanItem, PlanVersion
from tenants import organisations
from tenants.context import cross_tenant, tenant_context
from tenants.errors import NotFound, ValidationError
from tenants.models import AuditEvent
from tests.conftest import post_form, sign_in

# One item per domain, two age bands: hand-checkable developmental ages.
FRAMEWORK = {
    "key": "plan-test",
    "name": "Plan test framework",
    "scale_max": 12,
    "age_bands": [
        {"code": "0-4y", "label": "0–4 years", "from_months": 0, "to_months": 48},
        {"code": "4-18y", "label": "4–18 years", "from_months": 48, "to_months": 216},
    ],
    "items": [
        {"code": code, "domain": domain, "label": label, "expected": {"0-4y": 4, "4-18y": 10}}
        for code, domain, label in (
            ("S1", "sensory_integration", "Steady body rhythms"),
            ("R1", "self_regulation", "Settles after upset"),
            ("L1", "relational", "Trusts familiar adults"),
            ("C1", "cognitive", "Plans ahead"),
        )
    ],
}
BORN = date(2016, 1, 10)
ASSESSED = date(2026, 1, 10)  # 120 months: compared with 4–18 years
# With the default thresholds (red below 60%, green from 85%):
# sensory 10/10 green, developmental age 48 months; self-regulation 3/10 red, 0 months
# (below even 0–4y's 4); relational 7/10 yellow, 0 months; cognitive 10/10 green, 48 months.
SCORES = {"S1": 10, "R1": 3, "L1": 7, "C1": 10}
START = date(2026, 1, 12)

PLAIN_RS = ["relational", "rewarding", "relevant"]
ACTIVITIES = {
    # name: (domains, rs, regulating, dev age min, max, typical minutes)
    "Rocking": (
        ["sensory_integration", "self_regulation"],
        ["relational", "repetitive", "rhythmic", "rewarding"],
        True,
        0,
        216,
        5,
    ),
    "Chatting": (["cognitive"], ["relational", "relevant", "respectful"], False, 48, 216, 10),
    "Playing": (["relational"], ["relational", "rewarding", "respectful"], False, 0, 216, 10),
    "Toddler game": (["self_regulation"], PLAIN_RS, False, 12, 36, 5),
    "Late sensory": (["sensory_integration"], PLAIN_RS, False, 49, 216, 5),
}  # fmt: skip


@dataclass
class Setup:
    slug: str
    org_id: int
    child_id: int
    activity_ids: dict[str, int]
    carer_membership_id: int
    teacher_membership_id: int


@pytest.fixture
def setup(db, orgs) -> Setup:  # type: ignore[no-untyped-def]
    """alpha: a child with alpha's clinician as lead, alpha's carer and teacher on the team, a
    completed assessment on ASSESSED, and five activities of its own."""
    alpha, _ = orgs
    with tenant_context(alpha.id):
        db.add(build_framework(FRAMEWORK, source="import"))
        db.flush()
        child = children.add_child(
            db,
            children.ChildDetails("Robin", "Ashdown", BORN, household_name="Ashdown household"),
            actor=alpha.clinician,
            actor_membership=organisations.membership_for(db, alpha.clinician),
            default_time_zone="Europe/London",
            today=date(2026, 11, 23),
        )
        carer = organisations.membership_for(db, alpha.carer)
        teacher = organisations.membership_for(db, alpha.teacher)
        for membership, role, relation in (
            (carer, "carer", "foster_carer"),
            (teacher, "teacher", None),
        ):
            children.add_team_member(
                db,
                child,
                membership_id=membership.id,
                team_role=role,
                relationship=relation,
                actor=alpha.clinician,
            )
        ids = {}
        for name, (domains, rs, regulating, low, high, minutes) in ACTIVITIES.items():
            activity = Activity(
                name=name,
                instructions=f"How to do {name.lower()}.",
                why=f"{name} helps because it is steady.",
                domains=domains,
                rs=rs,
                typical_minutes=minutes,
                settings=["home"],
                dev_age_min_months=low,
                dev_age_max_months=high,
                regulating=regulating,
            )
            db.add(activity)
            db.flush()
            ids[name] = activity.id
        assessment = assessments.start_assessment(
            db, child, assessed_on=ASSESSED, today=date(2026, 11, 23), actor=alpha.clinician
        )
        assessments.save_ratings(db, assessment, SCORES, actor=alpha.clinician)
        assessments.complete_assessment(db, assessment, child, actor=alpha.clinician)
        setup = Setup(alpha.slug, alpha.id, child.id, ids, carer.id, teacher.id)
    db.commit()
    return setup


def details(**changes) -> plans.ItemDetails:  # type: ignore[no-untyped-def]
    base = plans.ItemDetails(
        domain="self_regulation",
        assignee="household",
        minutes=5,
        start_date=START,
        days=list(range(7)),
        mode="anchors",
        anchors=["after_school"],
    )
    return replace(base, **changes)


class Clinic:
    """The domain operations as alpha's clinician, inside alpha."""

    def __init__(self, db, orgs, setup: Setup) -> None:  # type: ignore[no-untyped-def]
        self.db, self.org, self.setup = db, orgs[0], setup

    @property
    def child(self):  # type: ignore[no-untyped-def]
        membership = organisations.membership_for(self.db, self.org.clinician)
        return children.get_child(self.db, self.setup.child_id, membership)

    def draft(self) -> PlanVersion:
        return plans.draft_for(self.db, self.child, actor=self.org.clinician)

    def add(self, name: str, **changes) -> PlanItem:  # type: ignore[no-untyped-def]
        return plans.add_item(
            self.db,
            self.draft(),
            self.child,
            self.setup.activity_ids[name],
            details(**changes),
            actor=self.org.clinician,
        )

    def warnings(self) -> list[str]:
        draft = self.draft()
        return [w.code for w in plans.warnings_for(self.db, draft, self.child, self.org.org)]

    def publish(self, on: date, *, reason: str = "", acknowledged: bool = False) -> PlanVersion:
        return plans.publish(
            self.db,
            self.draft(),
            self.child,
            effective_from=on,
            reason=reason,
            acknowledged=acknowledged,
            actor=self.org.clinician,
            org=self.org.org,
        )


@pytest.fixture
def clinic(db, orgs, setup):  # type: ignore[no-untyped-def]
    with tenant_context(orgs[0].id):
        yield Clinic(db, orgs, setup)


# --- proposing -----------------------------------------------------------------------------


def test_proposal_starts_at_the_lowest_compromised_domain_at_the_developmental_age(clinic):  # type: ignore[no-untyped-def]
    draft = clinic.draft()
    added = plans.propose_into_draft(
        clinic.db, draft, clinic.child, clinic.org.org, actor=clinic.org.clinician, today=START
    )
    # sensory is green (skipped); self-regulation is red at 0 months: Rocking fits, the
    # Toddler game (12-36) does not; relational is yellow at 0 months: Playing; cognitive green.
    assert [(i.activity.name, i.domain) for i in added] == [
        ("Rocking", "self_regulation"),
        ("Playing", "relational"),
    ]
    first = added[0]
    assert first.assignee == "household" and first.minutes == 5 and first.start_date == START
    assert first.frequency == {"days": [0, 1, 2, 3, 4, 5, 6], "mode": "anchors",
                               "anchors": ["after_school"]}  # fmt: skip
    # proposing again adds nothing twice
    again = plans.propose_into_draft(
        clinic.db, draft, clinic.child, clinic.org.org, actor=clinic.org.clinician, today=START
    )
    assert again == [] and len(draft.items) == 2


# --- sequencing checks ---------------------------------------------------------------------


def test_a_plan_that_follows_the_sequence_has_no_warnings(clinic):  # type: ignore[no-untyped-def]
    clinic.add("Rocking")  # self-regulation, 5 min x 7 = 35 a week, regulating
    assert clinic.warnings() == []


def test_above_red_fires_only_when_higher_domains_get_more_minutes(clinic):  # type: ignore[no-untyped-def]
    clinic.add("Rocking")  # 35 minutes a week on red self-regulation
    chat = clinic.add("Chatting", domain="cognitive", minutes=5)  # 35 above: equal, no warning
    assert clinic.warnings() == []
    plans.update_item(
        clinic.db, chat, clinic.child, details(domain="cognitive", minutes=6),
        actor=clinic.org.clinician,
    )  # fmt: skip
    assert clinic.warnings() == ["above_red"]  # 42 > 35
    # below the red domain does not count: sensory is under self-regulation
    plans.remove_item(clinic.db, chat, clinic.child, actor=clinic.org.clinician)
    clinic.add("Rocking", domain="sensory_integration", minutes=60)
    assert clinic.warnings() == []


def test_age_mismatch_fires_only_outside_the_range_both_ends_included(clinic):  # type: ignore[no-untyped-def]
    clinic.add("Rocking")
    clinic.add("Late sensory", domain="sensory_integration", minutes=1)  # 49+; child at 48
    assert clinic.warnings() == ["age_mismatch"]
    with cross_tenant("test: edit the library entry"):
        late = clinic.db.get(Activity, clinic.setup.activity_ids["Late sensory"])
        late.dev_age_min_months = 48  # the child's developmental age: the end counts
        clinic.db.flush()
    assert clinic.warnings() == []
    clinic.add("Toddler game", minutes=1)  # 12-36 months; self-regulation is at 0 months
    assert clinic.warnings() == ["age_mismatch"]


def test_no_regulating_fires_without_a_rhythmic_regulating_activity(clinic):  # type: ignore[no-untyped-def]
    assert clinic.warnings() == ["no_regulating"]  # an empty plan has none
    clinic.add("Rocking")
    assert clinic.warnings() == []
    with cross_tenant("test: edit the library entry"):
        rocking = clinic.db.get(Activity, clinic.setup.activity_ids["Rocking"])
        rocking.rs = ["relational", "repetitive", "rewarding"]  # regulating, not rhythmic
        clinic.db.flush()
        assert clinic.warnings() == ["no_regulating"]
        rocking.rs = ["relational", "repetitive", "rhythmic"]
        rocking.regulating = False  # rhythmic and repetitive, not flagged regulating
        clinic.db.flush()
        assert clinic.warnings() == ["no_regulating"]
        rocking.regulating = True
        clinic.db.flush()
        assert clinic.warnings() == []


def test_publishing_past_warnings_needs_acknowledgement_and_a_reason(clinic):  # type: ignore[no-untyped-def]
    clinic.add("Playing", domain="relational")  # above red self-regulation, none regulating
    assert clinic.warnings() == ["above_red", "no_regulating"]
    with pytest.raises(ValidationError) as unacknowledged:
        clinic.publish(date(2026, 2, 1))
    assert unacknowledged.value.field == "acknowledged"
    with pytest.raises(ValidationError) as no_reason:
        clinic.publish(date(2026, 2, 1), acknowledged=True, reason="   ")
    assert no_reason.value.field == "reason"
    draft = clinic.draft()
    assert (draft.status, draft.number, draft.effective_from) == ("draft", None, None)

    version = clinic.publish(date(2026, 2, 1), acknowledged=True, reason="Carers asked for play.")
    assert (version.status, version.number) == ("published", 1)
    assert [w["code"] for w in version.acknowledged_warnings] == ["above_red", "no_regulating"]
    assert version.acknowledgement_reason == "Carers asked for play."


def test_publishing_without_warnings_needs_no_acknowledgement(clinic):  # type: ignore[no-untyped-def]
    clinic.add("Rocking")
    version = clinic.publish(ASSESSED)  # the assessment's own date is allowed
    assert version.number == 1 and version.acknowledged_warnings == []
    assert version.acknowledgement_reason is None
    assert version.assessment_id is not None and version.published_by_id == clinic.org.clinician.id


# --- immutability and versions in effect -----------------------------------------------------


def test_a_published_version_refuses_every_change(clinic):  # type: ignore[no-untyped-def]
    item = clinic.add("Rocking")
    version = clinic.publish(date(2026, 2, 1))
    db = clinic.db

    with pytest.raises(ValidationError, match="never changes"):
        plans.update_item(db, item, clinic.child, details(minutes=9), actor=clinic.org.clinician)
    with pytest.raises(ValidationError, match="never changes"):
        plans.remove_item(db, item, clinic.child, actor=clinic.org.clinician)
    with pytest.raises(ValidationError, match="never changes"):
        plans.move_item(db, item, clinic.child, "up", actor=clinic.org.clinician)

    # below the operations, the flush guard refuses direct changes too
    item.minutes = 9
    with pytest.raises(plans.PublishedPlanIsImmutable):
        db.flush()
    db.expire(item)
    version.effective_from = date(2026, 1, 20)
    with pytest.raises(plans.PublishedPlanIsImmutable):
        db.flush()
    db.expire(version)
    version.items.append(
        PlanItem(activity_id=item.activity_id, position=2, domain="self_regulation",
                 assignee="household", frequency=item.frequency, minutes=5, start_date=START)
    )  # fmt: skip
    with pytest.raises(plans.PublishedPlanIsImmutable):
        db.flush()
    db.expunge(version.items[-1])
    db.expire(version)
    db.delete(item)
    with pytest.raises(plans.PublishedPlanIsImmutable):
        db.flush()
    db.expunge(item)
    with pytest.raises(plans.PublishedPlanIsImmutable):
        db.execute(update(PlanItem).where(PlanItem.id == item.id).values(minutes=9))

    db.rollback()  # back to the last commit: the setup; nothing of the above survived
    with cross_tenant("test: count"):
        assert db.scalar(select(func.count(PlanVersion.id))) == 0


def test_a_stored_published_version_is_unchanged(clinic):  # type: ignore[no-untyped-def]
    clinic.add("Rocking", minutes=7)
    version = clinic.publish(date(2026, 2, 1))
    clinic.db.commit()
    version_id = version.id
    with pytest.raises(plans.PublishedPlanIsImmutable):
        version.items[0].minutes = 8
        clinic.db.commit()
    clinic.db.rollback()
    clinic.db.expire_all()
    with cross_tenant("test: read back"):
        stored = clinic.db.get(PlanVersion, version_id)
        assert [i.minutes for i in stored.items] == [7]


def test_version_n_supersedes_n_minus_1_from_its_date_and_not_before(clinic):  # type: ignore[no-untyped-def]
    clinic.add("Rocking")
    v1 = clinic.publish(date(2026, 2, 1))
    draft = clinic.draft()  # a copy of version 1
    assert [(i.activity_id, i.minutes) for i in draft.items] == [
        (clinic.setup.activity_ids["Rocking"], 5)
    ]
    plans.update_item(
        clinic.db, draft.items[0], clinic.child, details(minutes=8), actor=clinic.org.clinician
    )
    with pytest.raises(ValidationError) as earlier:
        clinic.publish(date(2026, 1, 31))  # before version 1's date
    assert earlier.value.field == "effective_from"
    v2 = clinic.publish(date(2026, 3, 1))
    assert v2.number == 2
    child = clinic.child
    assert plans.version_in_effect(clinic.db, child, date(2026, 1, 31)) is None
    assert plans.version_in_effect(clinic.db, child, date(2026, 2, 1)) is v1
    assert plans.version_in_effect(clinic.db, child, date(2026, 2, 28)) is v1
    assert plans.version_in_effect(clinic.db, child, date(2026, 3, 1)) is v2
    assert plans.superseded_on(v1, [v1, v2]) == date(2026, 3, 1)
    assert v1.status == "published" and [i.minutes for i in v1.items] == [5]


def test_diff_between_versions(clinic):  # type: ignore[no-untyped-def]
    clinic.add("Rocking")
    clinic.add("Chatting", domain="cognitive", minutes=5)
    v1 = clinic.publish(date(2026, 2, 1))
    draft = clinic.draft()
    rocking, chatting = draft.items
    plans.update_item(
        clinic.db, rocking, clinic.child, details(minutes=10, notes="Slowly."),
        actor=clinic.org.clinician,
    )  # fmt: skip
    plans.remove_item(clinic.db, chatting, clinic.child, actor=clinic.org.clinician)
    clinic.add("Playing", domain="relational")
    v2 = clinic.publish(date(2026, 3, 1))
    diff = plan_words.diff_versions(v1, v2)
    assert [(c.name, c.domain) for c in diff.added] == [("Playing", "relational")]
    assert [(c.name, c.domain) for c in diff.removed] == [("Chatting", "cognitive")]
    assert [(c.name, c.fields) for c in diff.changed] == [("Rocking", ("minutes", "notes"))]
    assert plan_words.diff_versions(v1, v1).empty


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"end_date": date(2026, 1, 11)}, "end_date"),
        ({"minutes": 0}, "minutes"),
        ({"minutes": 241}, "minutes"),
        ({"days": []}, "days"),
        ({"days": [7]}, "days"),
        ({"mode": "times", "times": ["7:30"]}, "times"),
        ({"mode": "times", "times": ["24:00"]}, "times"),
        ({"anchors": ["at_noon"]}, "anchors"),
        ({"mode": "spread", "spread_count": 0, "spread_from": "09:00", "spread_to": "15:00"},
         "spread_count"),
        ({"mode": "spread", "spread_count": 3, "spread_from": "15:00", "spread_to": "09:00"},
         "spread_to"),
        ({"mode": None}, "mode"),
        ({"domain": "cognitive"}, "domain"),  # Rocking does not work on cognition
        ({"assignee": "carer"}, "assignee_membership_id"),
        ({"assignee": "classroom"}, "assignee"),  # the child has no class recorded
        ({"assignee": "nobody"}, "assignee"),
    ],
)  # fmt: skip
def test_bad_item_input_names_its_field_and_adds_nothing(clinic, changes, field):  # type: ignore[no-untyped-def]
    draft = clinic.draft()
    with pytest.raises(ValidationError) as bad:
        clinic.add("Rocking", **changes)
    assert bad.value.field == field
    assert draft.items == []


def test_named_carers_and_teachers_come_from_the_care_team(clinic):  # type: ignore[no-untyped-def]
    setup = clinic.setup
    with pytest.raises(ValidationError):  # the carer is not a teacher
        clinic.add("Rocking", assignee="teacher", assignee_membership_id=setup.carer_membership_id)
    item = clinic.add(
        "Rocking", assignee="teacher", assignee_membership_id=setup.teacher_membership_id
    )
    assert item.assignee_membership_id == setup.teacher_membership_id
    mine = clinic.add(
        "Playing",
        domain="relational",
        assignee="carer",
        assignee_membership_id=setup.carer_membership_id,
        mode="spread",
        spread_count=3,
        spread_from="09:00",
        spread_to="15:00",
        days=[0, 1, 2, 3, 4],
    )
    assert plan_words.describe_assignee(mine, clinic.child) == "alpha carer"
    assert plan_words.describe_frequency(mine.frequency) == (
        "Monday to Friday, 3 times between 09:00 and 15:00"
    )


def test_publishing_before_the_assessment_is_refused(clinic):  # type: ignore[no-untyped-def]
    clinic.add("Rocking")
    with pytest.raises(ValidationError) as early:
        clinic.publish(date(2026, 1, 9))
    assert early.value.field == "effective_from"
    assert clinic.draft().status == "draft"


# --- the pages -----------------------------------------------------------------------------


def base(setup: Setup) -> str:
    return f"/o/{setup.slug}/children/{setup.child_id}/plan"


def as_user(client, email: str):  # type: ignore[no-untyped-def]
    other = client.application.test_client()
    assert sign_in(other, email).status_code == 302
    return other


def item_form(setup: Setup, name: str = "Rocking", **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "activity_id": str(setup.activity_ids[name]),
        "domain": "self_regulation",
        "assignee": "household",
        "assignee_membership_id": "",
        "days": [str(d) for d in range(7)],
        "mode": "anchors",
        "anchors": ["after_school"],
        "times": "",
        "spread_count": "",
        "spread_from": "",
        "spread_to": "",
        "minutes": "5",
        "start_date": START.isoformat(),
        "end_date": "",
        "notes": "Hold them close.",
    }
    data.update(changes)
    return data


def stored_items(db) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    with cross_tenant("test: read back"):
        db.expire_all()
        return [
            (i.version.status, i.minutes)
            for i in db.scalars(select(PlanItem).order_by(PlanItem.id))
        ]


def actions(db, org_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    with cross_tenant("test: read audit"):
        return list(
            db.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.tenant_id == org_id, AuditEvent.action.like("plan.%"))
                .order_by(AuditEvent.id)
            )
        )


def error_next_to(html: str, field: str) -> str:
    match = re.search(rf'id="{field}-errors"[^>]*>(.*?)</ul>', html, re.S)
    assert match, f"no error next to {field}"
    return match.group(1)


def test_clinician_builds_and_publishes_through_the_pages(client, db, orgs, setup):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    sign_in(client, alpha.clinician.email)
    url = base(setup)
    page = client.get(f"{url}/")
    assert page.status_code == 200 and "Sequenced plan" in page.get_data(as_text=True)

    proposed = post_form(client, f"{url}/propose", token_from=f"{url}/")
    assert proposed.status_code == 303
    added = post_form(client, f"{url}/items", item_form(setup, "Chatting", domain="cognitive"),
                      token_from=f"{url}/")  # fmt: skip
    assert added.status_code == 303
    body = client.get(f"{url}/").get_data(as_text=True)
    assert "Rocking" in body and "Playing" in body and "Chatting" in body
    assert "still red" in body  # proposed Playing: 70 minutes a week above 35 on red

    with cross_tenant("test: find the items"):
        ids = [i.id for i in db.scalars(select(PlanItem).order_by(PlanItem.position))]
    moved = post_form(client, f"{url}/items/{ids[2]}/move", {"direction": "up"},
                      token_from=f"{url}/")  # fmt: skip
    assert moved.status_code == 303
    with cross_tenant("test: order"):
        db.expire_all()
        order = [i.id for i in db.scalars(select(PlanItem).order_by(PlanItem.position))]
    assert order == [ids[0], ids[2], ids[1]]
    edited = post_form(client, f"{url}/items/{ids[2]}", item_form(setup, domain="cognitive",
                       minutes="6"), token_from=f"{url}/")  # fmt: skip
    assert edited.status_code == 303
    removed = post_form(client, f"{url}/items/{ids[1]}/remove", token_from=f"{url}/")
    assert removed.status_code == 303

    # 42 minutes of cognition against 35 of red self-regulation: a warning
    refused = post_form(client, f"{url}/publish", {"effective_from": "2026-02-01"},
                        token_from=f"{url}/")  # fmt: skip
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert "tick the box" in error_next_to(html, "acknowledged")
    assert "still red" in html
    published = post_form(
        client,
        f"{url}/publish",
        {"effective_from": "2026-02-01", "acknowledged": "y", "reason": "Talking settles him."},
        token_from=f"{url}/",
    )
    assert published.status_code == 303
    with cross_tenant("test: read back"):
        db.expire_all()
        version = db.scalar(select(PlanVersion))
        assert (version.number, version.acknowledgement_reason) == (1, "Talking settles him.")
        assert [w["code"] for w in version.acknowledged_warnings] == ["above_red"]
        version_id = version.id
    shown = client.get(f"{url}/versions/{version_id}").get_data(as_text=True)
    assert "Plan version 1" in shown and "Talking settles him." in shown

    # a published item cannot be changed through the page either
    again = post_form(client, f"{url}/items/{ids[0]}", item_form(setup, minutes="9"),
                      token_from=f"{url}/")  # fmt: skip
    assert again.status_code == 400 and "never changes" in again.get_data(as_text=True)
    gone = post_form(client, f"{url}/items/{ids[0]}/remove", token_from=f"{url}/")
    assert gone.status_code == 400
    assert ("published", 5) in stored_items(db)

    logged = actions(db, setup.org_id)
    assert [a for a in logged if a != "plan.viewed"] == [
        "plan.draft_started",
        "plan.proposed",
        "plan.item_added",
        "plan.item_moved",
        "plan.item_changed",
        "plan.item_removed",
        "plan.published",
    ]
    # every page load (the editor, the version page) left a view event
    assert logged.count("plan.viewed") >= 10


def test_compare_page(client, db, orgs, setup, clinic):  # type: ignore[no-untyped-def]
    clinic.add("Rocking")
    v1 = clinic.publish(date(2026, 2, 1))
    plans.update_item(
        clinic.db, clinic.draft().items[0], clinic.child, details(minutes=8),
        actor=clinic.org.clinician,
    )  # fmt: skip
    v2 = clinic.publish(date(2026, 3, 1))
    ids = (v1.id, v2.id)
    db.commit()
    sign_in(client, orgs[0].clinician.email)
    url = base(setup)
    page = client.get(f"{url}/compare?a={ids[0]}&b={ids[1]}")
    assert page.status_code == 200
    assert "Rocking (Self-regulation): minutes" in page.get_data(as_text=True)
    assert client.get(f"{url}/compare?a=x&b={ids[1]}").status_code == 400
    assert client.get(f"{url}/compare?a={ids[0]}").status_code == 400
    assert client.get(f"{url}/compare?a={ids[0]}&b=999999").status_code == 404
    history = client.get(f"{url}/").get_data(as_text=True)
    assert "superseded from 01 March 2026" in history


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"end_date": "2026-01-11"}, "end_date", "cannot be before the start date"),
        ({"minutes": "0"}, "minutes", "from 1 to 240"),
        ({"minutes": "five"}, "minutes", "whole number"),
    ],
)
def test_bad_item_input_on_the_page(client, db, orgs, setup, data, field, message):  # type: ignore[no-untyped-def]
    sign_in(client, orgs[0].clinician.email)
    url = base(setup)
    response = post_form(client, f"{url}/items", item_form(setup, **data), token_from=f"{url}/")
    assert response.status_code == 400
    assert message in error_next_to(response.get_data(as_text=True), field)
    assert stored_items(db) == []
    assert "plan.item_added" not in actions(db, setup.org_id)
    assert "plan.draft_started" not in actions(db, setup.org_id)


def test_bad_edit_changes_nothing(client, db, orgs, setup, clinic):  # type: ignore[no-untyped-def]
    item_id = clinic.add("Rocking").id
    db.commit()
    sign_in(client, orgs[0].clinician.email)
    url = base(setup)
    response = post_form(client, f"{url}/items/{item_id}", item_form(setup, minutes="0",
                         end_date="2026-01-01"), token_from=f"{url}/")  # fmt: skip
    assert response.status_code == 400
    assert "from 1 to 240" in error_next_to(response.get_data(as_text=True), "minutes")
    assert stored_items(db) == [("draft", 5)]


def test_effective_date_before_the_assessment_on_the_page(client, db, orgs, setup, clinic):  # type: ignore[no-untyped-def]
    clinic.add("Rocking")
    db.commit()
    sign_in(client, orgs[0].clinician.email)
    url = base(setup)
    response = post_form(client, f"{url}/publish", {"effective_from": "2026-01-09"},
                         token_from=f"{url}/")  # fmt: skip
    assert response.status_code == 400
    assert "before the assessment" in error_next_to(
        response.get_data(as_text=True), "effective_from"
    )
    assert stored_items(db) == [("draft", 5)]
    assert "plan.published" not in actions(db, setup.org_id)


def test_carers_and_teachers_see_the_plan_in_plain_words(client, db, orgs, setup, clinic):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    url = base(setup)
    carer = as_user(client, alpha.carer.email)
    empty = carer.get(f"{url}/")
    assert empty.status_code == 200 and "no plan in effect yet" in empty.get_data(as_text=True)

    with tenant_context(alpha.id):
        clinic.add("Rocking", notes="Before the bath.")
        clinic.publish(date(2026, 2, 1))
    db.commit()
    for person in (carer, as_user(client, alpha.teacher.email)):
        body = person.get(f"{url}/").get_data(as_text=True)
        assert "How to do rocking." in body
        assert "Every day, after school" in body
        assert "5 minutes each time" in body
        assert "Before the bath." in body
        assert "Rocking helps because it is steady." in body
        assert "self-regulation" in body and "rhythmic" in body
        assert "Red" not in body and "30%" not in body  # no clinical scores
        # the clinical pages and every change are for clinicians
        assert person.get(f"{url}/compare?a=1&b=1").status_code == 403
        denied = post_form(person, f"{url}/items", item_form(setup), token_from=f"{url}/")
        assert denied.status_code == 403
        assert post_form(person, f"{url}/publish", {}, token_from=f"{url}/").status_code == 403
    assert "plan.viewed" in actions(db, setup.org_id)


def test_the_map_is_shown_to_carers_only_when_shared(client, db, orgs, setup, clinic):  # type: ignore[no-untyped-def]
    clinic.add("Rocking")
    with tenant_context(orgs[0].id):
        plans.publish(
            db, clinic.draft(), clinic.child, effective_from=date(2026, 2, 1), reason="",
            acknowledged=False, share_map=True, actor=orgs[0].clinician, org=orgs[0].org,
        )  # fmt: skip
    db.commit()
    carer = as_user(client, orgs[0].carer.email)
    body = carer.get(f"{base(setup)}/").get_data(as_text=True)
    assert "Self-regulation: Red" in body


def test_people_off_the_team_get_404(client, db, orgs, setup):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    with tenant_context(alpha.id):
        from tenants import accounts

        user = accounts.create_user(
            db, email="clin2@alpha.example", name="alpha clin2", password="correct horse battery"
        )
        organisations.add_member(db, user, ["clinician"])
    db.commit()
    url = base(setup)
    outsider = as_user(client, "clin2@alpha.example")
    assert outsider.get(f"{url}/").status_code == 404
    assert post_form(outsider, f"{url}/items", item_form(setup),
                     token_from="/profile/").status_code == 404  # fmt: skip
    admin = as_user(client, alpha.admin.email)
    assert admin.get(f"{url}/").status_code == 200  # admins may change any plan


def test_other_childrens_versions_are_not_found(clinic, db, orgs):  # type: ignore[no-untyped-def]
    clinic.add("Rocking")
    version = clinic.publish(date(2026, 2, 1))
    other = children.add_child(
        db,
        children.ChildDetails("Sam", "Brookes", BORN),
        actor=orgs[0].clinician,
        actor_membership=organisations.membership_for(db, orgs[0].clinician),
        default_time_zone="Europe/London",
        today=date(2026, 11, 23),
    )
    with pytest.raises(NotFound):
        plans.get_version(db, other, version.id)
    with pytest.raises(NotFound):
        plans.get_item(db, other, version.items[0].id)
