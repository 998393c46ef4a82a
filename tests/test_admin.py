"""Organisation administration through the web: invitations, members and roles, settings
and the audit trail; who may reach those pages at all; and the audit rows that signing in
leaves behind."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from tenants import accounts, audit, organisations
from tenants.context import tenant_context
from tenants.models import AuditEvent, Invitation, Membership, Organisation
from tests.conftest import PASSWORD, SECRET, post_form, sign_in

# --- harness ------------------------------------------------------------------------------


# --- reading pages ------------------------------------------------------------------------


def page_text(response) -> str:  # type: ignore[no-untyped-def]
    return response.get_data(as_text=True)


def field_errors(page: str, field_id: str) -> list[str]:
    """The messages shown next to one field (the macro's <ul id="<field>-errors">)."""
    block = re.search(
        rf'<ul class="field-errors" id="{re.escape(field_id)}-errors" role="alert">(.*?)</ul>',
        page,
        re.S,
    )
    if block is None:
        return []
    return [html.unescape(m).strip() for m in re.findall(r"<li>(.*?)</li>", block.group(1), re.S)]


def form_errors(page: str) -> list[str]:
    blocks = re.findall(r'<div class="notice notice-error" role="alert">(.*?)</div>', page, re.S)
    return [html.unescape(p).strip() for b in blocks for p in re.findall(r"<p>(.*?)</p>", b, re.S)]


def flashes(page: str) -> list[tuple[str, str]]:
    found = re.findall(r'<div class="notice notice-(\w+)" role="status">(.*?)</div>', page, re.S)
    return [(category, html.unescape(text).strip()) for category, text in found]


def audit_rows(page: str) -> list[tuple[str, str, str]]:
    """(who, action, detail text) for every event row of an audit page."""
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", page, re.S):
        who = re.search(r'<td data-label="Who">(.*?)</td>', row, re.S)
        action = re.search(r'<td data-label="Action"><code>(.*?)</code></td>', row, re.S)
        detail = re.search(r'<td data-label="Detail" class="detail">(.*?)</td>', row, re.S)
        if who and action and detail:
            rows.append(
                (
                    html.unescape(who.group(1)).strip(),
                    html.unescape(action.group(1)).strip(),
                    html.unescape(re.sub(r"<[^>]+>", " ", detail.group(1))),
                )
            )
    return rows


def checkbox_checked(page: str, value: str) -> bool:
    tag = re.search(rf'<input[^>]*name="roles"[^>]*value="{value}"[^>]*>', page)
    assert tag, f"no roles checkbox for {value}"
    return " checked" in tag.group(0)


def redirect_path(response) -> str:  # type: ignore[no-untyped-def]
    return urlsplit(response.headers["Location"]).path


# --- the outbox ---------------------------------------------------------------------------


class Outbox:
    """The development email channel: one .eml file per message under instance/outbox."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def messages(self, to: str | None = None) -> list[EmailMessage]:
        if not self.directory.exists():
            return []
        found = []
        for path in sorted(self.directory.glob("*.eml")):
            message = message_from_bytes(path.read_bytes(), policy=policy.default)
            if to is None or message["To"] == to:
                found.append(message)
        return found  # type: ignore[return-value]

    @staticmethod
    def body(message: EmailMessage) -> str:
        return message.get_content()

    @classmethod
    def invitation_path(cls, message: EmailMessage) -> str:
        match = re.search(r"https?://\S+/auth/invitation/\S+", cls.body(message))
        assert match, "no invitation link in the email"
        return urlsplit(match.group(0)).path


@pytest.fixture
def outbox(app) -> Outbox:  # type: ignore[no-untyped-def]
    directory = Path(app.config["INSTANCE_PATH"]) / "outbox"
    for path in directory.glob("*.eml"):
        path.unlink()
    return Outbox(directory)


# --- reading the database -----------------------------------------------------------------


def events(db, org, action: str | None = None) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    with tenant_context(org.id):
        query = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        return list(db.scalars(query))


def invitations(db, org) -> list[Invitation]:  # type: ignore[no-untyped-def]
    with tenant_context(org.id):
        return list(db.scalars(select(Invitation).order_by(Invitation.id)))


def membership(db, org, user) -> Membership:  # type: ignore[no-untyped-def]
    with tenant_context(org.id):
        found = db.scalar(select(Membership).where(Membership.user_id == user.id))
    assert found is not None
    return found


def roles_of(db, org, user) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.value for r in membership(db, org, user).roles]


def admin(org, rest: str = "") -> str:  # type: ignore[no-untyped-def]
    return f"/o/{org.slug}/admin/{rest}"


def invite(client: FlaskClient, org, email: str, roles: list[str]):  # type: ignore[no-untyped-def]
    return post_form(client, admin(org, "invitations"), {"email": email, "roles": roles})


@pytest.fixture
def as_admin(client, orgs):  # type: ignore[no-untyped-def]
    """The client signed in as alpha's admin; returns (client, alpha, beta)."""
    alpha, beta = orgs
    assert sign_in(client, alpha.admin.email).status_code == 302
    return client, alpha, beta


# --- invitations --------------------------------------------------------------------------


def test_invitation_is_listed_emailed_and_audited(as_admin, db, outbox, app):  # type: ignore[no-untyped-def]
    client, alpha, _ = as_admin
    form = client.get(admin(alpha, "invitations"))
    assert form.status_code == 200
    for role in ("admin", "clinician", "carer", "teacher"):
        assert not checkbox_checked(page_text(form), role)
    assert "No invitations yet." in page_text(form)

    response = invite(client, alpha, "  New.Teacher@Example.ORG ", ["teacher", "carer"])
    assert response.status_code == 302
    assert redirect_path(response) == admin(alpha, "invitations")

    listing = page_text(client.get(admin(alpha, "invitations")))
    assert ("success", "Invitation sent to new.teacher@example.org.") in flashes(listing)
    row = re.search(
        r"<tr>\s*<td data-label=\"Email\">new.teacher@example.org</td>(.*?)</tr>", listing, re.S
    )
    assert row, "the invitation is not listed"
    assert "Carer, Teacher" in row.group(1)
    assert "badge-pending" in row.group(1)

    [invitation] = invitations(db, alpha)
    assert invitation.email == "new.teacher@example.org"
    assert invitation.roles == ["carer", "teacher"]
    assert invitation.send_count == 1
    assert invitation.invited_by_id == alpha.admin.id
    assert invitation.status(datetime.now(UTC)) == "pending"

    [message] = outbox.messages()
    assert outbox.directory == Path(app.config["INSTANCE_PATH"]) / "outbox"
    assert message["To"] == "new.teacher@example.org"
    assert message["Subject"] == "You are invited to Alpha Services on Cadence"
    assert "alpha admin has invited you to join Alpha Services" in outbox.body(message)
    assert "Carer, Teacher" in outbox.body(message)

    [created] = events(db, alpha, "invitation.created")
    assert created.actor_id == alpha.admin.id
    assert created.actor_email == alpha.admin.email
    assert created.object_type == "invitation"
    assert created.object_id == str(invitation.id)
    assert created.ip_address == "127.0.0.1"
    assert created.detail == {"email": "new.teacher@example.org", "roles": ["carer", "teacher"]}

    # The emailed link opens the invitation for someone who is not signed in.
    stranger = client.application.test_client()
    opened = stranger.get(outbox.invitation_path(message))
    assert opened.status_code == 200
    assert "Join Alpha Services" in page_text(opened)
    assert "new.teacher@example.org" in page_text(opened)


def test_following_the_emailed_link_creates_the_account(as_admin, db, outbox):  # type: ignore[no-untyped-def]
    client, alpha, _ = as_admin
    assert invite(client, alpha, "newcomer@example.org", ["clinician"]).status_code == 302
    link = outbox.invitation_path(outbox.messages("newcomer@example.org")[0])

    newcomer = client.application.test_client()
    joined = post_form(
        newcomer,
        link,
        {
            "name": "Nia Newcomer",
            "password": "a new long password",
            "confirm": "a new long password",
        },
    )
    assert joined.status_code == 302
    assert redirect_path(joined) == f"/o/{alpha.slug}/"
    home = newcomer.get(f"/o/{alpha.slug}/")
    assert home.status_code == 200
    assert ("success", "Welcome to Alpha Services.") in flashes(page_text(home))

    [invitation] = invitations(db, alpha)
    assert invitation.status(datetime.now(UTC)) == "accepted"
    user = accounts.find_user_by_email(db, "newcomer@example.org")
    assert user is not None and user.name == "Nia Newcomer"
    assert invitation.accepted_by_id == user.id
    member = membership(db, alpha, user)
    assert member.is_active and [r.value for r in member.roles] == ["clinician"]
    assert [e.actor_email for e in events(db, alpha, "invitation.accepted")] == [
        "newcomer@example.org"
    ]
    # A used link cannot be used again.
    again = client.application.test_client().get(link)
    assert again.status_code == 400
    assert "This link cannot be used" in page_text(again)


def test_a_member_of_another_organisation_can_be_invited(as_admin, db, outbox):  # type: ignore[no-untyped-def]
    client, alpha, beta = as_admin
    assert invite(client, alpha, beta.carer.email, ["carer"]).status_code == 302
    assert [i.email for i in invitations(db, alpha)] == [beta.carer.email]
    assert invitations(db, beta) == []


@pytest.mark.parametrize(
    ("email", "roles", "field", "message"),
    [
        ("", ["teacher"], "email", "Enter an email address."),
        ("   ", ["teacher"], "email", "Enter an email address."),
        ("not-an-email", ["teacher"], "email", "That is not a valid email address"),
        ("someone@", ["teacher"], "email", "That is not a valid email address"),
        ("someone@example.org", [], "roles", "Choose at least one role."),
        (
            "someone@example.org",
            ["superuser"],
            "roles",
            "'superuser' is not a valid choice for this field.",
        ),
        ("someone@example.org", ["teacher", "owner"], "roles", "'owner'"),
        (
            "CARER@Alpha.Example",
            ["teacher"],
            "email",
            "This person is already a member of the organisation.",
        ),
    ],
    ids=[
        "empty",
        "blank",
        "invalid",
        "no-domain",
        "no-role",
        "unknown-role",
        "one-unknown-role",
        "already-member",
    ],
)
def test_bad_invitation_is_refused_next_to_the_field(  # type: ignore[no-untyped-def]
    as_admin, db, outbox, email, roles, field, message
):
    client, alpha, _ = as_admin
    response = invite(client, alpha, email, roles)
    assert response.status_code == 400
    page = page_text(response)
    shown = field_errors(page, field)
    assert any(message in m for m in shown), shown
    other = "roles" if field == "email" else "email"
    assert field_errors(page, other) == []
    assert invitations(db, alpha) == []
    assert outbox.messages() == []
    assert events(db, alpha, "invitation.created") == []


def test_a_second_pending_invitation_for_the_same_address_is_refused(as_admin, db, outbox):  # type: ignore[no-untyped-def]
    client, alpha, _ = as_admin
    assert invite(client, alpha, "twice@example.org", ["carer"]).status_code == 302
    response = invite(client, alpha, "Twice@Example.org", ["teacher"])
    assert response.status_code == 400
    assert field_errors(page_text(response), "email") == [
        "There is already a pending invitation for this address; resend it instead."
    ]
    assert [(i.email, i.roles) for i in invitations(db, alpha)] == [
        ("twice@example.org", ["carer"])
    ]
    assert len(outbox.messages()) == 1
    assert len(events(db, alpha, "invitation.created")) == 1


def test_resend_sends_a_new_link_and_the_old_one_stops_working(as_admin, db, outbox):  # type: ignore[no-untyped-def]
    client, alpha, _ = as_admin
    assert invite(client, alpha, "again@example.org", ["teacher"]).status_code == 302
    [invitation] = invitations(db, alpha)
    old_link = outbox.invitation_path(outbox.messages("again@example.org")[0])

    response = post_form(
        client,
        admin(alpha, f"invitations/{invitation.id}/resend"),
        token_from=admin(alpha, "invitations"),
    )
    assert response.status_code == 303
    listing = page_text(client.get(admin(alpha, "invitations")))
    assert (
        "success",
        "Invitation to again@example.org sent again; earlier links no longer work.",
    ) in flashes(listing)
    assert "(2×)" in listing

    [invitation] = invitations(db, alpha)
    assert invitation.send_count == 2
    first, second = outbox.messages("again@example.org")
    new_link = outbox.invitation_path(second)
    assert new_link != old_link

    anonymous = client.application.test_client()
    refused = anonymous.get(old_link)
    assert refused.status_code == 400
    assert "This link cannot be used" in page_text(refused)
    assert anonymous.get(new_link).status_code == 200

    [resent] = events(db, alpha, "invitation.resent")
    assert resent.object_id == str(invitation.id)
    assert resent.actor_email == alpha.admin.email
    assert resent.detail == {"email": "again@example.org"}


def test_revoke_withdraws_the_invitation(as_admin, db, outbox):  # type: ignore[no-untyped-def]
    client, alpha, _ = as_admin
    assert invite(client, alpha, "withdrawn@example.org", ["carer"]).status_code == 302
    [invitation] = invitations(db, alpha)
    link = outbox.invitation_path(outbox.messages()[0])

    response = post_form(
        client,
        admin(alpha, f"invitations/{invitation.id}/revoke"),
        token_from=admin(alpha, "invitations"),
    )
    assert response.status_code == 303
    listing = page_text(client.get(admin(alpha, "invitations")))
    assert ("success", "Invitation to withdrawn@example.org withdrawn.") in flashes(listing)
    assert "badge-revoked" in listing
    assert invitations(db, alpha)[0].revoked_at is not None
    assert client.application.test_client().get(link).status_code == 400
    [revoked] = events(db, alpha, "invitation.revoked")
    assert revoked.object_id == str(invitation.id)

    # A closed invitation can be neither revoked nor resent again ...
    for action, message in (
        ("revoke", "This invitation is no longer open."),
        ("resend", "Only a pending or expired invitation can be resent."),
    ):
        response = post_form(
            client,
            admin(alpha, f"invitations/{invitation.id}/{action}"),
            token_from=admin(alpha, "invitations"),
        )
        assert response.status_code == 303
        assert ("error", message) in flashes(page_text(client.get(admin(alpha, "invitations"))))
    assert invitations(db, alpha)[0].send_count == 1
    assert len(outbox.messages()) == 1
    # ... but the address can be invited afresh.
    assert invite(client, alpha, "withdrawn@example.org", ["carer"]).status_code == 302
    assert len(invitations(db, alpha)) == 2


def test_invitation_buttons_need_the_csrf_token(as_admin, db):  # type: ignore[no-untyped-def]
    client, alpha, _ = as_admin
    assert invite(client, alpha, "token@example.org", ["carer"]).status_code == 302
    [invitation] = invitations(db, alpha)
    response = client.post(admin(alpha, f"invitations/{invitation.id}/revoke"))
    assert response.status_code == 400
    assert invitations(db, alpha)[0].revoked_at is None


# --- members and roles --------------------------------------------------------------------


def test_changing_roles_is_saved_and_audited_with_before_and_after(as_admin, db):  # type: ignore[no-untyped-def]
    client, alpha, _ = as_admin
    member_id = membership(db, alpha, alpha.clinician).id
    form = client.get(admin(alpha, f"members/{member_id}"))
    assert form.status_code == 200
    assert checkbox_checked(page_text(form), "clinician")
    assert not checkbox_checked(page_text(form), "teacher")

    response = post_form(
        client, admin(alpha, f"members/{member_id}"), {"roles": ["teacher", "clinician"]}
    )
    assert response.status_code == 302
    assert redirect_path(response) == admin(alpha, "members")
    members = page_text(client.get(admin(alpha, "members")))
    assert ("success", "Roles of alpha clinician saved.") in flashes(members)
    assert "Clinician, Teacher" in members
    assert roles_of(db, alpha, alpha.clinician) == ["clinician", "teacher"]

    [changed] = events(db, alpha, "member.roles_changed")
    assert changed.actor_email == alpha.admin.email
    assert changed.object_type == "membership"
    assert changed.object_id == str(member_id)
    assert changed.detail == {
        "email": alpha.clinician.email,
        "before": ["clinician"],
        "after": ["clinician", "teacher"],
    }

    # Saving the same roles again changes nothing and records nothing.
    assert (
        post_form(
            client, admin(alpha, f"members/{member_id}"), {"roles": ["clinician", "teacher"]}
        ).status_code
        == 302
    )
    assert len(events(db, alpha, "member.roles_changed")) == 1

    for roles, message in (
        ([], "Choose at least one role."),
        (["wizard"], "'wizard' is not a valid choice for this field."),
    ):
        refused = post_form(client, admin(alpha, f"members/{member_id}"), {"roles": roles})
        assert refused.status_code == 400
        assert field_errors(page_text(refused), "roles") == [message]
    assert roles_of(db, alpha, alpha.clinician) == ["clinician", "teacher"]


def test_the_last_admin_keeps_the_admin_role(as_admin, db):  # type: ignore[no-untyped-def]
    client, alpha, _ = as_admin
    own = membership(db, alpha, alpha.admin).id
    response = post_form(client, admin(alpha, f"members/{own}"), {"roles": ["clinician"]})
    assert response.status_code == 400
    assert field_errors(page_text(response), "roles") == [
        "An organisation needs at least one active admin."
    ]
    assert roles_of(db, alpha, alpha.admin) == ["admin"]
    assert events(db, alpha, "member.roles_changed") == []

    # With a second admin, the first may step down, and then loses the admin pages.
    carer = membership(db, alpha, alpha.carer).id
    assert (
        post_form(
            client, admin(alpha, f"members/{carer}"), {"roles": ["admin", "carer"]}
        ).status_code
        == 302
    )
    assert (
        post_form(client, admin(alpha, f"members/{own}"), {"roles": ["clinician"]}).status_code
        == 302
    )
    assert roles_of(db, alpha, alpha.admin) == ["clinician"]
    assert client.get(admin(alpha, "members")).status_code == 403


def test_deactivate_and_reactivate_a_member(as_admin, db, app):  # type: ignore[no-untyped-def]
    client, alpha, _ = as_admin
    clinician = app.test_client()
    assert sign_in(clinician, alpha.clinician.email).status_code == 302
    assert clinician.get(f"/o/{alpha.slug}/").status_code == 200
    member_id = membership(db, alpha, alpha.clinician).id

    response = post_form(
        client, admin(alpha, f"members/{member_id}/deactivate"), token_from=admin(alpha, "members")
    )
    assert response.status_code == 303
    assert redirect_path(response) == admin(alpha, "members")
    members = page_text(client.get(admin(alpha, "members")))
    assert ("success", "alpha clinician is deactivated and has been signed out.") in flashes(
        members
    )
    assert "Deactivated" in members
    row = membership(db, alpha, alpha.clinician)
    assert row.is_active is False and row.deactivated_at is not None
    [deactivated] = events(db, alpha, "member.deactivated")
    assert deactivated.object_id == str(member_id)
    assert deactivated.actor_email == alpha.admin.email
    assert deactivated.detail["email"] == alpha.clinician.email
    assert deactivated.detail["sessions_ended"] >= 1

    # The clinician's open session has ended; signing in again does not reach alpha.
    ended = clinician.get(f"/o/{alpha.slug}/")
    assert ended.status_code == 302
    assert redirect_path(ended) == "/auth/sign-in"
    assert sign_in(clinician, alpha.clinician.email).status_code == 302
    assert clinician.get(f"/o/{alpha.slug}/").status_code == 404

    twice = post_form(
        client, admin(alpha, f"members/{member_id}/deactivate"), token_from=admin(alpha, "members")
    )
    assert twice.status_code == 303
    assert redirect_path(twice) == admin(alpha, f"members/{member_id}")
    assert ("error", "This member is already deactivated.") in flashes(
        page_text(client.get(admin(alpha, f"members/{member_id}")))
    )
    assert len(events(db, alpha, "member.deactivated")) == 1

    response = post_form(
        client, admin(alpha, f"members/{member_id}/reactivate"), token_from=admin(alpha, "members")
    )
    assert response.status_code == 303
    assert ("success", "alpha clinician is active again.") in flashes(
        page_text(client.get(admin(alpha, "members")))
    )
    assert membership(db, alpha, alpha.clinician).is_active is True
    [reactivated] = events(db, alpha, "member.reactivated")
    assert reactivated.object_id == str(member_id)
    assert reactivated.actor_email == alpha.admin.email
    assert clinician.get(f"/o/{alpha.slug}/").status_code == 200


def test_the_last_admin_cannot_be_deactivated(as_admin, db):  # type: ignore[no-untyped-def]
    client, alpha, _ = as_admin
    own = membership(db, alpha, alpha.admin).id
    response = post_form(
        client, admin(alpha, f"members/{own}/deactivate"), token_from=admin(alpha, "members")
    )
    assert response.status_code == 303
    assert redirect_path(response) == admin(alpha, f"members/{own}")
    page = page_text(client.get(admin(alpha, f"members/{own}")))
    assert ("error", "You cannot deactivate the organisation's last active admin.") in flashes(page)
    assert membership(db, alpha, alpha.admin).is_active is True
    assert events(db, alpha, "member.deactivated") == []
    assert client.get(admin(alpha, "members")).status_code == 200


# --- organisation settings ----------------------------------------------------------------


BANDS = {"map_red_below": "60", "map_green_from": "85"}


def org_row(db, org) -> Organisation:  # type: ignore[no-untyped-def]
    found = db.scalar(select(Organisation).where(Organisation.id == org.id))
    db.refresh(found)
    return found


def test_organisation_settings_are_saved_and_audited(as_admin, db):  # type: ignore[no-untyped-def]
    client, alpha, _ = as_admin
    form = page_text(client.get(admin(alpha, "settings")))
    assert 'value="Alpha Services"' in form
    assert re.search(r'<option selected value="Europe/London">', form)

    response = post_form(
        client,
        admin(alpha, "settings"),
        {"name": "  Alpha   Family Services ", "time_zone": "America/New_York", **BANDS},
    )
    assert response.status_code == 302
    page = page_text(client.get(admin(alpha, "settings")))
    assert ("success", "Organisation settings saved.") in flashes(page)
    assert 'value="Alpha Family Services"' in page
    org = org_row(db, alpha)
    assert (org.name, org.time_zone) == ("Alpha Family Services", "America/New_York")
    [changed] = events(db, alpha, "organisation.settings_changed")
    bands = {"map_red_below": 60.0, "map_green_from": 85.0}
    assert changed.detail == {
        "before": {"name": "Alpha Services", "time_zone": "Europe/London", **bands},
        "after": {"name": "Alpha Family Services", "time_zone": "America/New_York", **bands},
    }


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "Renamed", "time_zone": "Mars/Base", **BANDS}, "time_zone"),
        ({"name": "Renamed", "time_zone": "", **BANDS}, "time_zone"),
        ({"name": "   ", "time_zone": "Europe/Paris", **BANDS}, "name"),
        (
            {
                "name": "Renamed",
                "time_zone": "Europe/Paris",
                "map_red_below": "85",
                "map_green_from": "85",
            },
            "map_green_from",
        ),
        (
            {
                "name": "Renamed",
                "time_zone": "Europe/Paris",
                "map_red_below": "0",
                "map_green_from": "85",
            },
            "map_red_below",
        ),
        (
            {
                "name": "Renamed",
                "time_zone": "Europe/Paris",
                "map_red_below": "60",
                "map_green_from": "101",
            },
            "map_green_from",
        ),
        (
            {
                "name": "Renamed",
                "time_zone": "Europe/Paris",
                "map_red_below": "sixty",
                "map_green_from": "85",
            },
            "map_red_below",
        ),
        ({"name": "Renamed", "time_zone": "Europe/Paris"}, "map_red_below"),
    ],
    ids=[
        "unknown-zone",
        "no-zone",
        "blank-name",
        "no-yellow-band",
        "red-zero",
        "green-over-100",
        "not-a-number",
        "missing-thresholds",
    ],
)
def test_invalid_settings_are_refused_and_nothing_changes(as_admin, db, data, field):  # type: ignore[no-untyped-def]
    client, alpha, _ = as_admin
    response = post_form(client, admin(alpha, "settings"), data)
    assert response.status_code == 400
    assert field_errors(page_text(response), field), "no message next to the field"
    org = org_row(db, alpha)
    assert (org.name, org.time_zone) == ("Alpha Services", "Europe/London")
    assert (org.map_red_below, org.map_green_from) == (60.0, 85.0)
    assert events(db, alpha, "organisation.settings_changed") == []


def test_map_thresholds_are_organisation_settings(as_admin, db):  # type: ignore[no-untyped-def]
    client, alpha, _ = as_admin
    response = post_form(
        client,
        admin(alpha, "settings"),
        {
            "name": "Alpha Services",
            "time_zone": "Europe/London",
            "map_red_below": "70",
            "map_green_from": "92.5",
        },
    )
    assert response.status_code == 302
    org = org_row(db, alpha)
    assert (org.map_red_below, org.map_green_from) == (70.0, 92.5)
    [changed] = events(db, alpha, "organisation.settings_changed")
    assert changed.detail["after"]["map_green_from"] == 92.5


# --- the audit trail ----------------------------------------------------------------------


def record_many(db, org, count: int, action: str = "test.bulk") -> None:  # type: ignore[no-untyped-def]
    with tenant_context(org.id):
        for n in range(count):
            audit.record(db, action, actor_email=f"bulk{n}@{org.slug}.example", seq=f"seq-{n:03d}")
    db.commit()


def test_audit_trail_is_paged(as_admin, db):  # type: ignore[no-untyped-def]
    client, alpha, _ = as_admin
    record_many(db, alpha, 57)
    total = len(events(db, alpha))
    assert total > 57  # the bulk rows and the admin's sign-in

    first = page_text(client.get(admin(alpha, "audit")))
    assert f"{total} events" in first
    assert "Page 1 of 2" in first
    assert 'rel="next"' in first and 'rel="prev"' not in first
    rows_1 = audit_rows(first)
    assert len(rows_1) == 50
    assert "seq-056" in rows_1[0][2]  # newest first

    second_response = client.get(admin(alpha, "audit?page=2"))
    assert second_response.status_code == 200
    second = page_text(second_response)
    assert "Page 2 of 2" in second
    assert 'rel="prev"' in second and 'rel="next"' not in second
    rows_2 = audit_rows(second)
    assert len(rows_2) == total - 50

    seqs = [re.search(r"seq-\d{3}", d).group(0) for _, a, d in rows_1 + rows_2 if a == "test.bulk"]  # type: ignore[union-attr]
    assert sorted(seqs) == [f"seq-{n:03d}" for n in range(57)]
    assert seqs[0] == "seq-056" and seqs[-1] == "seq-000"
    assert rows_2[-1][1] == "auth.sign_in"  # the admin signed in before the bulk rows

    beyond = client.get(admin(alpha, "audit?page=3"))
    assert beyond.status_code == 200
    assert audit_rows(page_text(beyond)) == []


def test_audit_paging_keeps_the_filters(as_admin, db):  # type: ignore[no-untyped-def]
    client, alpha, _ = as_admin
    record_many(db, alpha, 53, action="test.paged")
    first = page_text(client.get(admin(alpha, "audit?action=test.paged")))
    assert "53 events" in first
    link = re.search(r'<a href="([^"]+)" rel="next">', first)
    assert link
    target = html.unescape(link.group(1))
    assert "action=test.paged" in target and "page=2" in target
    rows = audit_rows(page_text(client.get(target)))
    assert len(rows) == 3
    assert {a for _, a, _ in rows} == {"test.paged"}


def test_audit_trail_filters_by_action_and_person(as_admin, db):  # type: ignore[no-untyped-def]
    client, alpha, _ = as_admin
    with tenant_context(alpha.id):
        audit.record(db, "record.viewed", actor=alpha.clinician, object_type="plan", object_id=7)
        audit.record(db, "record.viewed", actor=alpha.carer, object_type="plan", object_id=7)
        audit.record(db, "plan.updated", actor=alpha.clinician, object_type="plan", object_id=7)
    db.commit()

    page = page_text(client.get(admin(alpha, "audit")))
    for action in ("auth.sign_in", "plan.updated", "record.viewed"):
        assert f'<option value="{action}">{action}</option>' in page

    by_action = audit_rows(page_text(client.get(admin(alpha, "audit?action=record.viewed"))))
    assert sorted(w for w, _, _ in by_action) == [alpha.carer.email, alpha.clinician.email]
    assert {a for _, a, _ in by_action} == {"record.viewed"}

    by_person = audit_rows(page_text(client.get(admin(alpha, "audit?actor=CLINICIAN@alpha"))))
    assert sorted(a for _, a, _ in by_person) == ["plan.updated", "record.viewed"]
    assert {w for w, _, _ in by_person} == {alpha.clinician.email}

    both = audit_rows(
        page_text(client.get(admin(alpha, "audit?action=record.viewed&actor=%20carer%20")))
    )
    assert [(w, a) for w, a, _ in both] == [(alpha.carer.email, "record.viewed")]

    # The person filter is a plain substring: LIKE wildcards in it match only themselves.
    for wildcard in ("%", "_", "clin_cian"):
        response = client.get(admin(alpha, "audit"), query_string={"actor": wildcard})
        assert response.status_code == 200
        assert audit_rows(page_text(response)) == []
    nothing = page_text(client.get(admin(alpha, "audit?actor=nobody")))
    assert "No events match." in nothing and "0 events" in nothing


def test_audit_trail_filters_by_date_in_the_organisation_time_zone(as_admin, db):  # type: ignore[no-untyped-def]
    client, alpha, _ = as_admin
    with tenant_context(alpha.id):
        # 15 January 2020 at noon, and 30 June 2020 at 23:30 UTC, which is already
        # 1 July in London (BST, UTC+1), the organisation's time zone.
        db.add(
            AuditEvent(
                action="test.winter",
                occurred_at=datetime(2020, 1, 15, 12, tzinfo=UTC),
                actor_email="old@alpha.example",
                detail={},
            )
        )
        db.add(
            AuditEvent(
                action="test.summer",
                occurred_at=datetime(2020, 6, 30, 23, 30, tzinfo=UTC),
                actor_email="old@alpha.example",
                detail={},
            )
        )
        db.flush()
    db.commit()

    def actions(query: str) -> list[str]:
        response = client.get(admin(alpha, f"audit?{query}"))
        assert response.status_code == 200, query
        return sorted(a for _, a, _ in audit_rows(page_text(response)) if a.startswith("test."))

    assert actions("") == ["test.summer", "test.winter"]
    assert actions("since=2020-01-15&until=2020-01-15") == ["test.winter"]
    assert actions("since=2020-01-16&until=2020-06-30") == []
    assert actions("since=2020-07-01&until=2020-07-01") == ["test.summer"]
    assert actions("until=2020-06-30") == ["test.winter"]
    assert actions("since=2020-07-01") == ["test.summer"]
    assert actions("since=2020-01-01&until=2020-12-31") == ["test.summer", "test.winter"]
    # Only today's sign-in is newer than 2021.
    recent = audit_rows(page_text(client.get(admin(alpha, "audit?since=2021-01-01"))))
    assert [a for _, a, _ in recent] == ["auth.sign_in"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("page=0", "Page must be a whole number of 1 or more."),
        ("page=abc", "Page must be a whole number of 1 or more."),
        ("page=-1", "Page must be a whole number of 1 or more."),
        ("page=1.5", "Page must be a whole number of 1 or more."),
        ("page=", "Page must be a whole number of 1 or more."),
        ("since=2026-13-45", "From must be a date like 2026-03-31."),
        ("until=2026-13-45", "To must be a date like 2026-03-31."),
        ("since=yesterday", "From must be a date like 2026-03-31."),
        ("since=2026-03-02&until=2026-03-01", "The To date must not be before the From date."),
    ],
)
def test_bad_audit_parameters_are_refused_with_a_message(as_admin, query, message):  # type: ignore[no-untyped-def]
    client, alpha, _ = as_admin
    response = client.get(admin(alpha, f"audit?{query}"))
    assert response.status_code == 400
    page = page_text(response)
    assert message in form_errors(page)
    assert audit_rows(page) == []


def test_unknown_audit_action_filter_is_refused(as_admin):  # type: ignore[no-untyped-def]
    client, alpha, _ = as_admin
    response = client.get(admin(alpha, "audit?action=no.such.action"))
    assert response.status_code == 400
    assert field_errors(page_text(response), "action")


def test_audit_page_number_in_superscript_is_refused(as_admin):  # type: ignore[no-untyped-def]
    client, alpha, _ = as_admin
    response = client.get(admin(alpha, "audit"), query_string={"page": "²"})
    assert response.status_code == 400
    assert "Page must be a whole number of 1 or more." in form_errors(page_text(response))


def test_audit_date_at_the_end_of_the_calendar_does_not_crash(as_admin):  # type: ignore[no-untyped-def]
    client, alpha, _ = as_admin
    response = client.get(admin(alpha, "audit?until=9999-12-31"))
    assert response.status_code in (200, 400)


def test_one_organisations_audit_events_never_show_on_anothers(client, orgs, db, outbox):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    assert sign_in(client, alpha.admin.email).status_code == 302
    assert invite(client, alpha, "secret.invitee@example.org", ["carer"]).status_code == 302
    record_many(db, alpha, 3, action="alpha.only")
    assert events(db, alpha, "invitation.created")

    beta_admin = client.application.test_client()
    assert sign_in(beta_admin, beta.admin.email).status_code == 302
    page = page_text(beta_admin.get(admin(beta, "audit")))
    beta_events = events(db, beta)
    assert f"{len(beta_events)} event" in page
    rows = audit_rows(page)
    assert len(rows) == len(beta_events) >= 1
    assert {w for w, _, _ in rows} == {beta.admin.email}
    for leak in ("alpha.example", "secret.invitee", "invitation.created", "alpha.only"):
        assert leak not in page
    # Nor through the filters, nor on a later page.
    for query in ("actor=alpha", "actor=secret", "page=2"):
        response = beta_admin.get(admin(beta, f"audit?{query}"))
        assert response.status_code == 200
        assert audit_rows(page_text(response)) == []
    assert beta_admin.get(admin(beta, "audit?action=invitation.created")).status_code == 400
    # And alpha's admin cannot open beta's trail at all.
    assert client.get(admin(beta, "audit")).status_code == 404


# --- who may use the admin pages ----------------------------------------------------------


def admin_targets(db, org) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    """Every admin page (GET) and every admin action (POST) of `org`."""
    member_id = membership(db, org, org.carer).id
    with tenant_context(org.id):
        issued = organisations.invite(
            db,
            secret_key=SECRET,
            actor=org.admin,
            email="pending@example.org",
            roles=["carer"],
            ip=None,
        )
    db.commit()
    invitation_id = issued.invitation.id
    pages = [
        admin(org),
        admin(org, "members"),
        admin(org, f"members/{member_id}"),
        admin(org, "invitations"),
        admin(org, "settings"),
        admin(org, "audit"),
        admin(org, "audit?page=2&action=auth.sign_in"),
    ]
    actions = [
        admin(org, f"members/{member_id}"),
        admin(org, f"members/{member_id}/deactivate"),
        admin(org, f"members/{member_id}/reactivate"),
        admin(org, "invitations"),
        admin(org, f"invitations/{invitation_id}/resend"),
        admin(org, f"invitations/{invitation_id}/revoke"),
        admin(org, "settings"),
    ]
    return pages, actions


ACTION_DATA = {
    "roles": ["admin"],
    "email": "sneaky@example.org",
    "name": "Taken over",
    "time_zone": "Europe/Paris",
}


def assert_nothing_changed(db, org) -> None:  # type: ignore[no-untyped-def]
    assert roles_of(db, org, org.carer) == ["carer"]
    assert membership(db, org, org.carer).is_active is True
    [pending] = invitations(db, org)
    assert (pending.email, pending.send_count, pending.revoked_at) == (
        "pending@example.org",
        1,
        None,
    )
    organisation = org_row(db, org)
    assert (organisation.name, organisation.time_zone) == ("Alpha Services", "Europe/London")


@pytest.mark.parametrize("role", ["clinician", "carer", "teacher"])
def test_other_roles_get_403_on_every_admin_page(client, orgs, db, role):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    pages, actions = admin_targets(db, alpha)
    assert sign_in(client, getattr(alpha, role).email).status_code == 302
    assert client.get(f"/o/{alpha.slug}/").status_code == 200
    for path in pages:
        response = client.get(path)
        assert response.status_code == 403, path
        assert "You need the organisation admin role for this page." in page_text(response)
    for path in actions:
        response = post_form(client, path, ACTION_DATA, token_from="/profile/")
        assert response.status_code == 403, path
    assert_nothing_changed(db, alpha)
    # The page shows no way into the admin pages either.
    assert f'href="{admin(alpha, "members")}"' not in page_text(client.get(f"/o/{alpha.slug}/"))


def test_anonymous_visitors_are_sent_to_sign_in(client, orgs, db):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    pages, actions = admin_targets(db, alpha)
    for path in pages:
        response = client.get(path)
        assert response.status_code == 302, path
        assert redirect_path(response) == "/auth/sign-in"
        assert "next=" in response.headers["Location"]
    for path in actions:
        response = post_form(client, path, ACTION_DATA, token_from="/auth/sign-in")
        assert response.status_code == 302, path
        assert redirect_path(response) == "/auth/sign-in"
    assert_nothing_changed(db, alpha)


def test_an_admin_cannot_reach_another_organisations_people(as_admin, db):  # type: ignore[no-untyped-def]
    client, alpha, beta = as_admin
    beta_member = membership(db, beta, beta.carer).id
    with tenant_context(beta.id):
        issued = organisations.invite(
            db,
            secret_key=SECRET,
            actor=beta.admin,
            email="beta.invitee@example.org",
            roles=["carer"],
            ip=None,
        )
    db.commit()
    beta_invitation = issued.invitation.id

    assert client.get(admin(beta, "members")).status_code == 404
    # Beta's ids through alpha's admin pages are simply not there.
    assert client.get(admin(alpha, f"members/{beta_member}")).status_code == 404
    for path in (
        f"members/{beta_member}/deactivate",
        f"invitations/{beta_invitation}/revoke",
        f"invitations/{beta_invitation}/resend",
    ):
        response = post_form(client, admin(alpha, path), token_from=admin(alpha, "members"))
        assert response.status_code == 404, path
    response = post_form(
        client,
        admin(alpha, f"members/{beta_member}"),
        {"roles": ["admin"]},
        token_from=admin(alpha, "members"),
    )
    assert response.status_code == 404
    assert membership(db, beta, beta.carer).is_active is True
    assert roles_of(db, beta, beta.carer) == ["carer"]
    [pending] = invitations(db, beta)
    assert pending.revoked_at is None and pending.send_count == 1


# --- sign-in leaves audit rows ------------------------------------------------------------


def test_sign_in_is_audited_with_the_address(client, orgs, db):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    client.environ_base["REMOTE_ADDR"] = "203.0.113.24"
    assert sign_in(client, alpha.teacher.email).status_code == 302
    [signed_in] = events(db, alpha, "auth.sign_in")
    assert signed_in.actor_id == alpha.teacher.id
    assert signed_in.actor_email == alpha.teacher.email
    assert signed_in.ip_address == "203.0.113.24"
    assert signed_in.object_type == "user" and signed_in.object_id == str(alpha.teacher.id)
    assert events(db, alpha, "auth.sign_in_failed") == []
    assert events(db, beta, "auth.sign_in") == []


def test_failed_sign_in_is_audited_with_the_address(client, orgs, db):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    client.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    response = sign_in(client, alpha.carer.email, "not the password")
    assert response.status_code == 400
    assert "Email or password is incorrect." in form_errors(page_text(response))
    [failed] = events(db, alpha, "auth.sign_in_failed")
    assert failed.actor_email == alpha.carer.email
    assert failed.ip_address == "198.51.100.7"
    assert events(db, alpha, "auth.sign_in") == []
    assert events(db, beta, "auth.sign_in_failed") == []

    # An unknown address leaves no row anywhere (there is no organisation to put it in).
    before = len(events(db, alpha)) + len(events(db, beta))
    assert sign_in(client, "nobody@alpha.example", PASSWORD).status_code == 400
    assert len(events(db, alpha)) + len(events(db, beta)) == before
