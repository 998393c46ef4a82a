"""Bearer tokens: creating one by signing in through the API, the 401s, revoking, getMe,
and the one JSON error shape for every failure under /api/v1."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from routines import models as m
from tenants import organisations
from tenants.db import utcnow
from tenants.models import ApiToken
from tests import routine_factories as f
from tests.api.conftest import bearer, token_for
from tests.conftest import PASSWORD, sign_in


def _error(response, status: int, code: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "field"}
    assert body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code
    return body["error"]


def _create(client, **overrides):  # type: ignore[no-untyped-def]
    body = {"email": "carer@alpha.example", "password": PASSWORD, "organisation": "alpha"}
    body.update(overrides)
    return client.post("/api/v1/tokens", json={k: v for k, v in body.items() if v is not None})


def test_create_token_then_use_it(client, orgs):
    response = _create(client, name="Robin's phone")
    assert response.status_code == 201
    body = response.get_json()
    assert body["token"].startswith("cad_")
    assert body["organisation"] == {"slug": "alpha", "name": "Alpha Services"}
    assert body["name"] == "Robin's phone"
    assert body["expires_at"].endswith("Z")

    me = client.get("/api/v1/me", headers=bearer(body["token"]))
    assert me.status_code == 200
    data = me.get_json()
    assert data["user"]["email"] == "carer@alpha.example"
    assert set(data["user"]) == {"id", "name", "email", "time_zone"}
    assert data["organisation"]["slug"] == "alpha"
    assert data["roles"] == ["carer"]
    assert data["membership_id"] == body["membership_id"]
    assert data["token"]["id"] == body["token_id"]
    assert data["token"]["last_used_at"] is not None


def test_wrong_password_unknown_address_and_non_member_get_one_answer(client, orgs):
    answers = [
        _create(client, password="not the password"),
        _create(client, email="nobody@alpha.example"),
        _create(client, organisation="beta"),  # alpha's carer is no member of beta
        _create(client, organisation="no-such-org"),
    ]
    messages = {_error(r, 401, "unauthenticated")["message"] for r in answers}
    assert messages == {"Email, password or organisation is incorrect."}
    assert all(r.headers["WWW-Authenticate"].startswith("Bearer") for r in answers)


def test_deactivated_member_gets_no_token_and_loses_the_ones_they_had(client, db, orgs):
    alpha, _ = orgs
    secret = token_for(db, alpha, alpha.carer)
    with f.in_org(alpha):
        membership = organisations.membership_for(db, alpha.carer)
        organisations.deactivate_member(db, membership, actor=alpha.admin, ip=None)
    db.commit()
    _error(_create(client), 401)
    _error(client.get("/api/v1/me", headers=bearer(secret)), 401, "unauthenticated")


def test_create_token_checks_its_body(client, orgs):
    assert _error(_create(client, email=None), 422, "invalid")["field"] == "email"
    assert _error(_create(client, organisation=7), 422)["field"] == "organisation"
    assert _error(_create(client, name=["x"]), 422)["field"] == "name"
    assert _error(_create(client, name="x" * 121), 422)["field"] == "name"
    response = client.post("/api/v1/tokens", data="{not json", content_type="application/json")
    _error(response, 400, "malformed_json")
    _error(client.post("/api/v1/tokens", json=["a list"]), 400, "not_an_object")


def test_repeated_failures_are_rate_limited(client, orgs):
    # The per-account limit is 5 failures in 15 minutes (as for signing in on the web).
    for _ in range(5):
        _error(_create(client, password="guess"), 401)
    limited = _create(client, password="guess")
    _error(limited, 429, "rate_limited")
    # ... and the right password does not get through either while limited.
    _error(_create(client), 429)
    # Another account is not limited by these failures.
    assert _create(client, email="teacher@alpha.example").status_code == 201


def test_missing_garbage_expired_and_revoked_tokens_get_401(client, db, orgs):
    alpha, _ = orgs
    expired = token_for(db, alpha, alpha.carer, now=utcnow() - timedelta(days=91))
    revoked = token_for(db, alpha, alpha.carer)
    assert client.delete("/api/v1/tokens/current", headers=bearer(revoked)).status_code == 204
    cases = {
        "missing": {},
        "basic": {"Authorization": "Basic Y2FyZXI6cGFzcw=="},
        "empty": {"Authorization": "Bearer "},
        "garbage": bearer("cad_not-a-real-token"),
        "no prefix": bearer("x" * 43),
        "huge": bearer("cad_" + "x" * 5000),
        "expired": bearer(expired),
        "revoked": bearer(revoked),
    }
    for name, headers in cases.items():
        response = client.get("/api/v1/me", headers=headers)
        error = _error(response, 401, "unauthenticated")
        assert "Bearer" in response.headers["WWW-Authenticate"], name
        assert error["field"] is None


def test_bad_tokens_store_nothing(client, db, orgs, alpha_kid):
    alpha, _ = orgs
    revoked = token_for(db, alpha, alpha.carer)
    client.delete("/api/v1/tokens/current", headers=bearer(revoked))
    batch = {
        "logs": [
            {
                "client_uuid": "7c1e4d7e-3f5a-4b8e-9a51-6c1f2f9a0b11",
                "occurrence_id": alpha_kid.occurrence_ids[0],
                "status": "done",
            }
        ]
    }
    for headers in ({}, bearer(revoked), bearer("cad_garbage")):
        _error(client.post("/api/v1/logs", json=batch, headers=headers), 401)
    with f.in_org(alpha):
        assert db.scalar(select(func.count(m.RoutineLog.id))) == 0


def test_a_signed_in_browser_session_is_not_an_api_credential(client, orgs):
    assert sign_in(client, "carer@alpha.example").status_code == 302
    _error(client.get("/api/v1/me"), 401)
    _error(client.get("/api/v1/children"), 401)


def test_revoking_the_current_token(client, db, orgs):
    alpha, _ = orgs
    secret = token_for(db, alpha, alpha.carer)
    other = token_for(db, alpha, alpha.carer)
    assert client.delete("/api/v1/tokens/current", headers=bearer(secret)).status_code == 204
    _error(client.get("/api/v1/me", headers=bearer(secret)), 401)
    assert client.get("/api/v1/me", headers=bearer(other)).status_code == 200
    revoked = db.scalars(select(ApiToken).where(ApiToken.revoked_at.is_not(None))).all()
    assert len(revoked) == 1


def test_unknown_addresses_and_methods_answer_json(client, db, orgs):
    alpha, _ = orgs
    secret = token_for(db, alpha, alpha.carer)
    _error(client.get("/api/v1/nothing-here", headers=bearer(secret)), 404, "not_found")
    _error(client.get("/api/v1/nothing-here"), 404, "not_found")
    _error(client.post("/api/v1/nothing-here", json={}), 404, "not_found")
    _error(client.get("/api/v1/children/0/plan", headers=bearer(secret)), 404)
    _error(client.get("/api/v1/children/abc/plan", headers=bearer(secret)), 404)
    response = client.put("/api/v1/logs", json={}, headers=bearer(secret))
    _error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]
    _error(client.get("/api/v1/tokens"), 405)
    # Pages outside the API keep their HTML errors.
    page = client.get("/no-such-page")
    assert page.status_code == 404
    assert page.mimetype == "text/html"


def test_oversized_body_is_refused(client, db, orgs):
    alpha, _ = orgs
    secret = token_for(db, alpha, alpha.carer)
    big = b'{"logs": [' + b'{"note": "' + b"x" * (1024 * 1024) + b'"}]}'
    response = client.post(
        "/api/v1/logs", data=big, content_type="application/json", headers=bearer(secret)
    )
    _error(response, 413, "too_large")
