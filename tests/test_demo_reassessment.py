"""`cadence seed-demo` tells a reassessment story: Mia was assessed about three months ago,
her first plan was logged day by day since, and she was assessed again last week, so the
reassessment view and report have real change to show. Noah and Jay stay as they were."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from routines import alerts, assessments, demo_history, metrics, plans
from routines.demo import seed_children
from routines.models import Activity, Assessment, AwayPeriod, Child, Occurrence, RoutineLog
from tenants.context import tenant_context
from tenants.db import utcnow
from tenants.demo import seed_demo_organisation
from tests.conftest import PASSWORD


@dataclass
class Seeded:
    org: Any
    today: date


def _seed(db, slug: str) -> Seeded:  # type: ignore[no-untyped-def]
    seeded = seed_demo_organisation(db, slug=slug, password=PASSWORD)
    with tenant_context(seeded.org.id):
        today = utcnow().astimezone(ZoneInfo(seeded.org.time_zone)).date()
        seed_children(db, seeded.org, seeded.people, today)
    return Seeded(seeded.org, today)


def _child(db, given: str) -> Child:  # type: ignore[no-untyped-def]
    return db.scalar(select(Child).where(Child.given_name == given))


def _occurrences(db, child: Child) -> list[Occurrence]:  # type: ignore[no-untyped-def]
    return list(
        db.scalars(
            select(Occurrence)
            .where(Occurrence.child_id == child.id)
            .order_by(Occurrence.due_at, Occurrence.id)
        )
    )


def _logs(db, child: Child) -> dict[int, RoutineLog]:  # type: ignore[no-untyped-def]
    return {
        log.occurrence_id: log
        for log in db.scalars(select(RoutineLog).where(RoutineLog.child_id == child.id))
    }


def _adherence(statuses: list[str]) -> float:
    ratio = metrics.tally(statuses).adherence
    assert ratio is not None
    return float(ratio)


def test_mia_is_reassessed_after_three_months_of_routines(db):  # type: ignore[no-untyped-def]
    seeded = _seed(db, "reassess-demo")
    today, yesterday = seeded.today, seeded.today - timedelta(days=1)
    with tenant_context(seeded.org.id):
        mia = _child(db, "Mia")
        done = [a for a in assessments.list_assessments(db, mia) if a.status == "complete"]
        assert len(done) == 2
        first, second = sorted(done, key=lambda a: a.assessed_on)
        assert 85 <= (second.assessed_on - first.assessed_on).days <= 100
        assert second.assessed_on < today

        # Version 1 rests on the first assessment and took effect soon after it.
        (version,) = plans.published_versions(db, mia)
        assert version.number == 1 and version.assessment_id == first.id
        start = version.effective_from
        assert first.assessed_on <= start <= first.assessed_on + timedelta(days=7)

        # Occurrences exist for every day from the plan's first day, none before it, and
        # every past one has an outcome: logged, missed or excused.
        occurrences = _occurrences(db, mia)
        logged = _logs(db, mia)
        days = {o.local_date for o in occurrences}
        assert min(days) == start
        assert all(start + timedelta(days=n) in days for n in range((today - start).days + 1))
        past = [o for o in occurrences if o.local_date < today]
        assert not [o for o in past if o.status == "pending"]
        assert all((o.id in logged) == (o.status in ("done", "partly", "skipped")) for o in past)
        assert {"home", "school"} <= {o.side for o in past if o.id in logged}

        # Logs on most days between the assessments, with a few days excused (respite).
        between = [o for o in past if o.local_date < second.assessed_on]
        logged_days = {o.local_date for o in between if o.id in logged}
        span = (second.assessed_on - start).days
        assert len(logged_days) >= 0.9 * span
        respite = db.scalar(
            select(AwayPeriod).where(AwayPeriod.child_id == mia.id, AwayPeriod.kind == "respite")
        )
        assert respite is not None
        excused_days = {
            o.local_date for o in past if o.status == "excused" and o.away_id == respite.id
        }
        assert 2 <= len(excused_days) <= 5

        # Adherence rises: the first four weeks well below the last four, which reach the
        # default 80% threshold; Mia's week is not an alert (Noah's may be).
        first_weeks = [o.status for o in past if o.local_date < start + timedelta(days=28)]
        last_weeks = [o.status for o in past if o.local_date > yesterday - timedelta(days=28)]
        early, late = _adherence(first_weeks), _adherence(last_weeks)
        assert early < 0.75 and late >= 0.8 and late - early >= 0.1
        assert mia.id not in alerts.check_adherence(db, now=utcnow()).opened

        # One activity stays low enough to be flagged for review.
        names = dict(db.execute(select(Activity.id, Activity.name)).all())
        per_activity: dict[str, list[str]] = defaultdict(list)
        for o in past:
            per_activity[names[o.activity_id]].append(o.status)
        low = {name for name, statuses in per_activity.items() if _adherence(statuses) < 0.5}
        assert low == {demo_history.LOW_ACTIVITY}

        # The logs read like real ones: minutes on many, notes on a handful, and calmer
        # states before routines in the last month than in the first.
        mias_logs = list(logged.values())
        assert sum(log.minutes is not None for log in mias_logs) >= 0.4 * len(mias_logs)
        assert 5 <= sum(bool(log.note) for log in mias_logs) <= 60
        assert len({log.author_membership_id for log in mias_logs}) == 3  # carers, teacher
        dates = {o.id: o.local_date for o in occurrences}

        def calm_share(window: range) -> float:
            states = [
                log.state_before
                for log in mias_logs
                if log.state_before and (dates[log.occurrence_id] - start).days in window
            ]
            return Counter(states)["calm"] / len(states)

        assert calm_share(range(60, 120)) > calm_share(range(0, 30)) + 0.1

        # The reassessment's map: change low down, little higher up.
        before = assessments.map_for(first, seeded.org)
        after = assessments.map_for(second, seeded.org)
        change = {d.domain: after.domain(d.domain).percent - d.percent for d in before.domains}
        assert change["sensory_integration"] >= 10
        assert change["self_regulation"] >= 10
        assert abs(change["relational"]) < 5 and abs(change["cognitive"]) < 5

        # Noah keeps his fortnight on one assessment, and Jay has no plan yet.
        noah = _child(db, "Noah")
        assert [a.status for a in assessments.list_assessments(db, noah)] == ["complete"]
        assert min(o.local_date for o in _occurrences(db, noah)) == today - timedelta(days=14)
        assert plans.published_versions(db, _child(db, "Jayden")) == []


def test_the_months_are_the_same_in_every_organisation(db):  # type: ignore[no-untyped-def]
    def story(slug: str) -> list[tuple[Any, ...]]:
        seeded = _seed(db, slug)
        with tenant_context(seeded.org.id):
            mia = _child(db, "Mia")
            names = dict(db.execute(select(Activity.id, Activity.name)).all())
            logged = _logs(db, mia)
            rows = []
            # Before today: how much of today is past depends on the minute of the seed.
            for o in _occurrences(db, mia):
                if o.local_date >= seeded.today:
                    continue
                log = logged.get(o.id)
                rows.append(
                    (o.local_date, o.slot, names[o.activity_id], o.side, o.status)
                    + ((log.minutes, log.state_before, log.note) if log else ())
                )
            scores = [
                sorted(assessments.scores_of(a).items())
                for a in db.scalars(
                    select(Assessment)
                    .where(Assessment.child_id == mia.id)
                    .order_by(Assessment.assessed_on)
                )
            ]
        return rows + scores

    assert story("months-one") == story("months-two")
