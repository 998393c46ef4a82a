"""The de-identified research export: admins only, no names, emails, notes or full dates of
birth anywhere in the bytes, stable pseudonyms keyed per organisation, nothing of another
organisation, streamed in chunks, and one audit row per download."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import func, insert, select, update

from routines import models as m
from routines import research_export
from tenants.context import current_tenant_id, tenant_context
from tenants.models import Organisation
from tests import routine_factories as f
from tests.conftest import sign_in
from tests.test_exports import (
    add_assessment,
    audit_count,
    log_home,
    make_clinician,
    seed_child,
    without_csrf,
)

ROUTINES = "/o/{slug}/admin/exports/research-routines.csv"
ASSESSMENTS = "/o/{slug}/admin/exports/research-assessments.csv"
PAGE = "/o/{slug}/admin/exports/"

# Distinctive names and dates of birth, to grep the bytes for.
ALPHA_KIDS = [
    ("Zephyrine", "Quillfeather", date(2017, 9, 14)),
    ("Barnaby", "Thistlewood", date(2016, 2, 29)),
]
BETA_KID = ("Octavia", "Brambleworth", date(2015, 6, 21))
NOTE = "Told me about the dog called Pickle"


@pytest.fixture
def seeded(db, orgs):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    kids = []
    with f.in_org(alpha):
        for given, family, born in ALPHA_KIDS:
            kid = seed_child(
                db, alpha, given=given, family=family, born=born, household=f"{family} home"
            )
            log_home(db, alpha, kid, 2, note=NOTE, enjoyment=4)
            add_assessment(db, kid.child, date(2026, 6, 1), (4, 9))
            kids.append(kid)
        draft = m.Assessment(
            child_id=kids[0].id,
            framework_id=db.scalar(select(m.Framework.id).where(m.Framework.key == "test")),
            assessed_on=date(2026, 10, 1),
        )
        db.add(draft)
        db.flush()
    with f.in_org(beta):
        given, family, born = BETA_KID
        beta_kid = seed_child(db, beta, given=given, family=family, born=born, household="B home")
        add_assessment(db, beta_kid.child, date(2026, 6, 1), (1, 2))
    db.commit()
    return kids, beta_kid


def rows_of(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode())))


def download(client, path: str):  # type: ignore[no-untyped-def]
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response


def salt_of(db, org) -> str | None:  # type: ignore[no-untyped-def]
    return db.scalar(select(Organisation.research_salt).where(Organisation.id == org.id))


def test_nothing_identifies_a_child(client, db, orgs, seeded):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    sign_in(client, "admin@alpha.example")
    for path in (ROUTINES, ASSESSMENTS):
        response = download(client, path.format(slug="alpha"))
        assert response.mimetype == "text/csv"
        assert response.headers["Content-Disposition"].startswith("attachment;")
        body = response.get_data()
        text = body.decode().lower()
        for given, family, born in [*ALPHA_KIDS, BETA_KID]:
            for word in (given, family, f"{given}ie", f"{family} home"):
                assert word.lower() not in text, word
            for written in (born.isoformat(), born.strftime("%d/%m/%Y"), born.strftime("%Y%m%d")):
                assert written not in text
        for person in ("admin", "clinician", "carer", "teacher"):
            assert f"{person}@alpha.example" not in text
            assert f"alpha {person}" not in text
        assert "@" not in text
        assert NOTE.lower() not in text and "calmer than last time" not in text
        birth_months = {r["birth_month"] for r in rows_of(body)}
        assert birth_months == {"2017-09", "2016-02"}


def test_routines_file(client, db, orgs, seeded):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    kids, _ = seeded
    with tenant_context(alpha.id):
        # A routine a newer plan withdrew is not a routine the child was meant to do.
        withdrawn = db.scalar(
            select(m.Occurrence.id)
            .where(m.Occurrence.child_id == kids[0].id, m.Occurrence.status == "pending")
            .limit(1)
        )
        db.execute(
            update(m.Occurrence).where(m.Occurrence.id == withdrawn).values(status="withdrawn")
        )
        expected = db.scalar(
            select(func.count(m.Occurrence.id)).where(m.Occurrence.status != "withdrawn")
        )
    db.commit()
    sign_in(client, "admin@alpha.example")
    body = download(client, ROUTINES.format(slug="alpha")).get_data()
    assert body.decode().splitlines()[0] == ",".join(research_export.ROUTINE_COLUMNS)
    rows = rows_of(body)
    assert len(rows) == expected
    salt = salt_of(db, alpha)
    first = research_export.pseudonym(salt, kids[0].id)
    second = research_export.pseudonym(salt, kids[1].id)
    assert {r["child"] for r in rows} == {first, second}
    assert first != second and first.startswith("c-") and len(first) == 18
    done = [r for r in rows if r["status"] == "done"]
    assert len(done) == 4
    assert {
        (r["logged_minutes"], r["state_before"], r["state_after"], r["enjoyment"]) for r in done
    } == {("6", "alarm", "calm", "4")}
    home = done[0]
    assert (home["side"], home["activity"], home["domain"], home["planned_minutes"]) == (
        "home",
        "Rocking",
        "sensory_integration",
        "5",
    )
    assert (
        home["weekday"]
        == ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[
            date.fromisoformat(home["local_date"]).weekday()
        ]
    )
    school = [r for r in rows if r["side"] == "school"]
    assert school and {r["domain"] for r in school} == {"self_regulation"}
    assert {r["logged_minutes"] for r in school} == {""}


def test_assessments_file(client, db, orgs, seeded):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    kids, _ = seeded
    sign_in(client, "admin@alpha.example")
    body = download(client, ASSESSMENTS.format(slug="alpha")).get_data()
    assert body.decode().splitlines()[0] == ",".join(research_export.ASSESSMENT_COLUMNS)
    rows = rows_of(body)
    salt = salt_of(db, alpha)
    first = research_export.pseudonym(salt, kids[0].id)
    # Completed assessments only (the draft has no ratings and no fixed age).
    assert len(rows) == 4
    mine = [r for r in rows if r["child"] == first]
    assert [
        (r["assessed_on"], r["age_months"], r["framework_key"], r["framework_version"])
        for r in mine
    ] == [("2026-06-01", "100", "test", "3")] * 2
    assert [(r["item_code"], r["domain"], r["score"]) for r in mine] == [
        ("SI1", "sensory_integration", "4"),
        ("SR1", "self_regulation", "9"),
    ]


def test_pseudonyms_are_stable_and_keyed_by_the_organisation(client, db, orgs, seeded):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    kids, beta_kid = seeded
    assert salt_of(db, alpha) is None
    sign_in(client, "admin@alpha.example")
    one = rows_of(download(client, ROUTINES.format(slug="alpha")).get_data())
    salt = salt_of(db, alpha)
    assert salt is not None and len(salt) == 64  # made on the first export, and kept
    two = rows_of(download(client, ROUTINES.format(slug="alpha")).get_data())
    assert [r["child"] for r in one] == [r["child"] for r in two]
    assessments = rows_of(download(client, ASSESSMENTS.format(slug="alpha")).get_data())
    assert {r["child"] for r in assessments} == {r["child"] for r in one}
    assert salt_of(db, alpha) == salt
    # HMAC-SHA256 of the child's id under the organisation's key, first 16 hex characters.
    expected = (
        "c-" + hmac.new(salt.encode(), str(kids[0].id).encode(), hashlib.sha256).hexdigest()[:16]
    )
    assert expected in {r["child"] for r in one}
    assert str(kids[0].id) not in {r["child"] for r in one}
    # Beta's own export names its child under beta's key; none of alpha's pseudonyms appear.
    beta_client = client.application.test_client()
    sign_in(beta_client, "admin@beta.example")
    theirs = rows_of(download(beta_client, ROUTINES.format(slug="beta")).get_data())
    beta_salt = salt_of(db, beta)
    assert beta_salt != salt
    assert {r["child"] for r in theirs} == {research_export.pseudonym(beta_salt, beta_kid.id)}
    assert not {r["child"] for r in theirs} & {r["child"] for r in one}
    assert audit_count(db, alpha, "research.exported") == 3
    assert audit_count(db, beta, "research.exported") == 1


def _many_occurrences(db, kid, count: int) -> None:  # type: ignore[no-untyped-def]
    item = kid.home_item
    first = date(2019, 1, 1)
    db.execute(
        insert(m.Occurrence),
        [
            {
                "tenant_id": kid.child.tenant_id,
                "child_id": kid.id,
                "plan_item_id": item.id,
                "activity_id": item.activity_id,
                "side": "home",
                "assignee": "household",
                "assignee_key": "household",
                "household_id": kid.child.household_id,
                "local_date": first + timedelta(days=n // 4),
                "slot": f"t{n % 4}",
                "local_time": time(7 + n % 4, 0),
                "time_zone": "Europe/London",
                "due_at": datetime.combine(
                    first + timedelta(days=n // 4), time(7 + n % 4), tzinfo=UTC
                ),
                "minutes": 5,
                "status": "missed",
            }
            for n in range(count)
        ],
    )


def test_the_file_streams_in_chunks(client, db, orgs, seeded):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    kids, _ = seeded
    with tenant_context(alpha.id):
        _many_occurrences(db, kids[0], 3_000)
        total = db.scalar(
            select(func.count(m.Occurrence.id)).where(m.Occurrence.status != "withdrawn")
        )
    db.commit()
    sign_in(client, "admin@alpha.example")
    response = client.get(ROUTINES.format(slug="alpha"))
    assert response.status_code == 200
    assert response.is_streamed
    pieces = iter(response.response)
    chunks = [bytes(next(pieces)), bytes(next(pieces))]
    # Between chunks the export acts for no organisation: nothing leaks into other work.
    assert current_tenant_id() is None
    chunks += [bytes(c) for c in pieces]
    response.close()
    assert len(chunks) >= 4  # the header, then at most 1,000 rows a chunk
    assert chunks[0].decode().startswith("child,birth_month,")
    assert len(rows_of(b"".join(chunks))) == total > 3_000


def test_an_abandoned_download_holds_nothing(client, db, orgs, seeded):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    sign_in(client, "admin@alpha.example")
    abandoned = client.get(ROUTINES.format(slug="alpha"))
    assert abandoned.status_code == 200
    # Read no further than the header; other requests carry on, then the client goes away.
    assert client.get(PAGE.format(slug="alpha")).status_code == 200
    abandoned.close()
    again = download(client, ROUTINES.format(slug="alpha"))
    assert len(rows_of(again.get_data())) > 0
    assert audit_count(db, alpha, "research.exported") == 2


def test_only_admins_download(app, db, orgs, seeded):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    make_clinician(db, alpha)
    for email in (
        "clinician@alpha.example",
        "other.clinician@alpha.example",
        "carer@alpha.example",
        "teacher@alpha.example",
    ):
        client = app.test_client()
        sign_in(client, email)
        for path in (PAGE, ROUTINES, ASSESSMENTS):
            response = client.get(path.format(slug="alpha"))
            assert response.status_code == 403, (email, path)
            assert "admin role" in response.get_data(as_text=True)
    # Another organisation's admin: nothing here at all.
    client = app.test_client()
    sign_in(client, "admin@beta.example")
    for path in (PAGE, ROUTINES, ASSESSMENTS):
        theirs = client.get(path.format(slug="alpha"))
        missing = client.get(path.format(slug="nonexistent-org"))
        assert theirs.status_code == missing.status_code == 404
        assert without_csrf(theirs) == without_csrf(missing)
    assert audit_count(db, alpha, "research.exported") == 0
    assert salt_of(db, alpha) is None


def test_the_page_explains_both_files(client, db, orgs, seeded):  # type: ignore[no-untyped-def]
    sign_in(client, "admin@alpha.example")
    response = client.get(PAGE.format(slug="alpha"))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "/o/alpha/admin/exports/research-routines.csv" in page
    assert "/o/alpha/admin/exports/research-assessments.csv" in page
    assert "year and month only" in page
    kids, _ = seeded
    assert f"/o/alpha/children/{kids[0].id}/export.json" in page
    assert f"/o/alpha/children/{kids[0].id}/fhir.json" in page
    assert "Octavia" not in page  # beta's child


def test_spreadsheet_formulas_are_defused():  # type: ignore[no-untyped-def]
    chunks = list(research_export.row_chunks([("=HYPERLINK(1)", 3), ("-2+3", "plain")], 1))
    assert chunks == ["'=HYPERLINK(1),3\r\n", "'-2+3,plain\r\n"]


@pytest.mark.postgres_only
def test_postgres_reads_through_a_server_side_cursor(db, orgs, seeded):  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    alpha, _ = orgs
    with tenant_context(alpha.id):
        rows = research_export.routine_rows(db, "k" * 64)
        next(rows)
        # While the file is being written, the rows wait in a cursor on the server.
        assert db.scalar(text("SELECT count(*) FROM pg_cursors WHERE NOT is_holdable")) == 1
        rest = list(rows)
    assert rest
