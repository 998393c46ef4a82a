"""Group logging for a class, and which classes and children a teacher sees."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import pytest
from sqlalchemy import func, select

from routines import classroom as ops
from routines import models as m
from routines import occurrences
from tenants import accounts, organisations
from tenants.errors import NotFound, ValidationError
from tests import routine_factories as f
from tests.conftest import PASSWORD

NOW = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # a Monday
LATER = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)  # after the 10:15 movement break
MONDAY = date(2026, 11, 23)
SCHOOL_DAYS = [0, 1, 2, 3, 4]


# --- a class of children (used by the view and browser tests too) ----------------------------


@dataclass
class Class:
    families: list[f.Family]
    classroom: m.Classroom
    group_activity: m.Activity
    own_activity: m.Activity | None

    @property
    def children(self) -> list[m.Child]:
        return [fam.child for fam in self.families]


def teacher_user(db, org: Any, name: str) -> Any:  # type: ignore[no-untyped-def]
    """Another teacher of `org` (inside its tenant context)."""
    user = accounts.create_user(
        db, email=f"{name}@{org.slug}.example", name=f"{name} teacher", password=PASSWORD
    )
    organisations.add_member(db, user, ["teacher"])
    return user


def school_item(act: m.Activity, at: str = "10:15", **options: Any) -> m.PlanItem:
    return f.item(act, frequency={"days": SCHOOL_DAYS, "mode": "times", "times": [at]}, **options)


def make_class(  # type: ignore[no-untyped-def]
    db,
    org: Any,
    size: int,
    *,
    classroom: str = "Year 3",
    teacher: Any = None,
    group: m.Activity | None = None,
    own: bool = True,
    now: datetime = NOW,
    prefix: str = "Pupil",
) -> Class:
    """`size` children in one class with `teacher` on their teams; each has the class's
    10:15 movement break, and the first also an 11:00 activity of their own."""
    group = group or activity_named(db, "Movement break")
    own_activity = activity_named(db, f"Swing {classroom}") if own else None
    families = []
    for index in range(size):
        fam = f.child(
            db, org, name=f"{prefix} {_letters(index)}", classroom=classroom, teacher=teacher
        )
        items = [school_item(group, assignee="classroom")]
        if own_activity is not None and index == 0:
            items.append(
                school_item(
                    own_activity,
                    at="11:00",
                    assignee="teacher",
                    membership_id=fam.teacher_membership.id,
                )
            )
        f.publish(db, fam.child, items, now=now)
        families.append(fam)
    room = families[0].child.classroom
    assert room is not None
    return Class(families, room, group, own_activity)


def activity_named(db, name: str) -> m.Activity:  # type: ignore[no-untyped-def]
    found = db.scalar(select(m.Activity).where(m.Activity.name == name))
    return found if found is not None else f.activity(db, name)


def _letters(index: int) -> str:
    return chr(ord("A") + index // 26) + chr(ord("a") + index % 26)


def group_occurrences(db, group: Class, day: date = MONDAY) -> list[m.Occurrence]:  # type: ignore[no-untyped-def]
    return list(
        db.scalars(
            select(m.Occurrence)
            .where(
                m.Occurrence.activity_id == group.group_activity.id,
                m.Occurrence.local_date == day,
                m.Occurrence.child_id.in_([c.id for c in group.children]),
            )
            .order_by(m.Occurrence.child_id)
        )
    )


def _log_group(db, org, group, occs, exceptions=None, uuids=None, membership=None):  # type: ignore[no-untyped-def]
    uuids = uuids or {o.id: str(uuid.uuid4()) for o in occs}
    return ops.log_group(
        db,
        group.classroom,
        [o.id for o in occs],
        exceptions or {},
        actor=org.teacher,
        membership=membership or group.families[0].teacher_membership,
        now=LATER,
        client_uuids=uuids,
    )


def _logs_of(db, occs) -> dict[int, m.RoutineLog]:  # type: ignore[no-untyped-def]
    return {
        log.occurrence_id: log
        for log in db.scalars(
            select(m.RoutineLog).where(m.RoutineLog.occurrence_id.in_([o.id for o in occs]))
        )
    }


# --- group logging -------------------------------------------------------------------------


def test_all_present_logs_done_for_each_child(db, orgs):
    alpha, _ = orgs
    with f.in_org(alpha):
        group = make_class(db, alpha, 4)
        occs = group_occurrences(db, group)
        results = _log_group(db, alpha, group, occs)
        stored = _logs_of(db, occs)
        db.expire_all()
        statuses = {o.status for o in group_occurrences(db, group)}
        assert len(occs) == 4
        assert [(r.code, r.outcome, r.choice) for r in results] == [(201, "created", "done")] * 4
        assert [r.child_id for r in results] == [o.child_id for o in occs]
        assert {(log.status, log.source, log.author_id) for log in stored.values()} == {
            ("done", "classroom", alpha.teacher.id)
        }
        assert set(stored) == {o.id for o in occs}
        assert statuses == {"done"}
        assert ops.summary(results) == {"done": 4, "absent": 0, "partly": 0, "refused": 0}


def test_an_absent_child_is_excused_not_logged(db, orgs):
    alpha, _ = orgs
    with f.in_org(alpha):
        group = make_class(db, alpha, 3)
        occs = group_occurrences(db, group)
        absent = occs[1]
        results = _log_group(db, alpha, group, occs, {absent.child_id: "absent"})
        stored = _logs_of(db, occs)
        db.expire_all()
        after = {o.id: (o.status, o.excused_reason) for o in group_occurrences(db, group)}
        # Re-materialising (a new plan version, the nightly job) keeps the absence.
        occurrences.materialise(db, group.children[1], now=LATER)
        db.expire_all()
        again = db.get(m.Occurrence, absent.id)
        assert again is not None
        kept = (again.status, again.excused_reason)
        assert [r.outcome for r in results] == ["created", "absent", "created"]
        assert results[1].code == 201 and results[1].choice == "absent"
        assert absent.id not in stored
        assert set(stored) == {occs[0].id, occs[2].id}
        assert after[absent.id] == ("excused", "absent")
        assert after[occs[0].id] == ("done", None)
        assert kept == ("excused", "absent")


def test_partly_and_refused_exceptions(db, orgs):
    alpha, _ = orgs
    with f.in_org(alpha):
        group = make_class(db, alpha, 3)
        occs = group_occurrences(db, group)
        results = _log_group(
            db, alpha, group, occs, {occs[0].child_id: "partly", occs[2].child_id: "refused"}
        )
        stored = _logs_of(db, occs)
        assert [r.choice for r in results] == ["partly", "done", "refused"]
        assert (stored[occs[0].id].status, stored[occs[0].id].reason) == ("partly", None)
        assert (stored[occs[1].id].status, stored[occs[1].id].reason) == ("done", None)
        assert (stored[occs[2].id].status, stored[occs[2].id].reason) == ("skipped", "refused")
        assert ops.summary(results) == {"done": 1, "absent": 0, "partly": 1, "refused": 1}


def test_resubmitting_the_same_group_log_is_idempotent(db, orgs):
    alpha, _ = orgs
    with f.in_org(alpha):
        group = make_class(db, alpha, 3)
        occs = group_occurrences(db, group)
        uuids = {o.id: str(uuid.uuid4()) for o in occs}
        exceptions = {occs[0].child_id: "absent", occs[1].child_id: "refused"}
        first = _log_group(db, alpha, group, occs, exceptions, uuids)
        second = _log_group(db, alpha, group, occs, exceptions, uuids)
        count = db.scalar(
            select(func.count(m.RoutineLog.id)).where(
                m.RoutineLog.occurrence_id.in_([o.id for o in occs])
            )
        )
        db.expire_all()
        statuses = [o.status for o in group_occurrences(db, group)]
        assert [r.code for r in first] == [201, 201, 201]
        assert [(r.code, r.outcome) for r in second] == [(200, "repeat")] * 3
        assert [r.log_id for r in second[1:]] == [r.log_id for r in first[1:]]
        assert count == 2
        assert statuses == ["excused", "skipped", "done"]


def test_a_second_submission_with_new_uuids_does_not_log_twice(db, orgs):
    alpha, _ = orgs
    with f.in_org(alpha):
        group = make_class(db, alpha, 2)
        occs = group_occurrences(db, group)
        _log_group(db, alpha, group, occs)
        again = _log_group(db, alpha, group, occs, {occs[0].child_id: "absent"})
        count = len(_logs_of(db, occs))
        assert [(r.code, r.outcome) for r in again] == [(409, "conflict"), (409, "conflict")]
        assert count == 2


def test_a_child_of_another_class_or_organisation_is_refused(db, orgs):
    alpha, beta = orgs
    with f.in_org(beta):
        theirs = make_class(db, beta, 1, own=False)
        beta_occ = group_occurrences(db, theirs)[0]
    with f.in_org(alpha):
        group = make_class(db, alpha, 2, own=False)
        # The same teacher teaches Year 4 too: still not this class's child.
        other = make_class(
            db, alpha, 1, classroom="Year 4", group=group.group_activity, own=False, prefix="Kid"
        )
        occs = group_occurrences(db, group)
        stranger = group_occurrences(db, other)[0]
        ids = [occs[0].id, stranger.id, beta_occ.id, 999_999, occs[1].id]
        results = ops.log_group(
            db,
            group.classroom,
            ids,
            {},
            actor=alpha.teacher,
            membership=group.families[0].teacher_membership,
            now=LATER,
            client_uuids={i: str(uuid.uuid4()) for i in ids},
        )
        stored = _logs_of(db, [*occs, stranger])
    assert [r.code for r in results] == [201, 404, 404, 404, 201]
    assert results[1].message == results[3].message.replace("999999", str(stranger.id))
    assert set(stored) == {occs[0].id, occs[1].id}
    with f.in_org(beta):
        assert _logs_of(db, [beta_occ]) == {}


def test_a_teacher_not_on_the_childs_team_cannot_log_or_excuse(db, orgs):
    alpha, _ = orgs
    with f.in_org(alpha):
        group = make_class(db, alpha, 2, own=False)
        outsider = teacher_user(db, alpha, "supply")
        occs = group_occurrences(db, group)
        results = _log_group(
            db,
            alpha,
            group,
            occs,
            {},
            membership=organisations.membership_for(db, outsider),
        )
        carer_results = _log_group(
            db, alpha, group, occs, {}, membership=group.families[0].carer_membership
        )
        db.expire_all()
        statuses = {o.status for o in group_occurrences(db, group)}
        assert [r.code for r in results] == [404, 404]
        assert [r.code for r in carer_results] == [404, 404]
        assert statuses == {"pending"}


@pytest.mark.parametrize(
    "exceptions",
    [{"x": "done"}, {1: "late"}, {999_999: "absent"}],
    ids=["not-an-id", "unknown-choice", "child-not-in-group"],
)
def test_bad_exceptions_change_nothing(db, orgs, exceptions):
    alpha, _ = orgs
    with f.in_org(alpha):
        group = make_class(db, alpha, 2, own=False)
        occs = group_occurrences(db, group)
        if 1 in exceptions:
            exceptions = {occs[0].child_id: "late"}
        with pytest.raises(ValidationError):
            _log_group(db, alpha, group, occs, exceptions)
        assert _logs_of(db, occs) == {}
        db.expire_all()
        assert {o.status for o in group_occurrences(db, group)} == {"pending"}


def test_an_absent_child_who_was_already_logged_is_a_conflict(db, orgs):
    alpha, _ = orgs
    with f.in_org(alpha):
        group = make_class(db, alpha, 2, own=False)
        occs = group_occurrences(db, group)
        _log_group(db, alpha, group, occs[:1])
        results = _log_group(db, alpha, group, occs, {occs[0].child_id: "absent"})
        db.expire_all()
        first = db.get(m.Occurrence, occs[0].id)
        assert first is not None
        status = first.status
        assert [(r.code, r.outcome) for r in results] == [(409, "conflict"), (201, "created")]
        assert status == "done"


# --- what a teacher sees -------------------------------------------------------------------


def test_classes_and_children_a_member_sees(db, orgs):
    alpha, _ = orgs
    with f.in_org(alpha):
        other_teacher = teacher_user(db, alpha, "second")
        year3 = make_class(db, alpha, 2, own=False)
        year4 = make_class(
            db, alpha, 2, classroom="Year 4", teacher=other_teacher, own=False, prefix="Kid"
        )
        mine = organisations.membership_for(db, alpha.teacher)
        theirs = organisations.membership_for(db, other_teacher)
        admin = organisations.membership_for(db, alpha.admin)
        carer = organisations.membership_for(db, alpha.carer)
        assert [c.name for c in ops.visible_classrooms(db, mine)] == ["Year 3"]
        assert [c.name for c in ops.visible_classrooms(db, theirs)] == ["Year 4"]
        assert [c.name for c in ops.visible_classrooms(db, admin)] == ["Year 3", "Year 4"]
        assert ops.visible_classrooms(db, carer) == []
        assert ops.get_classroom(db, year3.classroom.id, mine) is year3.classroom
        for who, room in ((mine, year4), (theirs, year3), (carer, year3)):
            with pytest.raises(NotFound):
                ops.get_classroom(db, room.classroom.id, who)
        with pytest.raises(NotFound):
            ops.get_classroom(db, 999_999, admin)
        assert len(ops.class_children(db, year4.classroom, admin)) == 2


def test_a_class_day_has_group_rows_and_child_rows_in_time_order(db, orgs):
    alpha, _ = orgs
    with f.in_org(alpha):
        group = make_class(db, alpha, 3)
        early = f.activity(db, "Breathing")
        first = group.children[1]
        f.publish(
            db,
            first,
            [
                school_item(group.group_activity, assignee="classroom"),
                school_item(
                    early,
                    at="09:05",
                    assignee="teacher",
                    membership_id=group.families[1].teacher_membership.id,
                ),
            ],
            effective_from=date(2026, 1, 2),
            now=NOW,
        )
        mine = organisations.membership_for(db, alpha.teacher)
        day = ops.class_day(db, group.classroom, mine, MONDAY)
        weekend = ops.class_day(db, group.classroom, mine, date(2026, 11, 28))
        shape = [
            (r.kind, r.local_time, r.activity.name, [e.child.given_name for e in r.entries])
            for r in day.rows
        ]
        assert shape == [
            ("child", time(9, 5), "Breathing", ["Pupil Ab"]),
            ("group", time(10, 15), "Movement break", ["Pupil Aa", "Pupil Ab", "Pupil Ac"]),
            ("child", time(11, 0), "Swing Year 3", ["Pupil Aa"]),
        ]
        assert all(e.loggable and e.is_open for r in day.rows for e in r.entries)
        assert weekend.rows == []
