"""createLogs and updateLog: idempotent batches with a result per item, whole-request
refusals that store nothing, a bounded number of statements for 500 logs, and corrections
by the author within 48 hours."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import event, func, select

from routines import logs
from routines import models as m
from tenants import organisations
from tenants.context import tenant_context
from tenants.db import utcnow
from tests import routine_factories as f
from tests.api.conftest import EVERY_HALF_HOUR, bearer, kid_with_plan, second_carer, token_for

MISSING = 999_999


def _log(occurrence_id: int, status: str = "done", **extra):  # type: ignore[no-untyped-def]
    return {"client_uuid": str(uuid.uuid4()), "occurrence_id": occurrence_id, "status": status,
            **extra}  # fmt: skip


def _post(client, secret: str, items):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/logs", json={"logs": items}, headers=bearer(secret))


def _stored(db, org_id: int) -> int:  # type: ignore[no-untyped-def]
    # By id: a refused request rolls the shared session back, expiring the fixtures' rows.
    with tenant_context(org_id):
        return db.scalar(select(func.count(m.RoutineLog.id)))


def test_created_then_repeat_then_conflict(client, db, orgs, alpha_kid):
    alpha, _ = orgs
    secret = token_for(db, alpha, alpha.carer)
    item = _log(alpha_kid.occurrence_ids[0], "skipped", reason="unwell", state_before="alarm",
                enjoyment=2, note="Temperature")  # fmt: skip
    first = _post(client, secret, [item])
    assert first.status_code == 200
    [created] = first.get_json()["results"]
    assert created["status"] == 201
    assert created["outcome"] == "created"
    assert created["error"] is None
    assert created["client_uuid"] == item["client_uuid"]
    stored = created["log"]
    assert (stored["status"], stored["reason"], stored["note"]) == (
        "skipped",
        "unwell",
        "Temperature",
    )
    assert stored["state_before"] == "alarm"
    assert stored["source"] == "api"
    assert stored["can_correct"] is True

    [repeat] = _post(client, secret, [item]).get_json()["results"]
    assert (repeat["status"], repeat["outcome"]) == (200, "repeat")
    assert repeat["log"]["id"] == stored["id"]

    changed = {**item, "note": "Something else"}
    [conflict] = _post(client, secret, [changed]).get_json()["results"]
    assert (conflict["status"], conflict["outcome"], conflict["log"]) == (409, "conflict", None)
    assert conflict["error"]["code"] == "conflict"
    assert conflict["error"]["field"] == "client_uuid"
    assert _stored(db, alpha.id) == 1
    with f.in_org(alpha):
        assert db.get(m.RoutineLog, stored["id"]).note == "Temperature"


def test_bad_items_get_their_own_answer_and_the_rest_is_stored(client, db, orgs, beta_kid):
    alpha, _ = orgs
    kid = kid_with_plan(db, alpha, days_back=1, horizon_days=10)
    secret = token_for(db, alpha, alpha.carer)
    now = utcnow()
    with f.in_org(alpha):
        far = db.scalar(
            select(m.Occurrence.id)
            .where(m.Occurrence.child_id == kid.id, m.Occurrence.due_at > now + timedelta(days=8))
            .limit(1)
        )
    good = [_log(kid.occurrence_ids[0]), _log(kid.occurrence_ids[1], "partly", minutes=2)]
    bad = [
        _log(MISSING),  # unknown occurrence
        _log(beta_kid.occurrence_ids[0]),  # another organisation's
        _log(far),  # more than 7 days ahead
        _log(kid.occurrence_ids[2], "finished"),  # unknown status
        _log(kid.occurrence_ids[3], child_id=beta_kid.id),  # another child's
        _log(kid.occurrence_ids[4], "skipped"),  # skipped needs a reason
        {"client_uuid": "not-a-uuid", "occurrence_id": kid.occurrence_ids[5], "status": "done"},
    ]
    response = _post(client, secret, [good[0], *bad, good[1]])
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == [201, 404, 404, 422, 422, 422, 422, 422, 201]
    assert [r["error"]["field"] for r in results[1:-1]] == [
        "occurrence_id", "occurrence_id", "occurrence_id", "status", "child_id", "reason",
        "client_uuid",
    ]  # fmt: skip
    assert all(r["log"] is None and r["outcome"] == "refused" for r in results[1:-1])
    assert all(r["error"]["message"] for r in results[1:-1])
    # Another organisation's occurrence is answered exactly like a missing one.
    assert results[1]["error"] == results[2]["error"] | {"message": results[1]["error"]["message"]}
    assert results[1]["error"]["message"].replace(str(MISSING), "N") == results[2]["error"][
        "message"
    ].replace(str(beta_kid.occurrence_ids[0]), "N")
    assert _stored(db, alpha.id) == 2
    assert _stored(db, orgs[1].id) == 0


def test_a_teacher_cannot_log_the_home_side(client, db, orgs, alpha_kid):
    alpha, _ = orgs
    secret = token_for(db, alpha, alpha.teacher)
    results = _post(
        client, secret, [_log(alpha_kid.occurrence_ids[0]), _log(alpha_kid.school_ids[0])]
    ).get_json()["results"]
    assert [r["status"] for r in results] == [403, 201]


def test_whole_request_refusals_store_nothing(client, db, orgs, alpha_kid):
    alpha, _ = orgs
    alpha_id = alpha.id
    secret = token_for(db, alpha, alpha.carer)
    good = _log(alpha_kid.occurrence_ids[0])
    headers = bearer(secret)

    def send(data: str):  # type: ignore[no-untyped-def]
        return client.post("/api/v1/logs", data=data, content_type="application/json",
                           headers=headers)  # fmt: skip

    cases = [
        (send('{"logs": [{"client_uuid": '), 400, "malformed_json"),
        (send(""), 400, "malformed_json"),
        (send('{"logs": [{"minutes": NaN}]}'), 400, "malformed_json"),
        (send('{"logs": [{"minutes": 1e999}]}'), 400, "malformed_json"),
        (send("[" * 100_000 + "]" * 100_000), 400, "malformed_json"),
        (send(b"\xff\xfe".decode("latin-1")), 400, "malformed_json"),
        (send('"logs"'), 400, "not_an_object"),
        (client.post("/api/v1/logs", json={}, headers=headers), 422, "invalid"),
        (client.post("/api/v1/logs", json={"logs": {"a": 1}}, headers=headers), 422, "invalid"),
        (_post(client, secret, [good, "not an object"]), 422, "invalid"),
        (_post(client, secret, [good, None]), 422, "invalid"),
        (_post(client, secret, [good] + [_log(alpha_kid.occurrence_ids[1])] * 500), 413,
         "too_many_logs"),
    ]  # fmt: skip
    for response, status, code in cases:
        assert response.status_code == status, response.get_json()
        assert response.get_json()["error"]["code"] == code
    assert _stored(db, alpha_id) == 0


def test_a_batch_of_500_is_stored_in_a_bounded_number_of_statements(client, db, orgs):
    alpha, _ = orgs
    kids = [
        kid_with_plan(db, alpha, name=f"Kid{n}", times=EVERY_HALF_HOUR, days_back=2,
                      horizon_days=4)
        for n in range(3)
    ]  # fmt: skip
    ids = sorted(i for k in kids for i in k.occurrence_ids)
    secret = token_for(db, alpha, alpha.carer)
    now = utcnow()
    with f.in_org(alpha):
        due = {
            row.id: row.due_at for row in db.execute(select(m.Occurrence.id, m.Occurrence.due_at))
        }
    usable = [i for i in ids if due[i] <= now + timedelta(days=6)]
    assert len(usable) >= 510
    client.get("/api/v1/me", headers=bearer(secret))  # last_used_at, before counting

    def statements_for(batch):  # type: ignore[no-untyped-def]
        seen: list[str] = []
        engine = db.get_bind().engine

        def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            response = _post(client, secret, batch)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert response.status_code == 200
        assert {r["status"] for r in response.get_json()["results"]} == {201}
        return len(seen)

    few = statements_for([_log(i) for i in usable[:10]])
    many = statements_for([_log(i) for i in usable[10:510]])
    assert _stored(db, alpha.id) == 510
    # One audit row per child and the same handful of statements otherwise: nothing per log.
    assert many <= few + 5, (few, many)
    assert many < 40


def _carer_log(db, org, occurrence_id: int, *, now):  # type: ignore[no-untyped-def]
    with f.in_org(org):
        [result] = logs.record_logs(
            db,
            [logs.LogInput(str(uuid.uuid4()), occurrence_id, "partly", reason="no_time")],
            actor=org.carer,
            membership=organisations.membership_for(db, org.carer),
            now=now,
            source="web",
        )
        log_id = result.log.id
    db.commit()
    return log_id


def test_the_author_corrects_a_log_and_the_correction_is_kept(client, db, orgs, alpha_kid):
    alpha, _ = orgs
    log_id = _carer_log(db, alpha, alpha_kid.occurrence_ids[0], now=utcnow())
    secret = token_for(db, alpha, alpha.carer)
    response = client.patch(
        f"/api/v1/logs/{log_id}", json={"status": "done", "minutes": 5}, headers=bearer(secret)
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["log"]["status"], body["log"]["reason"], body["log"]["minutes"]) == (
        "done", None, 5,
    )  # fmt: skip
    [correction] = body["corrections"]
    assert correction["before"]["status"] == "partly"
    assert correction["after"]["status"] == "done"
    with f.in_org(alpha):
        assert db.get(m.RoutineLog, log_id).status == "done"
        assert db.scalar(select(func.count(m.LogCorrection.id))) == 1
        occurrence = db.get(m.Occurrence, alpha_kid.occurrence_ids[0])
        assert occurrence.status == "done"

    bad = client.patch(f"/api/v1/logs/{log_id}", json={"status": "?"}, headers=bearer(secret))
    assert (bad.status_code, bad.get_json()["error"]["field"]) == (422, "status")
    unknown = client.patch(f"/api/v1/logs/{log_id}", json={"occurrence_id": 1},
                           headers=bearer(secret))  # fmt: skip
    assert unknown.status_code == 422
    malformed = client.patch(f"/api/v1/logs/{log_id}", data="{", headers=bearer(secret),
                             content_type="application/json")  # fmt: skip
    assert malformed.status_code == 400


def test_others_and_late_corrections_are_403_and_out_of_reach_is_404(
    client, db, orgs, alpha_kid, beta_kid
):
    alpha, beta = orgs
    alpha_id, beta_id = alpha.id, beta.id
    fresh = _carer_log(db, alpha, alpha_kid.occurrence_ids[1], now=utcnow())
    old = _carer_log(db, alpha, alpha_kid.occurrence_ids[0], now=utcnow() - timedelta(hours=49))
    theirs = _carer_log(db, beta, beta_kid.occurrence_ids[0], now=utcnow())
    # Every token first: a refused request rolls back the shared session, expiring fixtures.
    clinician = bearer(token_for(db, alpha, alpha.clinician))
    carer = bearer(token_for(db, alpha, alpha.carer))
    stranger = bearer(token_for(db, alpha, second_carer(db, alpha)))
    change = {"note": "changed"}

    response = client.patch(f"/api/v1/logs/{fresh}", json=change, headers=clinician)
    assert (response.status_code, response.get_json()["error"]["code"]) == (403, "forbidden")
    response = client.patch(f"/api/v1/logs/{old}", json=change, headers=carer)
    assert response.status_code == 403
    assert "48 hours" in response.get_json()["error"]["message"]

    missing = client.patch(f"/api/v1/logs/{MISSING}", json=change, headers=carer)
    assert missing.status_code == 404
    other_org = client.patch(f"/api/v1/logs/{theirs}", json=change, headers=carer)
    assert (other_org.status_code, other_org.get_json()) == (404, missing.get_json())
    # Inside the organisation, a carer not on the child's team cannot find its logs either.
    response = client.patch(f"/api/v1/logs/{fresh}", json=change, headers=stranger)
    assert (response.status_code, response.get_json()) == (404, missing.get_json())
    for org_id in (alpha_id, beta_id):
        with tenant_context(org_id):
            assert db.scalar(select(func.count(m.LogCorrection.id))) == 0
            assert set(db.scalars(select(m.RoutineLog.note))) == {""}
