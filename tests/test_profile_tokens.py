"""The profile page's calendar addresses and API tokens: listed, created, regenerated and
revoked by their owner only, with CSRF."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tenants import api_tokens, organisations
from tenants.db import utcnow
from tenants.models import AuditEvent, CalendarFeed
from tests import routine_factories as f
from tests.conftest import csrf_token, post_form, sign_in

PROFILE = "/profile/"
FEED_URL = re.compile(r'value="(http://localhost/feeds/([0-9]+-[0-9a-f]+)\.ics)"')


def _membership(db, org, user):  # type: ignore[no-untyped-def]
    with f.in_org(org):
        return organisations.membership_for(db, user)


def _token(db, org, user, name="Robin's phone"):  # type: ignore[no-untyped-def]
    with f.in_org(org):
        token, secret = api_tokens.create_token(
            db, user, organisations.membership_for(db, user), name=name, now=utcnow()
        )
    db.commit()
    return token, secret


def _feed_url(client) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    html = client.get(PROFILE).get_data(as_text=True)
    match = FEED_URL.search(html)
    assert match, "no calendar address on the profile page"
    return match.group(1), "/feeds/" + match.group(2) + ".ics"


@pytest.fixture
def carer(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    sign_in(client, alpha.carer.email)
    return alpha, beta


def test_profile_lists_feeds_and_tokens(client, db, carer):  # type: ignore[no-untyped-def]
    alpha, _ = carer
    _token(db, alpha, alpha.carer)
    html = client.get(PROFILE).get_data(as_text=True)
    assert "Calendar feeds" in html
    assert "Alpha Services" in html
    assert "Create address" in html
    assert "API tokens and devices" in html
    assert "Robin&#39;s phone" in html
    assert "cad_" in html
    assert "last used" not in html and "never used" in html


def test_creating_regenerating_and_turning_off_an_address(client, db, carer):  # type: ignore[no-untyped-def]
    alpha, _ = carer
    membership = _membership(db, alpha, alpha.carer)
    path = f"/profile/feeds/{membership.id}/regenerate"
    response = post_form(client, path, token_from=PROFILE)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/profile/#calendar-feeds")
    absolute, first = _feed_url(client)
    html = client.get(PROFILE).get_data(as_text=True)
    assert "webcal://localhost" + first in html
    assert "Regenerate address" in html and "Turn off" in html
    assert absolute.endswith(first)
    assert client.get(first).status_code == 200

    assert post_form(client, path, token_from=PROFILE).status_code == 303
    _, second = _feed_url(client)
    assert second != first
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 200

    revoke = f"/profile/feeds/{membership.id}/revoke"
    assert post_form(client, revoke, token_from=PROFILE).status_code == 303
    assert client.get(second).status_code == 404
    assert "Create address" in client.get(PROFILE).get_data(as_text=True)
    # turning off twice is not an error
    assert post_form(client, revoke, token_from=PROFILE).status_code == 303
    with f.in_org(alpha):
        actions = db.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.object_type == "calendar_feed")
            .order_by(AuditEvent.id)
        ).all()
    assert actions[:3] == [
        "calendar_feed.created",
        "calendar_feed.fetched",
        "calendar_feed.regenerated",
    ]
    assert actions[-1] == "calendar_feed.revoked"


def test_a_second_organisations_address_is_made_inside_that_organisation(  # type: ignore[no-untyped-def]
    client, db, carer
):
    alpha, beta = carer
    with f.in_org(beta):
        in_beta = organisations.add_member(db, alpha.carer, ["carer"])
    db.commit()
    html = client.get(PROFILE).get_data(as_text=True)
    assert "Beta Services" in html
    response = post_form(client, f"/profile/feeds/{in_beta.id}/regenerate", token_from=PROFILE)
    assert response.status_code == 303
    _, url = _feed_url(client)
    feed = db.scalar(select(CalendarFeed).where(CalendarFeed.membership_id == in_beta.id))
    assert feed.organisation_id == beta.id
    with f.in_org(beta):
        assert db.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "calendar_feed.created", AuditEvent.object_id == str(feed.id)
            )
        )
    response = client.get(url)
    assert response.status_code == 200
    assert b"Cadence routines (Beta Services)" in response.data


@pytest.mark.parametrize("action", ["regenerate", "revoke"])
def test_someone_elses_membership_is_not_found(client, db, carer, action):  # type: ignore[no-untyped-def]
    alpha, beta = carer
    others = [
        _membership(db, alpha, alpha.teacher),  # same organisation, another person
        _membership(db, beta, beta.carer),  # another organisation
    ]
    for membership in others:
        path = f"/profile/feeds/{membership.id}/{action}"
        assert post_form(client, path, token_from=PROFILE).status_code == 404
    assert (
        post_form(client, f"/profile/feeds/999999/{action}", token_from=PROFILE).status_code == 404
    )
    assert db.scalars(select(CalendarFeed)).all() == []


def test_a_deactivated_membership_is_not_found(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    with f.in_org(beta):
        in_beta = organisations.add_member(db, alpha.carer, ["carer"])
        organisations.deactivate_member(db, in_beta, actor=beta.admin, ip=None)
    db.commit()
    sign_in(client, alpha.carer.email)
    assert "Beta Services" not in client.get(PROFILE).get_data(as_text=True)
    path = f"/profile/feeds/{in_beta.id}/regenerate"
    assert post_form(client, path, token_from=PROFILE).status_code == 404


def test_a_clinician_has_no_calendar_address(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    sign_in(client, alpha.clinician.email)
    html = client.get(PROFILE).get_data(as_text=True)
    assert "Create address" not in html
    membership = _membership(db, alpha, alpha.clinician)
    path = f"/profile/feeds/{membership.id}/regenerate"
    assert post_form(client, path, token_from=PROFILE).status_code == 403


def test_revoking_your_own_token_stops_it_at_once(client, db, carer):  # type: ignore[no-untyped-def]
    alpha, _ = carer
    token, secret = _token(db, alpha, alpha.carer)
    assert api_tokens.authenticate(db, secret, now=utcnow()) is not None
    response = post_form(client, f"/profile/tokens/{token.id}/revoke", token_from=PROFILE)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/profile/#api-tokens")
    assert api_tokens.authenticate(db, secret, now=utcnow()) is None
    html = client.get(PROFILE).get_data(as_text=True)
    assert "revoked" in html
    with f.in_org(alpha):
        assert db.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "api_token.revoked", AuditEvent.object_id == str(token.id)
            )
        )


def test_someone_elses_token_is_not_found(client, db, carer):  # type: ignore[no-untyped-def]
    alpha, beta = carer
    theirs = [_token(db, alpha, alpha.teacher), _token(db, beta, beta.carer)]
    for token, _ in theirs:
        path = f"/profile/tokens/{token.id}/revoke"
        assert post_form(client, path, token_from=PROFILE).status_code == 404
    assert post_form(client, "/profile/tokens/999999/revoke", token_from=PROFILE).status_code == 404
    for _, secret in theirs:
        assert api_tokens.authenticate(db, secret, now=utcnow()) is not None
    html = client.get(PROFILE).get_data(as_text=True)
    assert "Robin&#39;s phone" not in html


def test_the_buttons_need_the_csrf_token(client, db, carer):  # type: ignore[no-untyped-def]
    alpha, _ = carer
    token, secret = _token(db, alpha, alpha.carer)
    membership = _membership(db, alpha, alpha.carer)
    for path in (
        f"/profile/feeds/{membership.id}/regenerate",
        f"/profile/feeds/{membership.id}/revoke",
        f"/profile/tokens/{token.id}/revoke",
    ):
        assert client.post(path).status_code == 400
        assert client.post(path, data={"csrf_token": "forged"}).status_code == 400
    assert db.scalars(select(CalendarFeed)).all() == []
    assert api_tokens.authenticate(db, secret, now=utcnow()) is not None


def test_signed_out_visitors_are_sent_to_sign_in(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    membership = _membership(db, alpha, alpha.carer)
    token = csrf_token(client, "/auth/sign-in")
    response = client.post(f"/profile/feeds/{membership.id}/regenerate", data={"csrf_token": token})
    assert response.status_code == 302
    assert "/auth/sign-in" in response.headers["Location"]
    assert db.scalars(select(CalendarFeed)).all() == []
