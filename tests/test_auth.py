"""Authentication and session security: sign-in, limits, CSRF, sessions, resets, invitations,
password changes, headers, redirects and error pages, through the real app, database and
Redis. Patched: itsdangerous's clock (to sign already-old links), the limiter's key prefix."""

from __future__ import annotations

import email
import email.policy
import re
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import select

from tenants import accounts, organisations
from tenants.context import tenant_context
from tenants.db import utcnow
from tenants.models import Invitation, Membership, User, UserSession
from tests.conftest import (
    CSRF_RE,
    PASSWORD,
    csrf_from,
    csrf_token,
    make_test_app,
    post_form,
    sign_in,
)

COOKIE = "cadence_session"
NEW_PASSWORD = "a brand new passphrase"
LINK_REFUSED = "This link cannot be used"


# --- harness and helpers -----------------------------------------------------------------
def signed_in(client) -> bool:
    """True if the client's session is live; an anonymous one is sent to sign in."""
    response = client.get("/profile/")
    if response.status_code == 200:
        return True
    assert response.status_code == 302
    assert urlsplit(response.location).path == "/auth/sign-in"
    return False


def session_data(app, client) -> dict:
    value = client.get_cookie(COOKIE).value
    return dict(app.session_interface.get_signing_serializer(app).loads(value))


def attempt(client, address: str, password: str, **headers: str):
    data = {"email": address, "password": password, "csrf_token": csrf_token(client)}
    return client.post("/auth/sign-in", data=data, headers=headers)


def from_address(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def live_sessions(db, user_id: int) -> list[UserSession]:
    return list(
        db.scalars(
            select(UserSession).where(
                UserSession.user_id == user_id, UserSession.revoked_at.is_(None)
            )
        )
    )


def mail_snapshot(app) -> set[Path]:
    return set((Path(app.config["INSTANCE_PATH"]) / "outbox").glob("*.eml"))


def new_mail_to(app, before: set[Path], address: str) -> list[str]:
    """Bodies of the emails written to `address` since `before`, oldest first."""
    files = sorted(
        p
        for p in mail_snapshot(app) - before
        if p.name.endswith(address.replace("@", "_at_") + ".eml")
    )
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default).get_content()
        for p in files
    ]


def link_path(body: str, prefix: str) -> str:
    match = re.search(r"https?://[^/\s]+(" + re.escape(prefix) + r"\S+)", body)
    assert match, f"no {prefix} link in the email"
    return match.group(1)


def tamper(token: str) -> str:
    # Change a character inside the signature (the last one's low bits may be padding).
    i = len(token) - 5
    return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]


def refused(response) -> bool:
    return response.status_code == 400 and LINK_REFUSED in response.get_data(as_text=True)


def membership_of(db, org, user) -> Membership | None:
    with tenant_context(org.id):
        return db.scalar(select(Membership).where(Membership.user_id == user.id))


def invite(app, db, org, address: str, roles=("carer",)):
    with tenant_context(org.id):
        issued = organisations.invite(
            db,
            secret_key=app.config["SECRET_KEY"],
            actor=org.admin,
            email=address,
            roles=list(roles),
            ip=None,
        )
        db.commit()
    return issued


# --- 1. sign-in failures look the same ----------------------------------------------------
def test_wrong_password_and_unknown_email_give_identical_answers(app, orgs):
    alpha, _ = orgs
    bodies = []
    for address, password in [
        (alpha.carer.email, "not the password"),
        ("nobody@alpha.example", PASSWORD),
    ]:
        response = attempt(app.test_client(), address, password)
        assert response.status_code == 400
        body = response.get_data(as_text=True)
        assert "Email or password is incorrect." in body
        bodies.append(CSRF_RE.sub("CSRF", body).replace(address, "EMAIL"))
    assert bodies[0] == bodies[1]


# --- 2. rate limits -----------------------------------------------------------------------
def test_sixth_failed_attempt_on_an_account_is_refused_from_any_address(app, orgs):
    alpha, _ = orgs
    first = from_address(app, "10.0.0.1")
    for _ in range(5):
        assert attempt(first, alpha.carer.email, "wrong password").status_code == 400
    other = from_address(app, "10.0.0.2")
    assert attempt(other, alpha.carer.email, "wrong password").status_code == 429
    # Locked even with the right password (in any letter case) until the window passes.
    assert attempt(other, alpha.carer.email.upper(), PASSWORD).status_code == 429
    assert not signed_in(other)
    # Other accounts from the same address are unaffected.
    assert attempt(first, alpha.teacher.email, PASSWORD).status_code == 302


def test_account_limit_cannot_be_dodged_by_spelling_the_address_differently(app, db, orgs):
    alpha, _ = orgs
    for i in range(5):
        assert (
            attempt(
                from_address(app, f"10.0.3.{i}"), alpha.carer.email, "wrong password"
            ).status_code
            == 400
        )
    variant = alpha.carer.email.replace("alpha", "\uff41lpha")  # full-width "a"
    assert accounts.find_user_by_email(db, variant).id == alpha.carer.id
    assert attempt(from_address(app, "10.0.3.9"), variant, "wrong password").status_code == 429


def test_failed_attempts_from_one_address_are_limited_across_accounts(app, orgs):
    assert app.config["LOGIN_LIMIT_PER_ADDRESS"] == "20 per 15 minutes"
    client = from_address(app, "10.0.1.1")
    for i in range(20):
        assert attempt(client, f"guess{i}@nowhere.example", "wrong password").status_code == 400
    assert attempt(client, "guess20@nowhere.example", "wrong password").status_code == 429
    # No proxy is trusted in tests: a forged X-Forwarded-For does not reset the count.
    spoofed = attempt(
        client, "guess21@nowhere.example", "wrong password", **{"X-Forwarded-For": "192.0.2.7"}
    )
    assert spoofed.status_code == 429
    assert "Too many attempts" in spoofed.get_data(as_text=True)
    assert (
        attempt(
            from_address(app, "10.0.1.2"), "guess22@nowhere.example", "wrong password"
        ).status_code
        == 400
    )


def test_successful_sign_ins_do_not_count_towards_the_limits(app, orgs):
    alpha, _ = orgs
    people = [alpha.admin, alpha.clinician, alpha.carer, alpha.teacher]
    for _ in range(6):  # 6 per account (> 5) and 24 from the address (> 20)
        for person in people:
            assert attempt(from_address(app, "10.0.2.1"), person.email, PASSWORD).status_code == 302
    assert attempt(from_address(app, "10.0.2.1"), alpha.carer.email, "wrong").status_code == 400


# --- 3. CSRF ------------------------------------------------------------------------------
def test_sign_in_without_csrf_token_is_refused_and_signs_nobody_in(client, db, orgs):
    alpha, _ = orgs
    client.get("/auth/sign-in")
    response = client.post("/auth/sign-in", data={"email": alpha.carer.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "missing security token" in response.get_data(as_text=True)
    assert not signed_in(client)
    assert live_sessions(db, alpha.carer.id) == []


def test_profile_post_without_csrf_token_is_refused_and_changes_nothing(client, db, orgs):
    alpha, _ = orgs
    sign_in(client, alpha.carer.email)
    response = client.post("/profile/", data={"name": "Hijacked", "time_zone": "Europe/Paris"})
    assert response.status_code == 400
    user = db.get(User, alpha.carer.id)
    assert (user.name, user.time_zone) == ("alpha carer", "Europe/London")


def test_admin_post_without_csrf_token_is_refused_and_changes_nothing(app, client, db, orgs):
    alpha, _ = orgs
    carer = app.test_client()
    sign_in(carer, alpha.carer.email)
    sign_in(client, alpha.admin.email)
    membership_id = membership_of(db, alpha, alpha.carer).id
    response = client.post(f"/o/alpha/admin/members/{membership_id}/deactivate")
    assert response.status_code == 400
    assert membership_of(db, alpha, alpha.carer).is_active
    assert carer.get("/o/alpha/").status_code == 200


# --- 4. session rotation and sign-out -----------------------------------------------------
def test_sign_in_issues_a_new_session_cookie_and_token(app, client, orgs):
    alpha, _ = orgs
    client.get("/auth/sign-in")
    before_cookie = client.get_cookie(COOKIE).value
    before = session_data(app, client)
    assert "sid" not in before
    assert sign_in(client, alpha.carer.email).status_code == 302
    after = session_data(app, client)
    assert client.get_cookie(COOKIE).value != before_cookie
    assert after["sid"] and after.get("csrf_token") != before.get("csrf_token")
    # Signing in again from a signed-in browser (say, a second tab) rotates it again.
    again = client.post(
        "/auth/sign-in",
        data={
            "email": alpha.carer.email,
            "password": PASSWORD,
            "csrf_token": csrf_token(client, "/profile/"),
        },
    )
    assert again.status_code == 302
    assert session_data(app, client)["sid"] != after["sid"]


def test_replayed_cookie_is_anonymous_after_sign_out(app, client, orgs):
    alpha, _ = orgs
    sign_in(client, alpha.carer.email)
    copied = client.get_cookie(COOKIE).value
    thief = app.test_client()
    thief.set_cookie(COOKIE, copied)
    assert signed_in(thief)  # the copy works while the session is live
    assert post_form(client, "/auth/sign-out", token_from="/profile/").status_code == 302
    assert not signed_in(client)
    replay = app.test_client()
    replay.set_cookie(COOKIE, copied)
    assert not signed_in(replay)
    assert replay.get("/o/alpha/").status_code == 302


# --- 5. deactivation ----------------------------------------------------------------------
def test_deactivated_member_is_signed_out_at_once(app, client, db, orgs):
    alpha, _ = orgs
    carer = app.test_client()
    sign_in(carer, alpha.carer.email)
    assert carer.get("/o/alpha/").status_code == 200
    sign_in(client, alpha.admin.email)
    membership_id = membership_of(db, alpha, alpha.carer).id
    response = post_form(
        client,
        f"/o/alpha/admin/members/{membership_id}/deactivate",
        token_from="/o/alpha/admin/members",
    )
    assert response.status_code == 303
    assert not membership_of(db, alpha, alpha.carer).is_active
    gone = carer.get("/o/alpha/")
    assert gone.status_code == 302 and urlsplit(gone.location).path == "/auth/sign-in"
    assert not signed_in(carer)
    # Signing in again does not bring the organisation back.
    assert sign_in(carer, alpha.carer.email).status_code == 302
    assert carer.get("/o/alpha/").status_code == 404


# --- 6. idle and absolute timeouts --------------------------------------------------------
@pytest.mark.parametrize("idle_minutes, still_live", [(29, True), (31, False)])
def test_idle_session_times_out(app, client, db, orgs, idle_minutes, still_live):
    alpha, _ = orgs
    assert app.config["SESSION_IDLE_MINUTES"] == 30
    sign_in(client, alpha.carer.email)
    [row] = live_sessions(db, alpha.carer.id)
    row.last_seen_at = utcnow() - timedelta(minutes=idle_minutes)
    db.commit()
    assert signed_in(client) is still_live
    assert bool(live_sessions(db, alpha.carer.id)) is still_live


def test_session_ends_after_absolute_lifetime_despite_activity(app, client, db, orgs):
    alpha, _ = orgs
    sign_in(client, alpha.carer.email)
    [row] = live_sessions(db, alpha.carer.id)
    row.created_at = utcnow() - timedelta(hours=app.config["SESSION_ABSOLUTE_HOURS"], minutes=1)
    row.last_seen_at = utcnow()
    db.commit()
    assert not signed_in(client)
    assert live_sessions(db, alpha.carer.id) == []


# --- 7. password reset --------------------------------------------------------------------
def test_reset_request_answers_the_same_for_known_and_unknown_addresses(app, orgs):
    alpha, _ = orgs
    before = mail_snapshot(app)
    answers = []
    for address in (alpha.carer.email, "nobody@alpha.example"):
        client = app.test_client()
        response = post_form(client, "/auth/reset", {"email": address})
        assert response.status_code == 302
        page = client.get(response.location).get_data(as_text=True)
        answers.append((response.location, CSRF_RE.sub("CSRF", page)))
    assert answers[0] == answers[1]
    assert "If an account exists for that address" in answers[0][1]
    assert len(new_mail_to(app, before, alpha.carer.email)) == 1
    assert new_mail_to(app, before, "nobody@alpha.example") == []


def test_reset_link_works_once_and_ends_other_sessions(app, client, orgs):
    alpha, _ = orgs
    other_device = app.test_client()
    sign_in(other_device, alpha.carer.email)
    before = mail_snapshot(app)
    post_form(client, "/auth/reset", {"email": alpha.carer.email})
    [body] = new_mail_to(app, before, alpha.carer.email)
    path = link_path(body, "/auth/reset/")
    assert client.get(path).status_code == 200
    response = post_form(client, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert not signed_in(other_device)
    assert refused(client.get(path))
    assert attempt(app.test_client(), alpha.carer.email, PASSWORD).status_code == 400
    assert attempt(app.test_client(), alpha.carer.email, NEW_PASSWORD).status_code == 302


def test_forged_reset_links_are_refused(app, client, orgs):
    alpha, _ = orgs
    genuine = accounts.make_reset_token(app.config["SECRET_KEY"], alpha.carer)
    other_key = accounts.make_reset_token("another-secret-" + "y" * 40, alpha.carer)
    for token in (tamper(genuine), other_key, "not-a-token"):
        assert refused(client.get(f"/auth/reset/{token}"))
    assert client.get(f"/auth/reset/{genuine}").status_code == 200


@pytest.mark.parametrize("age_seconds, status", [(3500, 200), (3700, 400)])
def test_reset_link_expires_after_one_hour(app, client, orgs, monkeypatch, age_seconds, status):
    alpha, _ = orgs
    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - age_seconds)
        token = accounts.make_reset_token(app.config["SECRET_KEY"], alpha.carer)
    assert client.get(f"/auth/reset/{token}").status_code == status
    response = post_form(
        client,
        f"/auth/reset/{token}",
        {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        token_from="/auth/sign-in",
    )
    assert response.status_code == (302 if status == 200 else 400)


# --- 8. invitations -----------------------------------------------------------------------
def test_new_person_accepts_invitation_once_and_lands_in_the_organisation(app, client, db, orgs):
    alpha, _ = orgs
    issued = invite(app, db, alpha, "newcomer@example.org", ["teacher"])
    path = f"/auth/invitation/{issued.token}"
    assert client.get(path).status_code == 200
    response = post_form(
        client, path, {"name": "New Comer", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert response.status_code == 302 and response.location == "/o/alpha/"
    assert client.get("/o/alpha/").status_code == 200
    user = accounts.find_user_by_email(db, "newcomer@example.org")
    assert user is not None and membership_of(db, alpha, user).is_active
    assert refused(app.test_client().get(path))
    assert refused(client.get(path))


def test_expired_forged_and_revoked_invitation_links_are_refused(app, client, db, orgs):
    alpha, _ = orgs
    expired = invite(app, db, alpha, "late@example.org")
    with tenant_context(alpha.id):
        db.get(Invitation, expired.invitation.id).expires_at = utcnow() - timedelta(minutes=1)
        db.commit()
    forged = invite(app, db, alpha, "forged@example.org")
    revoked = invite(app, db, alpha, "revoked@example.org")
    assert client.get(f"/auth/invitation/{revoked.token}").status_code == 200
    admin = app.test_client()
    sign_in(admin, alpha.admin.email)
    response = post_form(
        admin,
        f"/o/alpha/admin/invitations/{revoked.invitation.id}/revoke",
        token_from="/o/alpha/admin/invitations",
    )
    assert response.status_code == 303
    for token in (expired.token, tamper(forged.token), revoked.token):
        assert refused(client.get(f"/auth/invitation/{token}"))
    assert accounts.find_user_by_email(db, "late@example.org") is None


def test_resent_invitation_replaces_the_old_link(app, client, db, orgs):
    alpha, _ = orgs
    issued = invite(app, db, alpha, "resend@example.org")
    admin = app.test_client()
    sign_in(admin, alpha.admin.email)
    before = mail_snapshot(app)
    response = post_form(
        admin,
        f"/o/alpha/admin/invitations/{issued.invitation.id}/resend",
        token_from="/o/alpha/admin/invitations",
    )
    assert response.status_code == 303
    [body] = new_mail_to(app, before, "resend@example.org")
    new_path = link_path(body, "/auth/invitation/")
    assert new_path != f"/auth/invitation/{issued.token}"
    assert refused(client.get(f"/auth/invitation/{issued.token}"))
    assert client.get(new_path).status_code == 200


def test_existing_member_of_another_org_signs_in_then_joins(app, client, db, orgs):
    alpha, beta = orgs
    path = f"/auth/invitation/{invite(app, db, alpha, beta.carer.email).token}"
    response = client.get(path)
    assert response.status_code == 302
    assert urlsplit(response.location).path == "/auth/sign-in"
    token = csrf_from(client.get(response.location).get_data(as_text=True))
    response = client.post(
        "/auth/sign-in",
        data={"email": beta.carer.email, "password": PASSWORD, "next": path, "csrf_token": token},
    )
    assert response.status_code == 302 and response.location == path
    assert client.get(path).status_code == 200
    joined = post_form(client, path)
    assert joined.status_code == 302 and joined.location == "/o/alpha/"
    assert client.get("/o/alpha/").status_code == 200
    assert client.get("/o/beta/").status_code == 200
    user = db.get(User, beta.carer.id)
    assert {m.tenant_id for m in accounts.active_memberships(db, user)} == {alpha.id, beta.id}


def test_invitation_opened_while_signed_in_as_someone_else_is_forbidden(app, client, db, orgs):
    alpha, beta = orgs
    issued = invite(app, db, alpha, beta.carer.email)
    path = f"/auth/invitation/{issued.token}"
    sign_in(client, beta.teacher.email)
    assert client.get(path).status_code == 403
    assert post_form(client, path, token_from="/profile/").status_code == 403
    assert membership_of(db, alpha, beta.carer) is None
    assert membership_of(db, alpha, beta.teacher) is None
    with tenant_context(alpha.id):
        assert db.get(Invitation, issued.invitation.id).accepted_at is None


# --- 9. password change -------------------------------------------------------------------
def test_password_change_needs_current_password_and_ends_other_sessions(app, client, db, orgs):
    alpha, _ = orgs
    other_device = app.test_client()
    sign_in(other_device, alpha.carer.email)
    sign_in(client, alpha.carer.email)
    old_hash = db.get(User, alpha.carer.id).password_hash
    change = {"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    wrong = post_form(client, "/profile/password", {**change, "current_password": "not mine!"})
    assert wrong.status_code == 400
    assert "Your current password is not correct." in wrong.get_data(as_text=True)
    assert db.get(User, alpha.carer.id).password_hash == old_hash
    assert signed_in(other_device) and signed_in(client)  # nothing changed
    right = post_form(client, "/profile/password", {**change, "current_password": PASSWORD})
    assert right.status_code == 302
    assert signed_in(client)
    assert not signed_in(other_device)
    assert len(live_sessions(db, alpha.carer.id)) == 1
    assert attempt(app.test_client(), alpha.carer.email, NEW_PASSWORD).status_code == 302


# --- 10. headers and cookies --------------------------------------------------------------
def sign_in_page_from_production_app(provisioned, redis_url, instance):
    secure_app = make_test_app(provisioned.app_url, instance, redis_url, SESSION_COOKIE_SECURE=True)
    try:
        return secure_app.test_client().get("/auth/sign-in")
    finally:
        secure_app.extensions["cadence.db"].dispose()


def cookie_attributes(response) -> list[str]:
    [cookie] = response.headers.getlist("Set-Cookie")
    return [part.strip() for part in cookie.split(";")]


def test_html_pages_carry_security_headers_and_an_http_only_cookie(client):
    response = client.get("/auth/sign-in")
    assert response.status_code == 200 and response.mimetype == "text/html"
    csp = response.headers["Content-Security-Policy"]
    for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
        assert directive in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers.get("Referrer-Policy")
    attributes = cookie_attributes(response)
    assert attributes[0].startswith(f"{COOKIE}=") and "HttpOnly" in attributes
    assert "Secure" not in attributes  # only the test app runs over plain HTTP


def test_production_cookie_is_secure_and_host_prefixed(provisioned, redis_url, tmp_path):
    response = sign_in_page_from_production_app(provisioned, redis_url, tmp_path)
    attributes = cookie_attributes(response)
    assert attributes[0].startswith("__Host-")
    assert {"Secure", "HttpOnly", "Path=/"} <= set(attributes)
    assert not any(a.lower().startswith("domain=") for a in attributes)
    assert "max-age" in response.headers["Strict-Transport-Security"]


@pytest.mark.parametrize("production", [False, True])
def test_session_cookie_is_same_site_lax(client, provisioned, redis_url, tmp_path, production):
    response = (
        sign_in_page_from_production_app(provisioned, redis_url, tmp_path)
        if production
        else client.get("/auth/sign-in")
    )
    assert "SameSite=Lax" in cookie_attributes(response)


# --- 11. open redirects -------------------------------------------------------------------
@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "https://evil.example/x",
        "/\\evil.example",
        "///evil.example",
        "javascript:alert(1)",
        "/profile/",
    ],
)
def test_sign_in_redirects_only_to_local_paths(client, orgs, target):
    alpha, _ = orgs
    page = client.get("/auth/sign-in", query_string={"next": target}).get_data(as_text=True)
    assert "evil.example" not in page and "javascript:" not in page
    # Post the target directly too, as a forged form would.
    response = client.post(
        "/auth/sign-in",
        data={
            "email": alpha.carer.email,
            "password": PASSWORD,
            "next": target,
            "csrf_token": csrf_from(page),
        },
    )
    assert response.status_code == 302
    assert response.location == ("/profile/" if target == "/profile/" else "/organisations")


# --- 12. error pages ----------------------------------------------------------------------
def test_unknown_url_gives_a_plain_404_page(client):
    response = client.get("/no/such/page")
    body = response.get_data(as_text=True)
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "Page not found" in body
    assert "Traceback" not in body and "werkzeug" not in body.lower()


def test_wrong_method_gives_405_with_allow_header(client):
    response = client.get("/auth/sign-out")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert "GET is not allowed for this address." in response.get_data(as_text=True)
