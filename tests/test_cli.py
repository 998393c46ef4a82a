"""The `cadence` command: seed-demo is repeatable, create-admin makes a working admin."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from portal.cli import cli
from routines.models import (
    Activity,
    Assessment,
    AwayPeriod,
    Child,
    Classroom,
    Framework,
    HistoryEntry,
    Household,
    Occurrence,
    RoutineLog,
    SchoolCalendarEntry,
)
from tenants import accounts
from tenants.context import cross_tenant
from tenants.models import Membership, Organisation, User
from tests import services


@pytest.fixture
def fresh(db_kind, tmp_path):  # type: ignore[no-untyped-def]
    database = services.provision(db_kind, tmp_path)
    yield database
    database.drop()


def _invoke(fresh, tmp_path, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    env = {
        "DATABASE_URL": fresh.app_url,
        "CADENCE_ENV": "development",
        "CADENCE_INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "s" * 40,
    }
    return CliRunner().invoke(cli, list(args), env=env, input=input, catch_exceptions=False)


def _counts(url: str) -> tuple[int, int, int]:
    engine = create_engine(url)
    try:
        with Session(engine) as session, cross_tenant("test counts"):
            return (
                session.scalar(select(func.count(Organisation.id))) or 0,
                session.scalar(select(func.count(User.id))) or 0,
                session.scalar(select(func.count(Membership.id))) or 0,
            )
    finally:
        engine.dispose()


def test_seed_demo_twice_is_harmless(fresh, tmp_path):  # type: ignore[no-untyped-def]
    first = _invoke(fresh, tmp_path, "seed-demo", "--slug", "riverside")
    assert first.exit_code == 0, first.output
    assert "admin@riverside.example" in first.output
    assert "teacher@riverside.example" in first.output
    password = first.output.rsplit("password for all of them: ", 1)[1].strip()
    assert len(password) >= 10
    second = _invoke(fresh, tmp_path, "seed-demo", "--slug", "riverside")
    assert second.exit_code == 0, second.output
    assert second.output.rsplit("password for all of them: ", 1)[1].strip() == password
    assert _counts(fresh.app_url) == (1, 5, 5)
    engine = create_engine(fresh.app_url)
    try:
        with Session(engine) as session, cross_tenant("test counts"):
            clinical = (
                session.scalar(select(func.count(HistoryEntry.id))),
                session.scalar(select(func.count(Framework.id))),
                (session.scalar(select(func.count(Activity.id))) or 0) >= 30,
                list(session.scalars(select(Assessment.status))),
            )
            teams = {
                child.given_name: sorted((m.membership.user.email, m.team_role) for m in child.team)
                for child in session.scalars(select(Child))
            }
    finally:
        engine.dispose()
    # Mia's history, Mia's two and Noah's one completed assessments; the default framework
    # and library
    assert clinical == (10, 1, True, ["complete", "complete", "complete"])
    assert teams == {
        "Mia": [
            ("carer2@riverside.example", "carer"),
            ("carer@riverside.example", "carer"),
            ("clinician@riverside.example", "lead_clinician"),
            ("teacher@riverside.example", "teacher"),
        ],
        "Jayden": [
            ("carer@riverside.example", "carer"),
            ("clinician@riverside.example", "lead_clinician"),
        ],
        "Noah": [
            ("carer2@riverside.example", "carer"),
            ("clinician@riverside.example", "lead_clinician"),
            ("teacher@riverside.example", "teacher"),
        ],
    }
    _check_lived_in_routines(fresh.app_url)
    engine = create_engine(fresh.app_url)
    try:
        with Session(engine) as session:
            user = accounts.authenticate(session, "carer2@riverside.example", password, None)
            assert user is not None
            session.rollback()
    finally:
        engine.dispose()


def _check_lived_in_routines(url: str) -> None:
    """Two weeks of past routines with every kind of outcome, anchors and a school calendar."""
    from tenants.db import utcnow

    engine = create_engine(url)
    try:
        with Session(engine) as session, cross_tenant("test counts"):
            statuses = dict(
                session.execute(
                    select(Occurrence.status, func.count(Occurrence.id)).group_by(Occurrence.status)
                ).all()
            )
            past_logged = session.scalar(
                select(func.count(RoutineLog.id)).where(RoutineLog.logged_at < utcnow())
            )
            first_day = session.scalar(select(func.min(Occurrence.local_date)))
            anchors = [h.anchor_times for h in session.scalars(select(Household))]
            classes = [c.anchor_times for c in session.scalars(select(Classroom))]
            calendar = sorted(e.kind for e in session.scalars(select(SchoolCalendarEntry)))
            aways = session.scalar(select(func.count(AwayPeriod.id)))
    finally:
        engine.dispose()
    for status in ("done", "partly", "skipped", "missed", "excused", "pending"):
        assert statuses.get(status, 0) > 0, status
    assert past_logged and past_logged > 100
    assert (utcnow().date() - first_day).days >= 13
    assert any(a.get("before_bed") for a in anchors)
    assert classes and all(c for c in classes)
    assert calendar == ["closure", "term"]
    assert aways == 3  # Mia's respite stay, and Mia's and Noah's contact visits


def test_routines_extend_horizon(fresh, tmp_path):  # type: ignore[no-untyped-def]
    assert _invoke(fresh, tmp_path, "seed-demo").exit_code == 0

    def last_day():  # type: ignore[no-untyped-def]
        engine = create_engine(fresh.app_url)
        try:
            with Session(engine) as session, cross_tenant("test counts"):
                return session.scalar(select(func.max(Occurrence.local_date)))
        finally:
            engine.dispose()

    before = last_day()
    result = _invoke(fresh, tmp_path, "routines", "extend-horizon", "--days", "30")
    assert result.exit_code == 0, result.output
    assert "riverside: 2 children with plans" in result.output
    assert (last_day() - before).days >= 15
    again = _invoke(fresh, tmp_path, "routines", "extend-horizon", "--days", "0")
    assert again.exit_code != 0 and "--days" in again.output


def test_seed_demo_with_given_password(fresh, tmp_path):  # type: ignore[no-untyped-def]
    result = _invoke(
        fresh, tmp_path, "seed-demo", "--slug", "hillside", "--password", "a demo password"
    )
    assert result.exit_code == 0, result.output
    assert "a demo password" not in result.output
    assert "clinician@hillside.example" in result.output


def test_create_admin_for_a_new_organisation(fresh, tmp_path):  # type: ignore[no-untyped-def]
    result = _invoke(
        fresh,
        tmp_path,
        "create-admin",
        "--org-slug",
        "northfield",
        "--org-name",
        "Northfield Fostering",
        "--email",
        "Head@Northfield.example",
        "--name",
        "Morgan Lee",
        "--password",
        "a long admin password",
    )
    assert result.exit_code == 0, result.output
    assert "head@northfield.example is an admin of Northfield Fostering" in result.output
    assert _counts(fresh.app_url) == (1, 1, 1)


def test_create_admin_needs_a_name_for_a_new_organisation(fresh, tmp_path):  # type: ignore[no-untyped-def]
    result = _invoke(
        fresh,
        tmp_path,
        "create-admin",
        "--org-slug",
        "nowhere",
        "--email",
        "a@nowhere.example",
        "--name",
        "A",
        "--password",
        "a long admin password",
    )
    assert result.exit_code != 0
    assert "--org-name" in result.output
    assert _counts(fresh.app_url) == (0, 0, 0)


def test_create_admin_rejects_a_short_password(fresh, tmp_path):  # type: ignore[no-untyped-def]
    result = _invoke(
        fresh,
        tmp_path,
        "create-admin",
        "--org-slug",
        "eastgate",
        "--org-name",
        "Eastgate",
        "--email",
        "a@eastgate.example",
        "--name",
        "A",
        "--password",
        "short",
    )
    assert result.exit_code != 0
    assert "at least 10 characters" in result.output
    assert _counts(fresh.app_url) == (0, 0, 0)
