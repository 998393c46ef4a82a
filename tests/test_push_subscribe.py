"""Turning Web Push on and off for a browser: the JSON endpoints push.js posts to, the
settings page's push section, the warning when push is chosen but reaches no device, and a
subscription stored through the endpoint receiving a real delivery (an encrypted,
VAPID-signed POST to a local stand-in for the push service)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from routines import deliveries, push_subscriptions
from routines.models import Delivery, PushSubscription
from tasks.channels import push
from tasks.channels.registry import senders
from tenants.context import tenant_context
from tenants.errors import ValidationError
from tenants.organisations import membership_for
from tests.conftest import csrf_token, post_form, sign_in
from tests.tasks.test_channels import Browser, _b64, _verify_vapid, http_server
from tests.test_admin import events, flashes, page_text

ENDPOINT = "https://push.example.net/send/abc123"
SUBSCRIBED = "notifications.push_subscribed"


def path(org, rest: str) -> str:  # type: ignore[no-untyped-def]
    return f"/o/{org.slug}/notifications/{rest}"


def subscription(endpoint: str = ENDPOINT, browser: Browser | None = None) -> dict[str, Any]:
    """What PushSubscription.toJSON() gives."""
    browser = browser or Browser.new()
    return {
        "endpoint": endpoint,
        "expirationTime": None,
        "keys": {"p256dh": browser.p256dh, "auth": _b64(browser.auth)},
    }


def post_json(client, org, rest: str, body: object, *, csrf: bool = True):  # type: ignore[no-untyped-def]
    headers = {"Accept": "application/json"}
    if csrf:
        headers["X-CSRFToken"] = csrf_token(client, path(org, "settings"))
    return client.post(path(org, rest), json=body, headers=headers)


def signed_in(app, email: str):  # type: ignore[no-untyped-def]
    """A browser of its own, signed in as `email`."""
    browser = app.test_client()
    sign_in(browser, email)
    return browser


def rows(db, org) -> list[PushSubscription]:  # type: ignore[no-untyped-def]
    with tenant_context(org.id):
        return list(db.scalars(select(PushSubscription).order_by(PushSubscription.id)))


def member(db, org, user):  # type: ignore[no-untyped-def]
    with tenant_context(org.id):
        return membership_for(db, user)


@pytest.fixture
def vapid(app, monkeypatch) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Web Push configured on the shared app for this test only (monkeypatch restores it)."""
    private, public = push.generate_vapid_keys()
    keys = {
        "VAPID_PRIVATE_KEY": private,
        "VAPID_PUBLIC_KEY": public,
        "VAPID_SUBJECT": "mailto:ops@cadence.example",
    }
    for name, value in keys.items():
        monkeypatch.setitem(app.config, name, value)
    return keys


@pytest.fixture
def no_vapid(app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for name in ("VAPID_PRIVATE_KEY", "VAPID_PUBLIC_KEY", "VAPID_SUBJECT"):
        monkeypatch.setitem(app.config, name, None)


# --- subscribing -----------------------------------------------------------------------------


def test_subscribing_stores_one_row_and_repeating_it_changes_nothing(client, db, orgs, vapid):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    sign_in(client, alpha.carer.email)
    browser = Browser.new()
    first = post_json(client, alpha, "push/subscribe", subscription(browser=browser))
    assert first.status_code == 201
    assert first.get_json() == {"subscribed": True, "created": True, "devices": 1}

    again = post_json(client, alpha, "push/subscribe", subscription(browser=browser))
    assert again.status_code == 200
    assert again.get_json() == {"subscribed": True, "created": False, "devices": 1}

    [row] = rows(db, alpha)
    assert row.membership_id == member(db, alpha, alpha.carer).id
    assert (row.endpoint, row.p256dh, row.auth) == (ENDPOINT, browser.p256dh, _b64(browser.auth))
    assert row.user_agent is not None  # the test client's, shown to tell devices apart
    [event] = events(db, alpha, SUBSCRIBED)
    assert event.actor_id == alpha.carer.id
    # The endpoint with the keys is enough to push to the phone: the trail names the service.
    assert event.detail["push_service"] == "push.example.net"
    assert ENDPOINT not in str(event.detail)

    # The browser made new keys for the same endpoint: the row follows, still one.
    renewed = Browser.new()
    assert (
        post_json(client, alpha, "push/subscribe", subscription(browser=renewed)).status_code == 200
    )
    [row] = rows(db, alpha)
    assert row.p256dh == renewed.p256dh
    assert len(events(db, alpha, "notifications.push_renewed")) == 1
    assert len(events(db, alpha, SUBSCRIBED)) == 1


def test_another_member_on_the_same_browser_has_a_row_of_their_own(app, db, orgs, vapid):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    for user in (alpha.carer, alpha.teacher):
        client = signed_in(app, user.email)
        assert post_json(client, alpha, "push/subscribe", subscription()).status_code == 201
    carer, teacher = member(db, alpha, alpha.carer), member(db, alpha, alpha.teacher)
    assert sorted(r.membership_id for r in rows(db, alpha)) == sorted([carer.id, teacher.id])

    # The teacher (still signed in) turns push off: the carer's row stays.
    response = post_json(client, alpha, "push/unsubscribe", {"endpoint": ENDPOINT})
    assert response.get_json() == {"subscribed": False, "removed": 1, "devices": 0}
    assert [r.membership_id for r in rows(db, alpha)] == [carer.id]


def test_the_oldest_device_is_replaced_past_the_limit(db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    with tenant_context(alpha.id):
        carer = membership_for(db, alpha.carer)
        for n in range(push_subscriptions.MAX_PUSH_DEVICES + 1):
            push_subscriptions.save_push_subscription(
                db,
                carer,
                subscription(f"{ENDPOINT}/{n}"),
                actor=alpha.carer,
                now=now,
                allow_insecure=True,
            )
        kept = [r.endpoint for r in push_subscriptions.push_devices(db, carer.id)]
    assert len(kept) == push_subscriptions.MAX_PUSH_DEVICES
    assert f"{ENDPOINT}/0" not in kept and f"{ENDPOINT}/10" in kept


BROWSER = Browser.new()
GOOD_KEYS = subscription(browser=BROWSER)["keys"]
NOT_ON_CURVE = _b64(b"\x04" + b"\x01" * 64)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("not json at all", None),
        ([ENDPOINT], "subscription"),
        ({"keys": GOOD_KEYS}, "endpoint"),
        ({"endpoint": 42, "keys": GOOD_KEYS}, "endpoint"),
        ({"endpoint": "http://push.example.net/x", "keys": GOOD_KEYS}, "endpoint"),
        ({"endpoint": "javascript:alert(1)", "keys": GOOD_KEYS}, "endpoint"),
        ({"endpoint": "https://user:pw@push.example.net/x", "keys": GOOD_KEYS}, "endpoint"),
        ({"endpoint": "https://push.example.net/a b", "keys": GOOD_KEYS}, "endpoint"),
        ({"endpoint": "https://push.example.net:x/a", "keys": GOOD_KEYS}, "endpoint"),
        ({"endpoint": ENDPOINT + "x" * 1000, "keys": GOOD_KEYS}, "endpoint"),
        ({"endpoint": ENDPOINT}, "keys"),
        ({"endpoint": ENDPOINT, "keys": {"auth": GOOD_KEYS["auth"]}}, "p256dh"),
        ({"endpoint": ENDPOINT, "keys": {**GOOD_KEYS, "p256dh": "abc"}}, "p256dh"),
        ({"endpoint": ENDPOINT, "keys": {**GOOD_KEYS, "p256dh": "a+b/c" * 18}}, "p256dh"),
        ({"endpoint": ENDPOINT, "keys": {**GOOD_KEYS, "p256dh": NOT_ON_CURVE}}, "p256dh"),
        ({"endpoint": ENDPOINT, "keys": {**GOOD_KEYS, "auth": _b64(b"x" * 15)}}, "auth"),
        ({"endpoint": ENDPOINT, "keys": {**GOOD_KEYS, "auth": "x" * 5000}}, "auth"),
    ],
    ids=[
        "not-json",
        "a-list",
        "no-endpoint",
        "endpoint-not-text",
        "plain-http",
        "javascript-url",
        "credentials-in-url",
        "space-in-url",
        "bad-port",
        "endpoint-too-long",
        "no-keys",
        "no-p256dh",
        "p256dh-too-short",
        "p256dh-not-base64url",
        "p256dh-not-on-the-curve",
        "auth-15-bytes",
        "auth-huge",
    ],
)
def test_a_bad_subscription_is_refused_with_a_message_and_nothing_stored(  # type: ignore[no-untyped-def]
    client, db, orgs, vapid, body, field
):
    alpha, _ = orgs
    sign_in(client, alpha.carer.email)
    token = csrf_token(client, path(alpha, "settings"))
    headers = {"X-CSRFToken": token, "Accept": "application/json"}
    if isinstance(body, str):
        response = client.post(path(alpha, "push/subscribe"), data=body, headers=headers)
    else:
        response = client.post(path(alpha, "push/subscribe"), json=body, headers=headers)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["status"] == 400 and error["message"]
    assert error.get("field") == field
    assert rows(db, alpha) == []
    assert events(db, alpha, SUBSCRIBED) == []


def test_push_services_inside_the_network_are_refused_outside_development() -> None:
    keys = subscription()
    for endpoint in (
        "https://127.0.0.1/push",
        "https://localhost:8443/push",
        "https://10.1.2.3/push",
        "https://[::1]/push",
        "https://169.254.169.254/latest",
        "https://push.internal/x",
        "http://127.0.0.1:9000/push",
    ):
        with pytest.raises(ValidationError) as refused:
            push_subscriptions.check_push_subscription({**keys, "endpoint": endpoint})
        assert refused.value.field == "endpoint"
    # A local stand-in for the push service, in development and tests only.
    local = {**keys, "endpoint": "http://127.0.0.1:9000/push"}
    assert push_subscriptions.check_push_subscription(local, allow_insecure=True).endpoint
    # Outside development, only the browsers' own push services.
    fcm = "https://fcm.googleapis.com/fcm/send/abc"
    assert push_subscriptions.check_push_subscription({**keys, "endpoint": fcm}).endpoint
    with pytest.raises(ValidationError):
        push_subscriptions.check_push_subscription({**keys, "endpoint": ENDPOINT})
    assert push_subscriptions.check_push_subscription(
        {**keys, "endpoint": ENDPOINT}, allow_insecure=True
    ).endpoint


def test_subscribing_needs_the_csrf_header_and_membership(app, client, db, orgs, vapid):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    sign_in(client, alpha.carer.email)
    response = post_json(client, alpha, "push/subscribe", subscription(), csrf=False)
    assert response.status_code == 400
    assert "security token" in response.get_json()["error"]["message"]
    assert (
        post_json(client, alpha, "push/unsubscribe", {"endpoint": ENDPOINT}, csrf=False).status_code
        == 400
    )
    assert rows(db, alpha) == []

    # Another organisation's member: not found, as any page of an organisation one is not in.
    client = signed_in(app, beta.carer.email)
    headers = {"X-CSRFToken": csrf_token(client, path(beta, "settings"))}
    response = client.post(path(alpha, "push/subscribe"), json=subscription(), headers=headers)
    assert response.status_code == 404
    assert rows(db, alpha) == [] and rows(db, beta) == []

    response = app.test_client().post(path(alpha, "push/subscribe"), json=subscription())
    assert response.status_code in (302, 400)  # signed out: to sign-in, or refused
    assert rows(db, alpha) == []


def test_unsubscribing_forgets_the_device_and_twice_is_harmless(client, db, orgs, vapid):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    sign_in(client, alpha.carer.email)
    post_json(client, alpha, "push/subscribe", subscription())
    post_json(client, alpha, "push/subscribe", subscription(f"{ENDPOINT}/tablet"))
    response = post_json(client, alpha, "push/unsubscribe", {"endpoint": ENDPOINT})
    assert response.status_code == 200
    assert response.get_json() == {"subscribed": False, "removed": 1, "devices": 1}
    assert [r.endpoint for r in rows(db, alpha)] == [f"{ENDPOINT}/tablet"]
    again = post_json(client, alpha, "push/unsubscribe", {"endpoint": ENDPOINT})
    assert again.status_code == 200 and again.get_json()["removed"] == 0
    [event] = events(db, alpha, "notifications.push_unsubscribed")
    assert event.detail["push_service"] == "push.example.net"

    for bad in ({}, {"endpoint": ""}, {"endpoint": 7}, ["x"]):
        refused = post_json(client, alpha, "push/unsubscribe", bad)
        assert refused.status_code == 400 and refused.get_json()["error"]["message"]
    assert len(rows(db, alpha)) == 1


# --- the settings page -----------------------------------------------------------------------


def test_the_page_offers_push_only_when_the_server_has_vapid_keys(  # type: ignore[no-untyped-def]
    app, client, db, orgs, no_vapid, monkeypatch
):
    alpha, _ = orgs
    sign_in(client, alpha.carer.email)
    page = page_text(client.get(path(alpha, "settings")))
    assert "Push notifications on this device" in page
    assert "Push notifications are not set up on this server" in page
    assert "data-vapid-key" not in page
    assert "Turn on push on this device" not in page
    assert "push.js" not in page
    refused = post_json(client, alpha, "push/subscribe", subscription())
    assert refused.status_code == 409
    assert "not set up" in refused.get_json()["error"]["message"]
    assert rows(db, alpha) == []

    private, public = push.generate_vapid_keys()
    monkeypatch.setitem(app.config, "VAPID_PRIVATE_KEY", private)
    monkeypatch.setitem(app.config, "VAPID_PUBLIC_KEY", public)
    page = page_text(client.get(path(alpha, "settings")))
    assert f'data-vapid-key="{public}"' in page
    assert "Turn on push on this device" in page and ">Turn off<" in page
    assert "/static/push.js" in page
    assert "<strong data-push-count>0</strong>" in page
    assert "not set up on this server" not in page

    # A public key that does not belong to the private key: browsers would subscribe with a
    # key the server cannot sign for, so push is treated as not set up.
    _, other = push.generate_vapid_keys()
    monkeypatch.setitem(app.config, "VAPID_PUBLIC_KEY", other)
    page = page_text(client.get(path(alpha, "settings")))
    assert "data-vapid-key" not in page and "not set up on this server" in page
    # Only the private key: the public one is derived from it.
    monkeypatch.setitem(app.config, "VAPID_PUBLIC_KEY", None)
    assert f'data-vapid-key="{public}"' in page_text(client.get(path(alpha, "settings")))


def test_the_page_counts_the_members_devices_and_lists_only_their_digests(  # type: ignore[no-untyped-def]
    app, client, db, orgs, vapid
):
    alpha, _ = orgs
    teacher = signed_in(app, alpha.teacher.email)
    post_json(teacher, alpha, "push/subscribe", subscription(f"{ENDPOINT}/teacher"))
    sign_in(client, alpha.carer.email)
    post_json(client, alpha, "push/subscribe", subscription())
    post_json(client, alpha, "push/subscribe", subscription(f"{ENDPOINT}/tablet"))
    page = page_text(client.get(path(alpha, "settings")))
    assert "<strong data-push-count>2</strong>" in page
    assert ENDPOINT not in page  # digests only
    digests = page.split('data-devices="', 1)[1].split('"', 1)[0].split()
    assert sorted(digests) == sorted(
        hashlib.sha256(e.encode()).hexdigest() for e in (ENDPOINT, f"{ENDPOINT}/tablet")
    )


SETTINGS = {"channels": ["in_app", "push"], "lead_minutes": "0", "remind_inside_quiet": "y"}


def test_choosing_push_with_no_device_turned_on_warns_but_saves(client, db, orgs, vapid):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    sign_in(client, alpha.carer.email)
    assert post_form(client, path(alpha, "settings"), SETTINGS).status_code == 303
    shown = flashes(page_text(client.get(path(alpha, "settings"))))
    assert shown[0] == ("success", "Your reminder settings are saved.")
    [(category, text)] = shown[1:]
    assert category == "warning"
    assert "no phone or browser has push turned on for you yet" in text

    post_json(client, alpha, "push/subscribe", subscription())
    post_form(client, path(alpha, "settings"), SETTINGS)
    assert flashes(page_text(client.get(path(alpha, "settings")))) == [
        ("success", "Your reminder settings are saved.")
    ]
    # Without push ticked there is nothing to warn about.
    post_json(client, alpha, "push/unsubscribe", {"endpoint": ENDPOINT})
    post_form(client, path(alpha, "settings"), {**SETTINGS, "channels": ["in_app"]})
    assert [c for c, _ in flashes(page_text(client.get(path(alpha, "settings"))))] == ["success"]


def test_choosing_push_on_a_server_without_vapid_keys_warns(client, db, orgs, no_vapid):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    sign_in(client, alpha.carer.email)
    post_form(client, path(alpha, "settings"), SETTINGS)
    shown = flashes(page_text(client.get(path(alpha, "settings"))))
    assert shown[0][0] == "success"
    assert shown[1][0] == "warning" and "not set up on this server" in shown[1][1]


# --- a subscription made through the endpoint receives a real delivery ------------------------


def test_a_subscribed_browser_receives_an_encrypted_signed_push(app, client, db, orgs, vapid):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    now = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    phone = Browser.new()
    sign_in(client, alpha.carer.email)
    with http_server() as service:
        # Tests allow a push service on http://127.0.0.1 (production wants https).
        endpoint = f"{service.base}/push/phone"
        created = post_json(client, alpha, "push/subscribe", subscription(endpoint, phone))
        assert created.status_code == 201
        with tenant_context(alpha.id):
            carer = membership_for(db, alpha.carer)
            row = Delivery(
                kind="digest",
                subject="digest:2026-11-24",
                membership_id=carer.id,
                channel="push",
                status="sending",
                not_before=now,
                payload={"title": "Tomorrow", "body": "07:30 Rocking", "path": "/o/alpha/today"},
            )
            db.add(row)
            db.flush()
            status = deliveries.deliver(
                db,
                alpha.id,
                row.id,
                now=now,
                senders=senders(app.config),
                base_url="https://cadence.example",
            )
        assert status == "sent"
        [request] = service.requests
    assert request.path == "/push/phone"
    assert request.headers["content-encoding"] == "aes128gcm"
    assert phone.decrypt(request.body) == {
        "title": "Tomorrow",
        "body": "07:30 Rocking",
        "url": "https://cadence.example/o/alpha/today",
    }
    claims = _verify_vapid(request.headers["authorization"], vapid["VAPID_PUBLIC_KEY"])
    assert claims["aud"] == service.base
    assert claims["sub"] == "mailto:ops@cadence.example"
