"""Email through a real SMTP server (aiosmtpd on 127.0.0.1): invitations and password resets
arrive with working links, and an unreachable server neither loses the invitation nor
breaks the page."""

from __future__ import annotations

import html
import re
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy import select

from tenants import accounts
from tenants.context import tenant_context
from tenants.models import AuditEvent, Invitation, Membership
from tests import services
from tests.conftest import (
    PASSWORD,
    Org,
    make_org,
    make_test_app,
    post_form,
    rolled_back,
    sign_in,
)

NEW_PASSWORD = "a fresh passphrase 42"


# --- a real SMTP server -------------------------------------------------------------------


@dataclass
class Received:
    """aiosmtpd handler: keeps every envelope the server accepted."""

    envelopes: list = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self, to: str | None = None) -> list[tuple[list[str], EmailMessage]]:
        found = []
        for envelope in self.envelopes:
            message = message_from_bytes(envelope.content, policy=policy.default)
            if to is None or to in envelope.rcpt_tos:
                found.append((list(envelope.rcpt_tos), message))
        return found  # type: ignore[return-value]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, Received]]:
    handler = Received()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port, handler
    finally:
        controller.stop()


# --- an app of our own, on the run's database, inside a rolled-back transaction ----------


@dataclass
class Site:
    app: Flask
    session: object
    org: Org
    instance: Path

    def client(self):  # type: ignore[no-untyped-def]
        return self.app.test_client()


@contextmanager
def site(
    provisioned: services.ProvisionedDatabase,
    redis_url: str,
    db_kind: str,
    instance: Path,
    smtp_url: str,
) -> Iterator[Site]:
    app = make_test_app(provisioned.app_url, instance, redis_url, SMTP_URL=smtp_url)
    try:
        with rolled_back(app) as session:
            # A slug of its own: nothing here depends on what other tests left behind.
            org = make_org(session, f"mail-{uuid.uuid4().hex[:8]}")
            yield Site(app=app, session=session, org=org, instance=instance)
    finally:
        app.extensions["cadence.db"].dispose()


@pytest.fixture
def mail_site(provisioned, redis_url, db_kind, tmp_path, smtp_server):  # type: ignore[no-untyped-def]
    port, received = smtp_server
    with site(
        provisioned, redis_url, db_kind, tmp_path / "instance", f"smtp://127.0.0.1:{port}"
    ) as built:
        yield built, received


@pytest.fixture
def dead_smtp_site(provisioned, redis_url, db_kind, tmp_path):  # type: ignore[no-untyped-def]
    port = free_port()  # bound and closed again: nothing listens there
    with site(
        provisioned, redis_url, db_kind, tmp_path / "instance", f"smtp://127.0.0.1:{port}"
    ) as built:
        yield built


# --- helpers ------------------------------------------------------------------------------


def flashes(response) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    found = re.findall(
        r'<div class="notice notice-(\w+)" role="status">(.*?)</div>',
        response.get_data(as_text=True),
        re.S,
    )
    return [(category, html.unescape(text).strip()) for category, text in found]


def link_in(message: EmailMessage, part: str) -> str:
    match = re.search(rf"https?://\S+{re.escape(part)}\S+", message.get_content())
    assert match, f"no link containing {part} in the email"
    return match.group(0)


def invitations(site: Site) -> list[Invitation]:
    with tenant_context(site.org.id):
        return list(site.session.scalars(select(Invitation)))  # type: ignore[attr-defined]


def invite(site: Site, client, email: str, roles: list[str]):  # type: ignore[no-untyped-def]
    path = f"/o/{site.org.slug}/admin/invitations"
    return post_form(client, path, {"email": email, "roles": roles})


# --- tests --------------------------------------------------------------------------------


def test_invitation_arrives_by_smtp_and_its_link_lets_the_invitee_join(mail_site):  # type: ignore[no-untyped-def]
    built, received = mail_site
    admin = built.client()
    assert sign_in(admin, built.org.admin.email).status_code == 302
    response = invite(built, admin, "Invitee@Example.org", ["teacher"])
    assert response.status_code == 302
    listing = admin.get(response.headers["Location"])
    assert ("success", "Invitation sent to invitee@example.org.") in flashes(listing)

    [(recipients, message)] = received.messages()
    assert recipients == ["invitee@example.org"]
    assert message["To"] == "invitee@example.org"
    assert message["From"] == "Cadence <no-reply@cadence.invalid>"
    assert message["Subject"] == f"You are invited to {built.org.org.name} on Cadence"
    link = link_in(message, "/auth/invitation/")
    assert not (built.instance / "outbox").exists()  # SMTP, not the development outbox

    invitee = built.client()
    opened = invitee.get(urlsplit(link).path)
    assert opened.status_code == 200
    assert f"Join {built.org.org.name}" in opened.get_data(as_text=True)
    joined = post_form(
        invitee,
        urlsplit(link).path,
        {"name": "Ida Invitee", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert joined.status_code == 302
    assert urlsplit(joined.headers["Location"]).path == f"/o/{built.org.slug}/"
    home = invitee.get(f"/o/{built.org.slug}/")
    assert home.status_code == 200
    assert "Teacher" in home.get_data(as_text=True)

    session = built.session
    user = accounts.find_user_by_email(session, "invitee@example.org")  # type: ignore[arg-type]
    assert user is not None and user.name == "Ida Invitee"
    with tenant_context(built.org.id):
        member = session.scalar(select(Membership).where(Membership.user_id == user.id))  # type: ignore[attr-defined]
        assert member is not None and member.is_active
        assert [r.value for r in member.roles] == ["teacher"]
    # The new account signs in with the password it chose.
    assert sign_in(built.client(), "invitee@example.org", NEW_PASSWORD).status_code == 302


def test_password_reset_arrives_by_smtp_with_a_working_link(mail_site):  # type: ignore[no-untyped-def]
    built, received = mail_site
    carer = built.org.carer
    client = built.client()
    response = post_form(client, "/auth/reset", {"email": carer.email})
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/auth/sign-in"

    [(recipients, message)] = received.messages()
    assert recipients == [carer.email]
    assert message["Subject"] == "Reset your Cadence password"
    path = urlsplit(link_in(message, "/auth/reset/")).path
    assert client.get(path).status_code == 200
    changed = post_form(client, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert changed.status_code == 302
    assert urlsplit(changed.headers["Location"]).path == "/auth/sign-in"

    assert sign_in(built.client(), carer.email, PASSWORD).status_code == 400
    assert sign_in(built.client(), carer.email, NEW_PASSWORD).status_code == 302
    assert client.get(path).status_code == 400  # the link worked once

    # An address without an account gets the same answer and no email.
    other = post_form(built.client(), "/auth/reset", {"email": "nobody@example.org"})
    assert other.status_code == 302
    assert len(received.messages()) == 1


def test_unreachable_smtp_keeps_the_invitation_and_tells_the_admin(dead_smtp_site):  # type: ignore[no-untyped-def]
    built = dead_smtp_site
    admin = built.client()
    assert sign_in(admin, built.org.admin.email).status_code == 302
    response = invite(built, admin, "unlucky@example.org", ["carer"])
    assert response.status_code == 302  # not a 500
    listing = admin.get(response.headers["Location"])
    assert listing.status_code == 200
    shown = flashes(listing)
    assert (
        "error",
        "The invitation is saved, but the email could not be sent. Try Resend later.",
    ) in shown
    assert not any(category == "success" for category, _ in shown)
    assert "unlucky@example.org" in listing.get_data(as_text=True)

    [invitation] = invitations(built)
    assert invitation.email == "unlucky@example.org"
    assert invitation.accepted_at is None and invitation.revoked_at is None
    with tenant_context(built.org.id):
        created = built.session.scalars(  # type: ignore[attr-defined]
            select(AuditEvent).where(AuditEvent.action == "invitation.created")
        ).all()
    assert [e.object_id for e in created] == [str(invitation.id)]

    # Resend fails the same way, still with a page and a message.
    resent = post_form(
        admin,
        f"/o/{built.org.slug}/admin/invitations/{invitation.id}/resend",
        token_from=f"/o/{built.org.slug}/admin/invitations",
    )
    assert resent.status_code == 303
    assert (
        "error",
        "The invitation is saved, but the email could not be sent. Try Resend later.",
    ) in (flashes(admin.get(resent.headers["Location"])))
    assert not (built.instance / "outbox").exists()


def test_unreachable_smtp_does_not_break_a_password_reset_request(dead_smtp_site):  # type: ignore[no-untyped-def]
    built = dead_smtp_site
    client = built.client()
    response = post_form(client, "/auth/reset", {"email": built.org.carer.email})
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    assert any("If an account exists for that address" in text for _, text in flashes(page))
