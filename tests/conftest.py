"""Shared fixtures: one migrated database per run (SQLite or PostgreSQL, chosen with
--db), each test inside an outer transaction that is rolled back, real Redis for the
rate-limit storage, and two organisations for isolation checks."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tenants.context import clear_tenant
from tenants.passwords import use_fast_hashing_for_tests
from tests import services

use_fast_hashing_for_tests()

PASSWORD = "correct horse battery"
SECRET = "test-secret-" + "x" * 40


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=["sqlite", "postgres"],
        default=os.environ.get("CADENCE_TEST_DB", "sqlite"),
        help="database the suite runs against (default sqlite)",
    )


def pytest_configure(config: pytest.Config) -> None:
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)


def pytest_report_header(config: pytest.Config) -> str:
    return f"cadence database: {config.getoption('--db')}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests with their own Redis re-point process-wide extensions (the rate limiter's
    # storage) at a server they stop: they run last, so nothing after them uses it.
    items.sort(key=lambda item: "private_redis" in item.keywords)
    # PostgreSQL-only checks belong to the --db=postgres pass: deselected, not skipped, here.
    if config.getoption("--db") == "postgres":
        return
    keep = [item for item in items if "postgres_only" not in item.keywords]
    dropped = [item for item in items if "postgres_only" in item.keywords]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # In CI every test that needs PostgreSQL, Redis, SMTP or the browser must run.
    if _skipped and services.services_required() and exitstatus == 0:
        session.exitstatus = 1
        print(f"\nFAILED: {len(_skipped)} test(s) skipped while services are required:")
        for nodeid in _skipped:
            print(f"  {nodeid}")


@pytest.fixture(scope="session")
def db_kind(request: pytest.FixtureRequest) -> str:
    return request.config.getoption("--db")


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        return services.redis_url()
    except Exception as exc:  # noqa: BLE001
        if services.services_required():
            raise
        pytest.skip(f"no Redis available: {exc}")


@pytest.fixture(scope="session")
def provisioned(
    db_kind: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[services.ProvisionedDatabase]:
    database = services.provision(db_kind, tmp_path_factory.mktemp("db"))
    yield database
    database.drop()


def make_test_app(database_url: str, instance: Path, redis_url: str, **extra: object) -> Flask:
    from portal import create_app

    config: dict[str, object] = {
        "TESTING": True,
        "SECRET_KEY": SECRET,
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(instance),
        "SESSION_COOKIE_SECURE": False,
        "RATELIMIT_STORAGE_URI": redis_url,
        "RATELIMIT_KEY_PREFIX": f"cadence-test-{uuid.uuid4().hex[:8]}",
        # limiter.reset() clears the storage's own prefix: one per app, so parallel runs
        # sharing a Redis database never clear each other's counters.
        "RATELIMIT_STORAGE_OPTIONS": {"key_prefix": f"LIMITS-{uuid.uuid4().hex[:8]}"},
        "SMTP_URL": None,
        "REDIS_URL": None,
        "PUBLIC_URL": None,
    }
    config.update(extra)
    return create_app(config)


@pytest.fixture(scope="session")
def app(
    provisioned: services.ProvisionedDatabase,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Flask]:
    application = make_test_app(provisioned.app_url, tmp_path_factory.mktemp("instance"), redis_url)
    yield application
    application.extensions["cadence.db"].dispose()


@pytest.fixture(autouse=True)
def _reset_limits(request: pytest.FixtureRequest) -> None:
    if "app" in request.fixturenames:
        from portal.extensions import limiter

        app = request.getfixturevalue("app")
        with app.app_context():
            limiter.reset()


@contextmanager
def rolled_back(app: Flask) -> Iterator[Any]:
    """The app's scoped session bound to one connection whose transaction is rolled back at
    the end: views may commit (savepoints are released), and nothing outlives the block."""
    database = app.extensions["cadence.db"]
    database.session.remove()
    connection = database.engine.connect()
    transaction = connection.begin()
    database.session.configure(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield database.session
    finally:
        database.session.remove()
        transaction.rollback()
        connection.close()
        database.session.configure(
            bind=database.engine, join_transaction_mode="conservative_savepoint"
        )
        clear_tenant()


@pytest.fixture
def db(app: Flask) -> Iterator[Any]:
    with rolled_back(app) as session:
        yield session


@pytest.fixture
def client(app: Flask, db: object) -> FlaskClient:
    return app.test_client()


# --- people and organisations ------------------------------------------------------------


@dataclass
class Org:
    org: object
    admin: object
    clinician: object
    carer: object
    teacher: object

    @property
    def id(self) -> int:
        return self.org.id  # type: ignore[attr-defined]

    @property
    def slug(self) -> str:
        return self.org.slug  # type: ignore[attr-defined]


def make_org(session, slug: str) -> Org:  # type: ignore[no-untyped-def]
    from tenants import accounts, organisations
    from tenants.context import tenant_context

    org = organisations.create_organisation(
        session, slug=slug, name=f"{slug.title()} Services", time_zone="Europe/London"
    )
    people = {}
    with tenant_context(org.id):
        for role in ("admin", "clinician", "carer", "teacher"):
            user = accounts.create_user(
                session, email=f"{role}@{slug}.example", name=f"{slug} {role}", password=PASSWORD
            )
            organisations.add_member(session, user, [role])
            people[role] = user
    session.commit()
    return Org(org=org, **people)


@pytest.fixture
def orgs(db) -> tuple[Org, Org]:  # type: ignore[no-untyped-def]
    """Two organisations, alpha and beta, each with an admin, clinician, carer and teacher."""
    return make_org(db, "alpha"), make_org(db, "beta")


def add_tenant_rows(session, orgs: tuple[Org, Org]) -> None:  # type: ignore[no-untyped-def]
    """Beyond memberships and roles, give each organisation an invitation, an audit event and
    a child with a household, a classroom and a care team, so that every tenant table holds
    rows of both."""
    from routines import children
    from tenants import audit, organisations
    from tenants.context import tenant_context

    for org in orgs:
        with tenant_context(org.id):
            organisations.invite(
                session,
                secret_key=SECRET,
                actor=org.admin,
                email=f"newcomer@{org.slug}.example",
                roles=["carer"],
                ip="192.0.2.1",
            )
            audit.record(session, "test.event", actor=org.admin, ip_address="192.0.2.1")
            child = children.add_child(
                session,
                children.ChildDetails(
                    "Robin",
                    "Ashdown",
                    date(2018, 4, 2),
                    household_name="Ashdown household",
                    school_name="Brook Primary",
                    classroom_name="Year 3",
                ),
                actor=org.clinician,
                actor_membership=organisations.membership_for(session, org.clinician),
                default_time_zone="Europe/London",
                today=date(2026, 11, 23),
            )
            children.add_team_member(
                session,
                child,
                membership_id=organisations.membership_for(session, org.carer).id,
                team_role="carer",
                relationship="foster_carer",
                actor=org.clinician,
            )
            _add_clinical_rows(session, child)
    session.commit()


def _add_clinical_rows(session, child) -> None:  # type: ignore[no-untyped-def]
    """One row in each clinical table, written directly (no operation is under test here)."""
    from routines import models as m

    band = {"code": "all", "label": "Any age", "from_months": 0, "to_months": 216}
    framework = m.Framework(
        key="test", version=1, name="Test", scale_max=12, age_bands=[band], source="import"
    )
    framework.items.append(
        m.FrameworkItem(
            code="T1",
            domain="sensory_integration",
            position=1,
            label="Test item",
            expected={"all": 12},
        )
    )
    session.add(framework)
    session.flush()
    assessment = m.Assessment(
        child_id=child.id, framework_id=framework.id, assessed_on=date(2026, 11, 1)
    )
    assessment.ratings.append(m.ItemRating(item_id=framework.items[0].id, score=6))
    activity = m.Activity(
        name="Test rocking",
        instructions="Rock.",
        domains=["sensory_integration"],
        rs=["rhythmic", "repetitive", "relational"],
        typical_minutes=5,
        settings=["home"],
        dev_age_min_months=0,
        dev_age_max_months=216,
    )
    plan = m.Plan(child_id=child.id)
    version = m.PlanVersion(plan=plan, status="draft")
    version.items.append(
        m.PlanItem(
            activity=activity,
            position=1,
            domain="sensory_integration",
            assignee="household",
            frequency={"days": [0, 1, 2, 3, 4, 5, 6], "mode": "anchors", "anchors": ["before_bed"]},
            minutes=5,
            start_date=date(2026, 11, 23),
        )
    )
    session.add_all(
        [
            assessment,
            version,
            m.HistoryEntry(
                child_id=child.id,
                period="infancy",
                entry_type="relational",
                relational_level="low",
            ),
        ]
    )
    session.flush()
    _add_routine_rows(session, child, version.items[0])


def _add_routine_rows(session, child, item) -> None:  # type: ignore[no-untyped-def]
    """An occurrence with a log and a correction, an away period and a school closure."""
    from datetime import UTC, datetime, time

    from routines import models as m

    due = datetime(2026, 11, 23, 19, 30, tzinfo=UTC)
    occurrence = m.Occurrence(
        child_id=child.id,
        plan_item_id=item.id,
        activity_id=item.activity_id,
        side="home",
        assignee="household",
        assignee_key="household",
        local_date=date(2026, 11, 23),
        slot="abefore_bed",
        local_time=time(19, 30),
        time_zone="Europe/London",
        due_at=due,
        minutes=5,
        status="done",
    )
    session.add(occurrence)
    session.flush()
    log = m.RoutineLog(
        client_uuid=uuid.uuid4(),
        payload_hash="0" * 64,
        occurrence_id=occurrence.id,
        child_id=child.id,
        status="done",
        source="web",
        logged_at=due,
    )
    session.add(log)
    session.flush()
    session.add_all(
        [
            m.LogCorrection(log_id=log.id, before={"status": "partly"}, after={"status": "done"}),
            m.AwayPeriod(
                child_id=child.id,
                kind="respite",
                starts_at=datetime(2026, 12, 1, tzinfo=UTC),
                ends_at=datetime(2026, 12, 2, tzinfo=UTC),
                time_zone="Europe/London",
            ),
            m.SchoolCalendarEntry(
                classroom_id=child.classroom_id,
                kind="closure",
                starts_on=date(2026, 12, 21),
                ends_on=date(2027, 1, 1),
                label="Winter break",
            ),
        ]
    )
    session.flush()
    _add_reminder_rows(session, child, occurrence)


def _add_reminder_rows(session, child, occurrence) -> None:  # type: ignore[no-untyped-def]
    """A preference, a push subscription, a delivery with its notification, an episode."""
    from datetime import UTC, datetime

    from routines import models as m

    member_id = child.team[0].membership_id
    delivery = m.Delivery(
        kind="reminder",
        subject=f"occurrence:{occurrence.id}",
        occurrence_id=occurrence.id,
        child_id=child.id,
        membership_id=member_id,
        channel="in_app",
        status="sent",
        not_before=occurrence.due_at,
    )
    session.add_all(
        [
            m.NotificationPreference(membership_id=member_id, channels=["in_app"]),
            m.PushSubscription(
                membership_id=member_id, endpoint="https://push.invalid/x", p256dh="k", auth="a"
            ),
            delivery,
            m.AlertEpisode(
                child_id=child.id,
                kind="adherence_low",
                opened_at=datetime(2026, 11, 20, tzinfo=UTC),
            ),
            m.AdherenceRollup(
                child_id=child.id,
                local_date=occurrence.local_date,
                activity_id=occurrence.activity_id,
                assignee_key=occurrence.assignee_key,
                domain="sensory_integration",
                side=occurrence.side,
                done=1,
                planned_minutes=occurrence.minutes,
                dose_minutes=occurrence.minutes,
            ),
        ]
    )
    session.flush()
    session.add(
        m.Notification(
            membership_id=member_id, delivery_id=delivery.id, kind="reminder", title="Rocking"
        )
    )
    session.flush()


@dataclass
class Counted:
    statements: list[str]

    @property
    def total(self) -> int:
        return len(self.statements)


@contextmanager
def count_statements(session) -> Iterator[Counted]:  # type: ignore[no-untyped-def]
    """Count the SQL statements sent while the block runs (on the session's engine)."""
    from sqlalchemy import event

    engine = session.get_bind().engine
    counted = Counted([])

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        counted.statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield counted
    finally:
        event.remove(engine, "before_cursor_execute", count)


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def csrf_token(client: FlaskClient, path: str = "/auth/sign-in") -> str:
    response = client.get(path)
    return csrf_from(response.get_data(as_text=True))


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    token = csrf_token(client, "/auth/sign-in")
    return client.post(
        "/auth/sign-in", data={"email": email, "password": password, "csrf_token": token}
    )


def post_form(
    client: FlaskClient,
    path: str,
    data: dict | None = None,
    *,  # type: ignore[no-untyped-def]
    token_from: str | None = None,
):
    """POST a form the way a browser does: with the CSRF token of a page it loaded."""
    token = csrf_token(client, token_from or path)
    return client.post(path, data={**(data or {}), "csrf_token": token})
