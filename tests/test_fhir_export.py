"""A child's plan and logs as a FHIR R4 Bundle: valid per fhir.resources (R4B models), the
CarePlan of the version in effect with each activity's Timing and time zone, and one
Observation per log at the routine's local due time."""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.timing import Timing
from sqlalchemy import select

from routines import children, fhir_export
from routines import models as m
from tenants.context import tenant_context
from tenants.db import utcnow
from tenants.models import AuditEvent
from tenants.organisations import membership_for
from tests import routine_factories as f
from tests.conftest import sign_in
from tests.test_exports import log_home, seed_child, url

MODELS = {"Patient": Patient, "CarePlan": CarePlan, "Observation": Observation}
TIMEZONE = "http://hl7.org/fhir/StructureDefinition/timezone"


def fetch(client, org, child_id: int) -> dict:  # type: ignore[no-untyped-def]
    response = client.get(url(org, child_id, "fhir.json"))
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/fhir+json"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    bundle = response.get_json()
    # Valid as a whole and resource by resource, independently of the export's own check.
    Bundle.model_validate(bundle)
    for entry in bundle["entry"]:
        resource = entry["resource"]
        MODELS[resource["resourceType"]].model_validate(resource)
        assert entry["fullUrl"] == f"urn:uuid:{resource['id']}"
    return bundle


def of_type(bundle: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


@pytest.fixture
def planned(db, orgs):  # type: ignore[no-untyped-def]
    """Alpha's child at home in London, at school in New York, with three logs."""
    alpha, _ = orgs
    with f.in_org(alpha):
        seeded = seed_child(db, alpha, school_zone="America/New_York")
        done = log_home(db, alpha, seeded, 1, enjoyment=5)
        partly = log_home(db, alpha, seeded, 1, status="partly", reason="no_time", minutes=2)
        skipped = log_home(
            db, alpha, seeded, 1, status="skipped", reason="unwell", minutes=None, note="Fever."
        )
    db.commit()
    return seeded, done + partly + skipped


def test_the_bundle_holds_patient_careplan_and_observations(client, db, orgs, planned):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    seeded, logged = planned
    sign_in(client, "clinician@alpha.example")
    bundle = fetch(client, alpha, seeded.id)
    assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "collection")

    [patient] = of_type(bundle, "Patient")
    assert patient["birthDate"] == "2018-04-02"
    assert patient["name"][0] == {"use": "official", "family": "Ashdown", "given": ["Robin"]}
    patient_ref = {"reference": f"urn:uuid:{patient['id']}"}

    [plan] = of_type(bundle, "CarePlan")
    assert (plan["status"], plan["intent"], plan["subject"]) == ("active", "plan", patient_ref)
    assert plan["period"] == {"start": seeded.version.effective_from.isoformat()}
    home, school = (a["detail"] for a in plan["activity"])
    assert home["code"] == {"text": "Rocking"} and home["status"] == "in-progress"
    assert home["scheduledTiming"]["extension"] == [{"url": TIMEZONE, "valueCode": "Europe/London"}]
    assert school["scheduledTiming"]["extension"] == [
        {"url": TIMEZONE, "valueCode": "America/New_York"}
    ]
    repeat = home["scheduledTiming"]["repeat"]
    assert repeat["dayOfWeek"] == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert repeat["timeOfDay"] == ["07:30:00"]
    assert (repeat["frequency"], repeat["period"], repeat["periodUnit"]) == (1, 1, "d")
    assert (repeat["duration"], repeat["durationUnit"]) == (5, "min")
    school_repeat = school["scheduledTiming"]["repeat"]
    assert school_repeat["dayOfWeek"] == ["mon", "tue", "wed", "thu", "fri"]
    assert (school_repeat["timeOfDay"], school_repeat["duration"]) == (["10:15:00"], 10)

    observations = of_type(bundle, "Observation")
    assert len(observations) == len(logged) == 3
    by_status = {o["valueCodeableConcept"]["coding"][0]["code"]: o for o in observations}
    assert set(by_status) == {"done", "partly", "skipped"}
    plan_ref = [{"reference": f"urn:uuid:{plan['id']}"}]
    with tenant_context(alpha.id):
        due = {
            o.id: o.due_at
            for o in db.scalars(select(m.Occurrence).where(m.Occurrence.child_id == seeded.id))
        }
    for log in logged:
        obs = by_status[log.status]
        assert (obs["status"], obs["code"], obs["subject"]) == (
            "final",
            {"text": "Rocking"},
            patient_ref,
        )
        assert obs["basedOn"] == plan_ref
        when = datetime.fromisoformat(obs["effectiveDateTime"])
        assert when == due[log.occurrence_id]  # the same instant ...
        local = due[log.occurrence_id].astimezone(ZoneInfo("Europe/London"))
        assert when.utcoffset() == local.utcoffset()  # ... written with the household's offset
        assert when.strftime("%H:%M") == "07:30"
    components = {c["code"]["text"]: c for c in by_status["done"]["component"]}
    assert components["Minutes"]["valueQuantity"]["value"] == 6
    assert components["Minutes"]["valueQuantity"]["code"] == "min"
    assert components["State before"]["valueCodeableConcept"]["coding"][0]["code"] == "alarm"
    assert components["State after"]["valueCodeableConcept"]["coding"][0]["code"] == "calm"
    assert components["Enjoyment (1 to 5)"]["valueInteger"] == 5
    skipped = by_status["skipped"]
    reasons = [c for c in skipped["component"] if c["code"]["text"] == "Reason"]
    assert reasons[0]["valueCodeableConcept"]["coding"][0]["code"] == "unwell"
    assert skipped["note"] == [{"text": "Fever."}]


def test_the_export_is_audited(client, db, orgs, planned):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    seeded, _ = planned
    sign_in(client, "admin@alpha.example")
    fetch(client, alpha, seeded.id)
    with tenant_context(alpha.id):
        [row] = db.scalars(select(AuditEvent).where(AuditEvent.action == "child.exported"))
    assert (row.object_id, row.detail) == (str(seeded.id), {"format": "fhir"})


def test_the_careplan_is_the_version_in_effect(client, db, orgs, planned):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    seeded, _ = planned
    later = utcnow().date() + timedelta(days=10)
    with f.in_org(alpha):
        act = f.activity(db, "Drumming")
        newer = f.item(act, frequency={"days": [5, 6], "mode": "times", "times": ["09:00"]})
        newer.start_date = later
        f.publish(db, seeded.child, [newer], effective_from=later, now=utcnow())
    db.commit()
    sign_in(client, "clinician@alpha.example")
    [plan] = of_type(fetch(client, alpha, seeded.id), "CarePlan")
    assert plan["title"] == "Sequenced plan, version 1"
    assert plan["period"]["end"] == (later - timedelta(days=1)).isoformat()
    assert {a["detail"]["code"]["text"] for a in plan["activity"]} == {"Rocking"}


def test_no_published_plan_still_gives_a_bundle(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with f.in_org(alpha):
        # The plan's only version starts in three days: nothing is in effect today, yet the
        # carer may already log its first routines.
        seeded = seed_child(db, alpha, effective_from=utcnow().date() + timedelta(days=3))
        log_home(db, alpha, seeded, 1)
        bare = children.add_child(
            db,
            children.ChildDetails("Wren", "Ashdown", date(2019, 1, 5)),
            actor=alpha.clinician,
            actor_membership=membership_for(db, alpha.clinician),
            default_time_zone="Europe/London",
            today=utcnow().date(),
        )
    db.commit()
    sign_in(client, "clinician@alpha.example")
    bundle = fetch(client, alpha, seeded.id)
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == ["Patient", "Observation"]
    assert "basedOn" not in bundle["entry"][1]["resource"]
    bare_bundle = fetch(client, alpha, bare.id)
    assert [e["resource"]["resourceType"] for e in bare_bundle["entry"]] == ["Patient"]


# --- the Timing of each frequency mode -----------------------------------------------------


def _item(frequency: dict, minutes: int = 15, end: date | None = None) -> m.PlanItem:
    return m.PlanItem(
        frequency=frequency, minutes=minutes, start_date=date(2026, 3, 1), end_date=end
    )


def test_anchors_become_event_timings_and_spread_becomes_times():  # type: ignore[no-untyped-def]
    anchors = fhir_export.timing(
        _item({"days": [0, 2], "mode": "anchors", "anchors": ["after_school", "before_bed"]}),
        "Europe/Dublin",
    )
    Timing.model_validate(anchors)
    assert anchors["repeat"]["when"] == ["AFT", "HS"]
    assert "timeOfDay" not in anchors["repeat"]  # tim-10: never both
    assert anchors["repeat"]["frequency"] == 2
    assert anchors["repeat"]["dayOfWeek"] == ["mon", "wed"]

    spread = fhir_export.timing(
        _item(
            {"days": [6], "mode": "spread", "spread": {"count": 3, "from": "09:00", "to": "15:00"}},
            end=date(2026, 6, 30),
        ),
        "Australia/Sydney",
    )
    Timing.model_validate(spread)
    assert spread["repeat"]["timeOfDay"] == ["09:00:00", "12:00:00", "15:00:00"]
    assert spread["repeat"]["frequency"] == 3
    assert spread["repeat"]["boundsPeriod"] == {"start": "2026-03-01", "end": "2026-06-30"}
    assert spread["extension"][0]["valueCode"] == "Australia/Sydney"


def test_an_invalid_bundle_is_refused(client, db, orgs, planned):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    seeded, _ = planned
    sign_in(client, "clinician@alpha.example")
    good = fetch(client, alpha, seeded.id)
    fhir_export.validate(good)

    def broken(change) -> dict:  # type: ignore[no-untyped-def]
        bundle = copy.deepcopy(good)
        change(bundle)
        return bundle

    plan_index = next(
        i for i, e in enumerate(good["entry"]) if e["resource"]["resourceType"] == "CarePlan"
    )

    def no_offset(b: dict) -> None:
        b["entry"][-1]["resource"]["effectiveDateTime"] = "2026-11-23T07:30:00"

    def bad_day(b: dict) -> None:
        b["entry"][plan_index]["resource"]["activity"][0]["detail"]["scheduledTiming"]["repeat"][
            "dayOfWeek"
        ] = ["monday"]

    def bad_status(b: dict) -> None:
        b["entry"][plan_index]["resource"]["status"] = "ongoing"

    def unknown_field(b: dict) -> None:
        b["entry"][0]["resource"]["favouriteColour"] = "blue"

    for change in (no_offset, bad_day, bad_status, unknown_field):
        with pytest.raises(fhir_export.InvalidExport):
            fhir_export.validate(broken(change))
