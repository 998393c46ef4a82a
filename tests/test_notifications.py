"""People-facing reminder settings, the notification centre with its unread count, the
organisation's background-work settings and a child's escalation, through the web; and
that the reminders planned afterwards follow what was saved."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from routines import reminders
from routines.models import Child, Delivery, Notification, NotificationPreference
from tenants.context import tenant_context
from tenants.models import Organisation
from tenants.organisations import membership_for
from tests import routine_factories as f
from tests.conftest import post_form, sign_in
from tests.test_admin import events, field_errors, flashes, page_text


def checked(page: str, name: str) -> list[str]:
    """The values of the ticked checkboxes or radio buttons called `name`."""
    tags = re.findall(rf'<input[^>]*name="{name}"[^>]*>', page)
    return [re.search(r'value="([^"]*)"', t).group(1) for t in tags if " checked" in t]


def centre(org, rest: str = "") -> str:  # type: ignore[no-untyped-def]
    return f"/o/{org.slug}/notifications/{rest}"


def member_id(db, org, user) -> int:  # type: ignore[no-untyped-def]
    with tenant_context(org.id):
        return membership_for(db, user).id


def preference(db, org, user) -> NotificationPreference | None:  # type: ignore[no-untyped-def]
    with tenant_context(org.id):
        return db.scalar(
            select(NotificationPreference).where(
                NotificationPreference.membership_id == member_id(db, org, user)
            )
        )


def notify(db, org, user, title: str, *, minutes_ago: int = 0, read: bool = False) -> int:  # type: ignore[no-untyped-def]
    with tenant_context(org.id):
        row = Notification(
            membership_id=member_id(db, org, user),
            kind="reminder",
            title=title,
            body=f"Body of {title}",
            link=f"https://cadence.example/o/{org.slug}/today#occurrence-1",
            created_at=datetime(2026, 11, 23, 12, tzinfo=UTC) - timedelta(minutes=minutes_ago),
            read_at=datetime(2026, 11, 23, 12, tzinfo=UTC) if read else None,
        )
        db.add(row)
        db.flush()
        notification_id = row.id
    db.commit()
    return notification_id


def read_at(db, org, notification_id: int):  # type: ignore[no-untyped-def]
    with tenant_context(org.id):
        return db.scalar(select(Notification.read_at).where(Notification.id == notification_id))


SETTINGS = {
    "channels": ["in_app", "email"],
    "lead_minutes": "10",
    "quiet_start": "21:00",
    "quiet_end": "06:30",
    "remind_inside_quiet": "y",
    "digest": "y",
}


# --- the member's settings -------------------------------------------------------------------


def test_settings_show_the_defaults_and_are_saved_and_audited(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    sign_in(client, alpha.carer.email)
    page = page_text(client.get(centre(alpha, "settings")))
    assert checked(page, "channels") == ["in_app"]
    assert checked(page, "lead_minutes") == ["0"]
    assert checked(page, "remind_inside_quiet") == ["y"]  # ticked by default
    assert checked(page, "digest") == []
    assert 'value="sms"' not in page  # no provider configured
    assert "Reminders for the next half hour may already be planned" in page

    response = post_form(client, centre(alpha, "settings"), SETTINGS)
    assert response.status_code == 303
    assert ("success", "Your reminder settings are saved.") in flashes(
        page_text(client.get(centre(alpha, "settings")))
    )
    saved = preference(db, alpha, alpha.carer)
    assert saved.channels == ["in_app", "email"]
    assert (saved.lead_minutes, saved.quiet_start, saved.quiet_end) == (10, time(21), time(6, 30))
    assert saved.remind_inside_quiet is True and saved.digest is True
    [event] = events(db, alpha, "notifications.preferences_changed")
    assert event.detail["before"]["channels"] == ["in_app"]
    assert event.detail["after"]["lead_minutes"] == 10
    assert event.detail["after"]["quiet_start"] == "21:00"

    # Unticking a checkbox is saved as False (a browser sends nothing for it).
    post_form(client, centre(alpha, "settings"), {**SETTINGS, "remind_inside_quiet": ""})
    db.expire_all()
    assert preference(db, alpha, alpha.carer).remind_inside_quiet is False


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"quiet_end": ""}, "quiet_end"),
        ({"quiet_start": ""}, "quiet_start"),
        ({"quiet_start": "22:00", "quiet_end": "22:00"}, "quiet_end"),
        ({"quiet_start": "25:00"}, "quiet_start"),
        ({"lead_minutes": "7"}, "lead_minutes"),
        ({"lead_minutes": "soon"}, "lead_minutes"),
        ({"channels": []}, "channels"),
        ({"channels": ["in_app", "pigeon"]}, "channels"),
        ({"channels": ["in_app", "sms"], "phone": "+447700900123"}, "channels"),
    ],
    ids=[
        "quiet-end-missing",
        "quiet-start-missing",
        "quiet-zero-length",
        "quiet-bad-time",
        "lead-7",
        "lead-not-a-number",
        "no-channel",
        "unknown-channel",
        "sms-without-provider",
    ],
)
def test_bad_settings_are_refused_and_nothing_changes(client, db, orgs, change, field):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    sign_in(client, alpha.carer.email)
    response = post_form(client, centre(alpha, "settings"), {**SETTINGS, **change})
    assert response.status_code == 400
    assert field_errors(page_text(response), field), "no message next to the field"
    assert preference(db, alpha, alpha.carer) is None
    assert events(db, alpha, "notifications.preferences_changed") == []


@pytest.fixture
def with_sms(app, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "SMS_PROVIDER", "twilio")


@pytest.mark.parametrize("phone", ["07700 900123", "+44 77", "+0447700900123", "+44 7700 9001x3"])
def test_a_text_message_needs_a_phone_number_in_international_form(  # type: ignore[no-untyped-def]
    client, db, orgs, with_sms, phone
):
    alpha, _ = orgs
    sign_in(client, alpha.carer.email)
    assert 'value="sms"' in page_text(client.get(centre(alpha, "settings")))
    data = {**SETTINGS, "channels": ["in_app", "sms"], "phone": phone}
    response = post_form(client, centre(alpha, "settings"), data)
    assert response.status_code == 400
    assert "international form" in " ".join(field_errors(page_text(response), "phone"))
    assert preference(db, alpha, alpha.carer) is None

    response = post_form(client, centre(alpha, "settings"), {**data, "phone": ""})
    assert response.status_code == 400
    assert field_errors(page_text(response), "phone") == [
        "Enter the mobile number text messages go to."
    ]

    response = post_form(client, centre(alpha, "settings"), {**data, "phone": "+44 (7700) 900-123"})
    assert response.status_code == 303
    saved = preference(db, alpha, alpha.carer)
    assert (saved.channels, saved.phone) == (["in_app", "sms"], "+447700900123")
    [event] = events(db, alpha, "notifications.preferences_changed")
    assert event.detail["after"]["phone"] == "…123"  # the audit trail never shows the number


# --- the notification centre -----------------------------------------------------------------


def test_the_centre_lists_only_the_members_own_newest_first(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    notify(db, alpha, alpha.carer, "Older rocking", minutes_ago=30)
    notify(db, alpha, alpha.carer, "Newer drumming", minutes_ago=5)
    notify(db, alpha, alpha.carer, "Already read swinging", minutes_ago=60, read=True)
    notify(db, alpha, alpha.teacher, "The teacher's own")
    notify(db, beta, beta.carer, "Beta's carer's own")
    sign_in(client, alpha.carer.email)
    page = page_text(client.get(centre(alpha)))
    assert page.index("Newer drumming") < page.index("Older rocking") < page.index("Already read")
    assert "The teacher's own" not in page and "Beta's carer's own" not in page
    assert page.count("Unread</span>") == 2
    assert "3 notifications, 2 unread" in page


def test_the_centre_is_paged_by_fifty(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    for n in range(51):
        notify(db, alpha, alpha.carer, f"Routine number {n:02d}", minutes_ago=n)
    sign_in(client, alpha.carer.email)
    first = page_text(client.get(centre(alpha)))
    assert "Routine number 00" in first and "Routine number 49" in first
    assert "Routine number 50" not in first and "Page 1 of 2" in first
    second = page_text(client.get(centre(alpha) + "?page=2"))
    assert "Routine number 50" in second and "Routine number 49" not in second
    assert client.get(centre(alpha) + "?page=zero").status_code == 400


def test_unread_count_in_the_nav_and_marking_read(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    first = notify(db, alpha, alpha.carer, "Rocking at 07:30")
    notify(db, alpha, alpha.carer, "Drumming at 08:00")
    sign_in(client, alpha.carer.email)
    today = page_text(client.get(f"/o/{alpha.slug}/today"))
    assert "Notifications (2)" in today

    response = post_form(client, centre(alpha, f"{first}/read"), token_from=centre(alpha))
    assert response.status_code == 303
    assert response.headers["Location"] == f"/o/{alpha.slug}/today#occurrence-1"
    assert read_at(db, alpha, first) is not None
    assert "Notifications (1)" in page_text(client.get(centre(alpha)))

    response = post_form(client, centre(alpha, "read"), token_from=centre(alpha))
    assert response.status_code == 303
    page = page_text(client.get(centre(alpha)))
    assert "Notifications (" not in page and ">Notifications<" in page
    assert ("success", "1 notification marked read.") in flashes(page)


def test_no_notifications_link_outside_an_organisation(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    sign_in(client, alpha.carer.email)
    assert ">Notifications" not in page_text(client.get("/profile/"))


def test_another_members_or_organisations_notification_is_not_found(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    teachers = notify(db, alpha, alpha.teacher, "The teacher's own")
    betas = notify(db, beta, beta.carer, "Beta's carer's own")
    sign_in(client, alpha.carer.email)
    token_from = centre(alpha)
    for notification_id in (teachers, betas, 999_999):
        response = post_form(
            client, centre(alpha, f"{notification_id}/read"), token_from=token_from
        )
        assert response.status_code == 404
    response = post_form(client, centre(beta, f"{betas}/read"), token_from=token_from)
    assert response.status_code == 404
    assert read_at(db, alpha, teachers) is None
    assert read_at(db, beta, betas) is None


def test_marking_read_needs_the_csrf_token(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    own = notify(db, alpha, alpha.carer, "Rocking")
    sign_in(client, alpha.carer.email)
    assert client.post(centre(alpha, f"{own}/read")).status_code == 400
    assert client.post(centre(alpha, "read")).status_code == 400
    assert read_at(db, alpha, own) is None


# --- the organisation's settings -------------------------------------------------------------


ORG_FORM = {"name": "Alpha Services", "time_zone": "Europe/London"}
BANDS = {"map_red_below": "60", "map_green_from": "85"}
BACKGROUND = {
    "nudge_after_minutes": "20",
    "escalate_after_minutes": "45",
    "missed_after_minutes": "",
    "adherence_percent": "75",
    "reassessment_interval_days": "120",
}


def org_row(db, org) -> Organisation:  # type: ignore[no-untyped-def]
    found = db.scalar(select(Organisation).where(Organisation.id == org.id))
    db.refresh(found)
    return found


def test_admin_saves_background_settings_and_they_are_audited(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    sign_in(client, alpha.admin.email)
    page = page_text(client.get(f"/o/{alpha.slug}/admin/settings"))
    assert 'name="nudge_after_minutes" type="number" value="30"' in page
    assert 'name="adherence_percent" type="number" value="80"' in page
    response = post_form(
        client, f"/o/{alpha.slug}/admin/settings", {**ORG_FORM, **BANDS, **BACKGROUND}
    )
    assert response.status_code == 302
    org = org_row(db, alpha)
    assert (org.nudge_after_minutes, org.escalate_after_minutes, org.missed_after_minutes) == (
        20,
        45,
        None,
    )
    assert (org.adherence_threshold, org.reassessment_interval_days) == (0.75, 120)
    [event] = events(db, alpha, "organisation.reminder_settings_changed")
    assert event.detail["before"]["nudge_after_minutes"] == 30
    assert event.detail["after"] == {
        "nudge_after_minutes": 20,
        "escalate_after_minutes": 45,
        "missed_after_minutes": None,
        "adherence_threshold": 0.75,
        "reassessment_interval_days": 120,
    }

    # Empty: no nudge, escalation off, the defaults for threshold and interval.
    blank = dict.fromkeys(BACKGROUND, "")
    post_form(client, f"/o/{alpha.slug}/admin/settings", {**ORG_FORM, **BANDS, **blank})
    org = org_row(db, alpha)
    assert (org.nudge_after_minutes, org.escalate_after_minutes) == (None, None)
    assert (org.adherence_threshold, org.reassessment_interval_days) == (0.8, 90)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("nudge_after_minutes", "4"),
        ("nudge_after_minutes", "721"),
        ("escalate_after_minutes", "1441"),
        ("missed_after_minutes", "14"),
        ("missed_after_minutes", "2881"),
        ("adherence_percent", "0"),
        ("adherence_percent", "101"),
        ("reassessment_interval_days", "6"),
        ("reassessment_interval_days", "731"),
        ("nudge_after_minutes", "half an hour"),
        ("escalate_after_minutes", "-5"),
    ],
)
def test_background_settings_out_of_range_are_refused(client, db, orgs, field, value):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    sign_in(client, alpha.admin.email)
    data = {**ORG_FORM, "name": "Renamed", **BANDS, **BACKGROUND, field: value}
    response = post_form(client, f"/o/{alpha.slug}/admin/settings", data)
    assert response.status_code == 400
    assert field_errors(page_text(response), field), "no message next to the field"
    org = org_row(db, alpha)
    assert (org.name, org.nudge_after_minutes, org.reassessment_interval_days) == (
        "Alpha Services",
        30,
        90,
    )
    assert events(db, alpha, "organisation.reminder_settings_changed") == []
    assert events(db, alpha, "organisation.settings_changed") == []


# --- a child's escalation --------------------------------------------------------------------


@pytest.fixture
def family(db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with f.in_org(alpha):
        fam = f.child(db, alpha)
        ids = (fam.child.id, fam.carer_membership.id, fam.teacher_membership.id)
    db.commit()
    return ids


def escalation(db, org, child_id: int):  # type: ignore[no-untyped-def]
    with tenant_context(org.id):
        child = db.get(Child, child_id)
        db.refresh(child)
        return child.escalate_to_membership_id, child.escalate_after_minutes


def test_the_lead_clinician_sets_and_clears_a_childs_escalation(client, db, orgs, family):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    child_id, carer_id, teacher_id = family
    sign_in(client, alpha.clinician.email)
    url = f"/o/{alpha.slug}/children/{child_id}/escalation"
    page = page_text(client.get(f"/o/{alpha.slug}/children/{child_id}"))
    assert "Escalate to" in page and f'value="{teacher_id}"' in page

    response = post_form(
        client,
        url,
        {"escalate_to": str(teacher_id), "escalate_after": "20"},
        token_from=f"/o/{alpha.slug}/children/{child_id}",
    )
    assert response.status_code == 303
    assert escalation(db, alpha, child_id) == (teacher_id, 20)

    response = post_form(
        client,
        url,
        {"escalate_to": "", "escalate_after": ""},
        token_from=f"/o/{alpha.slug}/children/{child_id}",
    )
    assert response.status_code == 303
    assert escalation(db, alpha, child_id) == (None, None)
    changes = events(db, alpha, "child.escalation_changed")
    assert [e.detail["after"] for e in changes] == [
        {"escalate_to": teacher_id, "after_minutes": 20},
        {"escalate_to": None, "after_minutes": None},
    ]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"escalate_to": "", "escalate_after": "20"}, "escalate_to"),
        ({"escalate_to": "999999", "escalate_after": ""}, "escalate_to"),
        ({"escalate_to": "TEACHER", "escalate_after": "4"}, "escalate_after"),
        ({"escalate_to": "TEACHER", "escalate_after": "1441"}, "escalate_after"),
    ],
    ids=["minutes-without-person", "not-on-team", "too-soon", "too-late"],
)
def test_bad_escalation_is_refused(client, db, orgs, family, data, field):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    child_id, _, teacher_id = family
    sign_in(client, alpha.clinician.email)
    data = {k: v.replace("TEACHER", str(teacher_id)) for k, v in data.items()}
    page = f"/o/{alpha.slug}/children/{child_id}"
    response = post_form(client, f"{page}/escalation", data, token_from=page)
    assert response.status_code == 400
    assert field_errors(page_text(response), field)
    assert escalation(db, alpha, child_id) == (None, None)
    assert events(db, alpha, "child.escalation_changed") == []


def test_a_carer_on_the_team_may_not_set_escalation(client, db, orgs, family):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    child_id, carer_id, _ = family
    sign_in(client, alpha.carer.email)
    page = f"/o/{alpha.slug}/children/{child_id}"
    assert "Escalate to" not in page_text(client.get(page))
    response = post_form(
        client, f"{page}/escalation", {"escalate_to": str(carer_id), "escalate_after": "20"}
    )
    assert response.status_code == 403
    assert escalation(db, alpha, child_id) == (None, None)


# --- reminders follow the saved settings ------------------------------------------------------


def _planned(app: Flask, db, org, due: datetime):  # type: ignore[no-untyped-def]
    with tenant_context(org.id):
        reminders.plan(db, now=due - timedelta(minutes=20))
        rows = db.scalars(select(Delivery).order_by(Delivery.kind, Delivery.channel)).all()
        return [(r.kind, r.membership_id, r.channel, r.not_before) for r in rows]


def _routine_at_0730(db, org):  # type: ignore[no-untyped-def]
    with f.in_org(org):
        fam = f.child(db, org, school=None, classroom=None)
        f.publish(db, fam.child, [f.item(f.activity(db))])
        carer = fam.carer_membership.id
    db.commit()
    # 07:30 in London on 24 November is 07:30 UTC.
    return carer, datetime(2026, 11, 24, 7, 30, tzinfo=UTC)


def test_reminders_are_planned_with_the_saved_channels_and_lead_time(app, client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    carer, due = _routine_at_0730(db, alpha)
    sign_in(client, alpha.carer.email)
    data = {**SETTINGS, "quiet_start": "", "quiet_end": ""}
    assert post_form(client, centre(alpha, "settings"), data).status_code == 303

    planned = _planned(app, db, alpha, due)
    assert planned == [
        ("nudge", carer, "email", due + timedelta(minutes=30)),
        ("nudge", carer, "in_app", due + timedelta(minutes=30)),
        ("reminder", carer, "email", due - timedelta(minutes=10)),
        ("reminder", carer, "in_app", due - timedelta(minutes=10)),
    ]


def test_quiet_hours_saved_on_the_page_hold_a_routine_inside_them_when_asked(  # type: ignore[no-untyped-def]
    app, client, db, orgs
):
    alpha, _ = orgs
    carer, due = _routine_at_0730(db, alpha)
    sign_in(client, alpha.carer.email)
    data = {
        **SETTINGS,
        "channels": ["in_app"],
        "lead_minutes": "0",
        "quiet_start": "07:00",
        "quiet_end": "08:00",
        "remind_inside_quiet": "",
    }
    assert post_form(client, centre(alpha, "settings"), data).status_code == 303
    # The routine is itself in quiet hours and the carer asked not to be reminded of such.
    assert _planned(app, db, alpha, due) == [
        ("nudge", carer, "in_app", datetime(2026, 11, 24, 8, 0, tzinfo=UTC)),
    ]
