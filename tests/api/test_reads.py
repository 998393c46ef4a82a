"""Reading through the API: listChildren, getCurrentPlan and listOccurrences; who sees what,
another organisation's ids answered exactly like missing ones, and a fixed number of SQL
statements whatever the number of children and occurrences."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta

from sqlalchemy import event, select

from routines import logs
from tenants import organisations
from tenants.db import utcnow
from tenants.models import AuditEvent
from tests import routine_factories as f
from tests.api.conftest import EVERY_HALF_HOUR, bearer, kid_with_plan, second_carer, token_for

MISSING = 999_999


def _today() -> date:
    return utcnow().date()


def _window(days: int = 3) -> str:
    start = _today() - timedelta(days=1)
    return f"from={start.isoformat()}&to={(start + timedelta(days=days - 1)).isoformat()}"


def test_list_children_shows_a_carer_only_their_team(client, db, orgs, alpha_kid):
    alpha, _ = orgs
    other = second_carer(db, alpha)
    theirs = kid_with_plan(db, alpha, name="Theo", carer=other)
    response = client.get("/api/v1/children", headers=bearer(token_for(db, alpha, alpha.carer)))
    assert response.status_code == 200
    [kid] = response.get_json()["children"]
    assert kid == {
        "id": alpha_kid.id,
        "name": "Robin Ashdown",
        "time_zone": "Europe/London",
        "household": "Ashdown household",
        "classroom": "Brook Primary, Year 3",
        "logs_side": "home",
    }
    admin = client.get("/api/v1/children", headers=bearer(token_for(db, alpha, alpha.admin)))
    assert {c["id"] for c in admin.get_json()["children"]} == {alpha_kid.id, theirs.id}
    teacher = client.get("/api/v1/children", headers=bearer(token_for(db, alpha, alpha.teacher)))
    assert [c["logs_side"] for c in teacher.get_json()["children"]] == ["school", "school"]


def test_current_plan_with_its_activities_and_an_audited_read(client, db, orgs, alpha_kid):
    alpha, _ = orgs
    secret = token_for(db, alpha, alpha.carer)
    response = client.get(f"/api/v1/children/{alpha_kid.id}/plan", headers=bearer(secret))
    assert response.status_code == 200
    body = response.get_json()
    assert body["child_id"] == alpha_kid.id
    assert body["version"]["number"] == 1
    assert body["version"]["effective_from"] == "2026-01-01"
    home, school = body["activities"]
    assert home["activity"]["name"] == "Rocking Robin"
    assert home["domain"] == "sensory_integration"
    assert home["rs"] == ["rhythmic", "repetitive", "relational"]
    assert home["minutes"] == 5
    assert home["assignee"] == "household"
    assert home["schedule"] == {
        "frequency": {"days": f.EVERY_DAY, "mode": "times", "times": ["07:30"]},
        "time_zone": "Europe/London",
        "start_date": "2026-01-01",
        "end_date": None,
    }
    assert school["assignee"] == "classroom"
    assert school["side"] == "school"
    with f.in_org(alpha):
        viewed = db.scalars(select(AuditEvent).where(AuditEvent.action == "plan.viewed")).all()
    assert [(e.actor_id, e.detail["child_id"], e.detail["page"]) for e in viewed] == [
        (alpha.carer.id, alpha_kid.id, "api")
    ]


def test_no_plan_and_out_of_reach_children_are_404(client, db, orgs, alpha_kid, beta_kid):
    alpha, _ = orgs
    secret = token_for(db, alpha, alpha.carer)
    with f.in_org(alpha):
        planless = f.child(db, alpha, name="Noplan").child.id
    db.commit()
    other = second_carer(db, alpha)
    not_mine = kid_with_plan(db, alpha, name="Theo", carer=other).id
    missing = client.get(f"/api/v1/children/{MISSING}/plan", headers=bearer(secret))
    assert missing.status_code == 404
    for child_id in (beta_kid.id, not_mine):
        response = client.get(f"/api/v1/children/{child_id}/plan", headers=bearer(secret))
        assert (response.status_code, response.get_json()) == (404, missing.get_json())
    response = client.get(f"/api/v1/children/{planless}/plan", headers=bearer(secret))
    assert response.status_code == 404
    assert "No published plan" in response.get_json()["error"]["message"]


def test_list_occurrences_shape_and_sides(client, db, orgs, alpha_kid):
    alpha, _ = orgs
    carer = token_for(db, alpha, alpha.carer)
    first = alpha_kid.occurrence_ids[0]
    with f.in_org(alpha):
        [result] = logs.record_logs(
            db,
            [logs.LogInput(str(uuid.uuid4()), first, "partly", reason="refused", minutes=3)],
            actor=alpha.carer,
            membership=organisations.membership_for(db, alpha.carer),
            now=utcnow(),
            source="web",
        )
    db.commit()
    response = client.get(f"/api/v1/occurrences?{_window(7)}", headers=bearer(carer))
    assert response.status_code == 200
    rows = response.get_json()["occurrences"]
    assert rows and {r["side"] for r in rows} == {"home"}
    assert [r["id"] for r in rows] == alpha_kid.occurrence_ids
    row = rows[0]
    assert set(row) == {
        "id", "child_id", "activity", "side", "assignee", "local_date", "local_time",
        "time_zone", "due_utc", "due_local", "minutes", "status", "log",
    }  # fmt: skip
    assert row["child_id"] == alpha_kid.id
    assert row["activity"]["name"] == "Rocking Robin"
    assert row["local_time"] == "07:30"
    assert row["time_zone"] == "Europe/London"
    due = datetime.fromisoformat(row["due_utc"].replace("Z", "+00:00"))
    assert row["due_utc"].endswith("Z")
    assert datetime.fromisoformat(row["due_local"]) == due
    assert row["status"] == "partly"
    log = row["log"]
    assert log["id"] == result.log.id
    assert log["client_uuid"] == str(result.log.client_uuid)
    assert (log["status"], log["reason"], log["minutes"]) == ("partly", "refused", 3)
    assert log["author_id"] == alpha.carer.id
    assert log["can_correct"] is True
    assert all(r["log"] is None for r in rows[1:])

    teacher = client.get(
        f"/api/v1/occurrences?{_window(7)}", headers=bearer(token_for(db, alpha, alpha.teacher))
    )
    assert [r["id"] for r in teacher.get_json()["occurrences"]] == alpha_kid.school_ids
    clinician = client.get(
        f"/api/v1/occurrences?{_window(7)}", headers=bearer(token_for(db, alpha, alpha.clinician))
    )
    both = {r["id"] for r in clinician.get_json()["occurrences"]}
    assert both == set(alpha_kid.occurrence_ids) | set(alpha_kid.school_ids)
    # The log's can_correct is the reader's: the clinician did not make it.
    logged = next(r for r in clinician.get_json()["occurrences"] if r["id"] == first)
    assert logged["log"]["can_correct"] is False


def test_list_occurrences_refuses_bad_queries(client, db, orgs, alpha_kid):
    alpha, _ = orgs
    secret = token_for(db, alpha, alpha.carer)
    cases = {
        "": "from",
        "from=2026-11-23": "to",
        "from=23/11/2026&to=2026-11-24": "from",
        "from=2026-02-30&to=2026-03-01": "from",
        "from=20261123&to=2026-11-24": "from",
        "from=2026-11-23&to=2026-11-22": "to",
        "from=2026-11-01&to=2027-01-02": "to",
        "from=2026-11-23&to=2026-11-24&child_id=abc": "child_id",
        "from=2026-11-23&to=2026-11-24&child_id=99999999999": "child_id",
    }
    for query, field in cases.items():
        response = client.get(f"/api/v1/occurrences?{query}", headers=bearer(secret))
        assert response.status_code == 422, query
        assert response.get_json()["error"]["field"] == field, query
    # 62 days, both ends included, is allowed.
    ok = client.get("/api/v1/occurrences?from=2026-11-01&to=2027-01-01", headers=bearer(secret))
    assert ok.status_code == 200


def test_list_occurrences_of_another_organisations_child_is_404(client, db, orgs, beta_kid):
    alpha, _ = orgs
    secret = token_for(db, alpha, alpha.admin)
    missing = client.get(
        f"/api/v1/occurrences?{_window()}&child_id={MISSING}", headers=bearer(secret)
    )
    theirs = client.get(
        f"/api/v1/occurrences?{_window()}&child_id={beta_kid.id}", headers=bearer(secret)
    )
    assert missing.status_code == 404
    assert (theirs.status_code, theirs.get_json()) == (404, missing.get_json())
    everything = client.get(f"/api/v1/occurrences?{_window(7)}", headers=bearer(secret))
    assert everything.get_json()["occurrences"] == []


@contextmanager
def counted(db) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    statements: list[str] = []
    engine = db.get_bind().engine

    def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _statements_for(client, db, secret: str, query: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    client.get(f"/api/v1/occurrences?{query}", headers=bearer(secret))  # warm-up: last_used_at
    with counted(db) as statements:
        response = client.get(f"/api/v1/occurrences?{query}", headers=bearer(secret))
    assert response.status_code == 200
    return len(statements), len(response.get_json()["occurrences"])


def test_list_occurrences_runs_a_fixed_number_of_statements(client, db, orgs):
    alpha, _ = orgs
    kid_with_plan(db, alpha, name="Kid0", times=["07:30", "19:30"], school_times=["10:15"])
    secret = token_for(db, alpha, alpha.carer)
    today = _today().isoformat()
    small, small_rows = _statements_for(client, db, secret, f"from={today}&to={today}")
    assert small_rows == 2
    for n in range(1, 10):
        kid_with_plan(db, alpha, name=f"Kid{n}", times=EVERY_HALF_HOUR[::4], school_times=["10:15"])
    week = f"from={(_today() - timedelta(days=1)).isoformat()}&to={today}"
    large, large_rows = _statements_for(client, db, secret, week)
    assert large_rows > 100
    assert large == small
    # The same for a clinician, who sees both sides.
    clinician = token_for(db, alpha, alpha.clinician)
    assert (
        _statements_for(client, db, clinician, f"from={today}&to={today}")[0]
        == (_statements_for(client, db, clinician, week)[0])
    )
