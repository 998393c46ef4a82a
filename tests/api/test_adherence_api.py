"""getAdherence and getAssessments: hand-checked figures, figures equal to rollups.breakdown
and to an independent count of the raw routines (before and after the nightly rollup, and
after a late log), bad ranges refused, who may read what, a fixed number of statements, and
both operations in a valid OpenAPI document that the real answers match."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, date, datetime
from fractions import Fraction
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from sqlalchemy import select, update

from routines import assessments as ops
from routines import children, rollups
from routines import models as m
from routines.frameworks import build_framework
from routines.metrics import DOMAINS, week_of
from tenants.context import tenant_context
from tenants.models import AuditEvent
from tenants.organisations import membership_for
from tests import routine_factories as f
from tests.api.conftest import bearer, second_carer, token_for
from tests.conftest import count_statements
from tests.test_assessments import FRAMEWORK, SCORES  # the hand-checked small framework

MISSING = 999_999
T0 = datetime(2026, 8, 1, tzinfo=UTC)  # when the seeded routines were last touched
NIGHT = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # a nightly build: through 19 November
COUNTED = ("done", "partly", "skipped", "missed")  # the outcomes that count
OUTCOMES = ("done", "partly", "skipped", "missed", "excused", "pending")
OPERATIONS = ["getAdherence", "getAssessments"]


# --- data -----------------------------------------------------------------------------------


WEEKDAYS = [0, 1, 2, 3, 4]
ROUTINES = [  # activity, minutes, assignee, days, time, domain
    ("Rocking", 5, "household", f.EVERY_DAY, "07:30", "sensory_integration"),
    ("Movement break", 10, "classroom", WEEKDAYS, "10:15", "self_regulation"),
    ("Bath time", 10, "household", f.EVERY_DAY, "19:30", "relational"),
]


def _plan(db, org, name: str, start: date, days: int, *, bath: bool = False):  # type: ignore[no-untyped-def]
    """Rocking at home every day, a movement break at school on weekdays and, with `bath`, a
    bath every evening, from `start` for `days` days. The caller is in the organisation."""
    fam = f.child(db, org, name=name)
    items = [
        f.item(
            f.activity(db, f"{activity} {name}", minutes),
            assignee=assignee,
            frequency={"days": on, "mode": "times", "times": [at]},
            minutes=minutes,
            domain=domain,
        )
        for activity, minutes, assignee, on, at, domain in ROUTINES[: 3 if bath else 2]
    ]
    now = datetime(start.year, start.month, start.day, tzinfo=UTC)
    f.publish(db, fam.child, items, effective_from=start, now=now, horizon_days=days)
    return fam.child


def _routines(db, child_id: int) -> dict[tuple[str, date], m.Occurrence]:  # type: ignore[no-untyped-def]
    rows = db.scalars(select(m.Occurrence).where(m.Occurrence.child_id == child_id)).all()
    return {(o.activity.name.split()[0], o.local_date): o for o in rows}


def _mark(db, occ: m.Occurrence, status: str, minutes: int | None = None) -> None:  # type: ignore[no-untyped-def]
    occ.status = status
    if status in ("done", "partly", "skipped"):
        db.add(
            m.RoutineLog(
                client_uuid=uuid.uuid4(),
                payload_hash="x" * 64,
                occurrence_id=occ.id,
                child_id=occ.child_id,
                status=status,
                reason="no_time" if status == "skipped" else None,
                minutes=minutes,
                source="web",
                logged_at=occ.due_at,
            )
        )


def _get(client, secret: str, child_id: int, date_from: str | date, date_to: str | date):  # type: ignore[no-untyped-def]
    return client.get(
        f"/api/v1/children/{child_id}/adherence?from={date_from}&to={date_to}",
        headers=bearer(secret),
    )


def _audited(db, org_id: int, action: str) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    # By id: a refused request rolls the shared session back, detaching the fixtures' rows.
    with tenant_context(org_id):
        return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# --- getAdherence ---------------------------------------------------------------------------


def test_a_hand_checked_week(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    alpha_id = alpha.id
    with f.in_org(alpha):
        kid = _plan(db, alpha, "Robin", date(2026, 11, 2), 14)
        at = _routines(db, kid.id)
        marks = {  # day of November: outcome and minutes logged; 8 November stays pending
            "Rocking": [("done", 8), ("done", None), ("partly", None), ("skipped", None),
                        ("missed", None), ("excused", None)],
            "Movement": [("done", None), ("done", None), ("done", None), ("partly", 4),
                         ("excused", None)],
        }  # fmt: skip
        for name, outcomes in marks.items():
            for day, (status, minutes) in enumerate(outcomes, start=2):
                _mark(db, at[name, date(2026, 11, day)], status, minutes)
        rocking_id = at["Rocking", date(2026, 11, 2)].activity_id
        movement_id = at["Movement", date(2026, 11, 2)].activity_id
        db.flush()
    db.commit()
    response = _get(client, token_for(db, alpha, alpha.carer), kid.id, "2026-11-02", "2026-11-08")
    assert response.status_code == 200
    body = response.get_json()
    # Rocking 2.5 of 5 (dose 8 logged + 5 planned + 2 half of planned); movement 3.5 of 4
    # (30 planned + 4 logged); together 6 of 9.
    rocking_counts = {"done": 2, "partly": 1, "skipped": 1, "missed": 1, "excused": 1,
                      "pending": 1}  # fmt: skip
    movement_counts = {"done": 3, "partly": 1, "skipped": 0, "missed": 0, "excused": 1,
                       "pending": 0}  # fmt: skip
    assert body == {
        "child_id": kid.id,
        "from": "2026-11-02",
        "to": "2026-11-08",
        "adherence": 0.6667,
        "counts": {"done": 5, "partly": 2, "skipped": 1, "missed": 1, "excused": 2, "pending": 1},
        "dose_minutes": 49,
        "planned_minutes": 65,
        "threshold": 0.8,
        "adherent": False,
        "by_activity": [
            {"activity_id": movement_id, "name": "Movement break Robin", "adherence": 0.875,
             "counts": movement_counts, "dose_minutes": 34, "planned_minutes": 40},
            {"activity_id": rocking_id, "name": "Rocking Robin", "adherence": 0.5,
             "counts": rocking_counts, "dose_minutes": 15, "planned_minutes": 25},
        ],
        "by_domain": [
            {"domain": "sensory_integration", "label": "Sensory integration", "adherence": 0.5,
             "counts": rocking_counts, "dose_minutes": 15, "planned_minutes": 25},
            {"domain": "self_regulation", "label": "Self-regulation", "adherence": 0.875,
             "counts": movement_counts, "dose_minutes": 34, "planned_minutes": 40},
        ],
        "dose_per_week": [
            {"week_start": "2026-11-02", "domain": "sensory_integration", "minutes": 15},
            {"week_start": "2026-11-02", "domain": "self_regulation", "minutes": 34},
        ],
    }  # fmt: skip
    [viewed] = _audited(db, alpha_id, "adherence.viewed")
    assert (viewed.actor_id, viewed.object_id) == (alpha.carer.id, str(kid.id))
    assert viewed.detail == {
        "child_id": kid.id, "start": "2026-11-02", "end": "2026-11-08", "page": "api"
    }  # fmt: skip
    # A window without routines: nothing counts, so no adherence (not 0).
    empty = _get(client, token_for(db, alpha, alpha.carer), kid.id, "2025-01-01", "2025-01-31")
    assert empty.status_code == 200
    body = empty.get_json()
    assert (body["adherence"], body["adherent"], body["by_activity"]) == (None, None, [])
    assert body["counts"] == dict.fromkeys(OUTCOMES, 0)


def _seed(db, org, name: str = "Sam"):  # type: ignore[no-untyped-def]
    """Twelve weeks of routines with every outcome, some logged minutes, last touched at
    T0 (so a nightly build's rows are read for them)."""
    kid = _plan(db, org, name, date(2026, 9, 1), 100, bath=True)
    cycle = ["done", "done", "partly", "done", "skipped", "missed", "excused", "done", "partly"]
    rows = sorted(_routines(db, kid.id).values(), key=lambda o: o.id)
    for index, occ in enumerate(r for r in rows if r.local_date < date(2026, 11, 22)):
        _mark(db, occ, cycle[index % len(cycle)], [None, 3, 12][index % 3])
    db.flush()
    db.execute(
        update(m.Occurrence)
        .where(m.Occurrence.child_id == kid.id)
        .values(updated_at=T0)
        .execution_options(synchronize_session=False)
    )
    return kid


def _group(counts: dict[str, int], dose: int = 0, planned: int = 0) -> dict[str, Any]:
    return {"counts": counts, "dose": dose, "planned": planned}


def _independent(db, org, child_id: int, date_from: date, date_to: date) -> dict[Any, Any]:  # type: ignore[no-untyped-def]
    """The figures from the raw routines and logs, by the definitions alone."""
    with f.in_org(org):
        found = db.execute(
            select(m.Occurrence, m.RoutineLog.minutes, m.PlanItem.domain)
            .outerjoin(m.RoutineLog, m.RoutineLog.occurrence_id == m.Occurrence.id)
            .join(m.PlanItem, m.PlanItem.id == m.Occurrence.plan_item_id)
            .where(
                m.Occurrence.child_id == child_id,
                m.Occurrence.local_date >= date_from,
                m.Occurrence.local_date <= date_to,
                m.Occurrence.status != "withdrawn",
            )
        ).all()
    groups: dict[Any, dict[str, Any]] = defaultdict(lambda: _group(dict.fromkeys(OUTCOMES, 0)))
    for occ, logged, domain in found:
        dose = 0
        if occ.status in ("done", "partly"):
            full = occ.minutes if occ.status == "done" else occ.minutes // 2
            dose = logged if logged is not None else full
        for key in ("all", ("activity", occ.activity_id), ("domain", domain)):
            group = groups[key]
            group["counts"][occ.status] += 1
            group["dose"] += dose
            group["planned"] += occ.minutes if occ.status in COUNTED else 0
        groups["week", week_of(occ.local_date), domain]["dose"] += dose
    return groups


def _from_breakdown(result: rollups.Breakdown) -> dict[Any, Any]:
    def group(fig: rollups.Figures) -> dict[str, Any]:
        return _group({s: getattr(fig, s) for s in OUTCOMES}, fig.dose_minutes, fig.planned_minutes)

    return {
        "all": group(result.overall),
        **{("activity", key): group(fig) for key, fig in result.by_activity.items()},
        **{("domain", key): group(fig) for key, fig in result.by_domain.items()},
        **{("week", w, d): group(fig) for (d, w), fig in result.by_domain_week.items()},
    }


def _assert_matches(body: dict[str, Any], expected: dict[Any, dict[str, Any]]) -> None:
    def same(got: dict[str, Any], group: dict[str, Any]) -> None:
        counts = group["counts"]
        credit = counts["done"] + Fraction(counts["partly"], 2)
        counted = sum(counts[s] for s in COUNTED)
        assert got["counts"] == counts
        assert got["adherence"] == pytest.approx(float(credit / counted), abs=5e-5)
        assert (got["dose_minutes"], got["planned_minutes"]) == (group["dose"], group["planned"])

    same(body, expected["all"])
    assert {r["activity_id"] for r in body["by_activity"]} == {
        k[1] for k in expected if k[0] == "activity"
    }
    for row in body["by_activity"]:
        same(row, expected["activity", row["activity_id"]])
    assert [r["domain"] for r in body["by_domain"]] == [
        d for d in DOMAINS if ("domain", d) in expected
    ]
    for row in body["by_domain"]:
        same(row, expected["domain", row["domain"]])
    weekly = {
        (date.fromisoformat(r["week_start"]), r["domain"]): r["minutes"]
        for r in body["dose_per_week"]
    }
    assert weekly == {(k[1], k[2]): g["dose"] for k, g in expected.items() if k[0] == "week"}


def test_figures_equal_the_breakdown_and_the_raw_count_before_and_after_the_night(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with f.in_org(alpha):
        kid = _seed(db, alpha)
    db.commit()
    secret = token_for(db, alpha, alpha.clinician)
    start, end = date(2026, 9, 1), date(2026, 11, 23)

    def check() -> dict[str, Any]:
        response = _get(client, secret, kid.id, start, end)
        assert response.status_code == 200
        body = response.get_json()
        _assert_matches(body, _independent(db, alpha, kid.id, start, end))
        with f.in_org(alpha):
            _assert_matches(body, _from_breakdown(rollups.breakdown(db, kid.id, start, end)))
        return body

    live = check()  # before any build: everything read live
    assert live["counts"]["pending"] > 0 and live["counts"]["excused"] > 0
    with f.in_org(alpha):
        assert rollups.roll_up(db, now=NIGHT).rows > 0
    db.commit()
    assert check() == live  # stored rows for the days built, live rows after them
    # A late log from an offline phone, for a day already rolled up, counts at once.
    with f.in_org(alpha):
        late = db.scalars(
            select(m.Occurrence)
            .where(
                m.Occurrence.child_id == kid.id,
                m.Occurrence.status == "missed",
                m.Occurrence.local_date < date(2026, 11, 19),
            )
            .order_by(m.Occurrence.local_date.desc(), m.Occurrence.id)
        ).first()
        _mark(db, late, "done", 20)
        db.flush()
    db.commit()
    after = check()
    assert after["counts"]["done"] == live["counts"]["done"] + 1
    assert after["dose_minutes"] == live["dose_minutes"] + 20


def test_bad_ranges_are_refused_and_change_nothing(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    alpha_id = alpha.id
    with f.in_org(alpha):
        kid = _plan(db, alpha, "Robin", date(2026, 11, 2), 7).id
    db.commit()
    secret = token_for(db, alpha, alpha.carer)
    base = f"/api/v1/children/{kid}/adherence"
    cases = {
        "": "from",
        "to=2026-11-08": "from",
        "from=2026-11-02": "to",
        "from=&to=2026-11-08": "from",
        "from=02/11/2026&to=2026-11-08": "from",
        "from=20261102&to=2026-11-08": "from",
        "from=2026-02-30&to=2026-03-08": "from",
        "from=2026-11-02&to=2026-13-01": "to",
        "from=2026-11-08&to=2026-11-02": "to",
        "from=2020-01-01&to=2025-01-02": "to",
    }
    for query, field in cases.items():
        response = client.get(f"{base}?{query}", headers=bearer(secret))
        assert response.status_code == 422, query
        error = response.get_json()["error"]
        assert (error["code"], error["field"]) == ("invalid", field), query
        assert error["message"], query
    reversed_range = client.get(f"{base}?from=2026-11-08&to=2026-11-02", headers=bearer(secret))
    assert "before it starts" in reversed_range.get_json()["error"]["message"]
    assert _audited(db, alpha_id, "adherence.viewed") == []
    # Five years exactly is allowed.
    assert _get(client, secret, kid, "2024-02-29", "2029-02-28").status_code == 200


def test_who_may_read_a_childs_adherence(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    with f.in_org(alpha):
        kid = _plan(db, alpha, "Robin", date(2026, 11, 2), 7).id
    with f.in_org(beta):
        theirs = _plan(db, beta, "Sasha", date(2026, 11, 2), 7).id
    db.commit()
    team = [token_for(db, alpha, p) for p in (alpha.carer, alpha.teacher, alpha.clinician)]
    admin = token_for(db, alpha, alpha.admin)
    stranger = token_for(db, alpha, second_carer(db, alpha))  # a carer, not on Robin's team
    for secret in [*team, admin]:
        response = _get(client, secret, kid, "2026-11-02", "2026-11-08")
        assert response.status_code == 200
        assert response.get_json()["counts"]["pending"] == 12  # 7 rockings, 5 movement breaks
    missing = _get(client, admin, MISSING, "2026-11-02", "2026-11-08")
    assert missing.status_code == 404
    for secret, child_id, dates in [
        (admin, theirs, ("2026-11-02", "2026-11-08")),
        (admin, theirs, ("2026-11-08", "2026-11-02")),  # out of reach first, whatever the dates
        (admin, MISSING, ("", "")),
        (stranger, kid, ("2026-11-02", "2026-11-08")),
    ]:
        response = _get(client, secret, child_id, *dates)
        assert (response.status_code, response.get_json()) == (404, missing.get_json())
        assert "Sasha" not in response.get_data(as_text=True)
    assert _get(client, "cad_nonsense", kid, "2026-11-02", "2026-11-08").status_code == 401


def _statements(client, db, secret: str, url: str) -> int:  # type: ignore[no-untyped-def]
    assert client.get(url, headers=bearer(secret)).status_code == 200  # warm-up: last_used_at
    with count_statements(db) as counted:
        response = client.get(url, headers=bearer(secret))
    assert response.status_code == 200
    return counted.total


def test_adherence_runs_a_fixed_number_of_statements(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with f.in_org(alpha):
        small = _plan(db, alpha, "Robin", date(2026, 11, 2), 2)
        large = _seed(db, alpha)
        rollups.roll_up(db, now=NIGHT)
    db.commit()
    secret = token_for(db, alpha, alpha.clinician)
    base = "/api/v1/children/{}/adherence?from={}&to={}"
    one_day = _statements(client, db, secret, base.format(small.id, "2026-11-02", "2026-11-02"))
    a_year = _statements(client, db, secret, base.format(large.id, "2025-11-24", "2026-11-23"))
    nothing = _statements(client, db, secret, base.format(small.id, "2021-01-01", "2025-12-31"))
    assert one_day == a_year == nothing


# --- getAssessments -------------------------------------------------------------------------

TYPICAL_AT_7 = {"S1": 10, "S2": 6, "R1": 7, "L1": 6, "C1": 6}  # for 4–8 years


def _assessed(db, org, kid, on: date, scores: dict[str, int], *, complete: bool = True):  # type: ignore[no-untyped-def]
    row = ops.start_assessment(
        db, kid, assessed_on=on, today=date(2026, 11, 23), actor=org.clinician
    )
    ops.save_ratings(db, row, scores, actor=org.clinician)
    if complete:
        ops.complete_assessment(db, row, kid, actor=org.clinician)
    return row.id


def _assessed_child(db, org, name: str = "Robin"):  # type: ignore[no-untyped-def]
    """A child born 2 April 2018, assessed at 7½ (typical for 4–8 years) and at 8, with a
    newer draft."""
    with f.in_org(org):
        db.add(build_framework(FRAMEWORK, source="import"))
        kid = f.child(db, org, name=name).child
        first = _assessed(db, org, kid, date(2025, 10, 2), TYPICAL_AT_7)
        second = _assessed(db, org, kid, date(2026, 4, 2), SCORES)
        _assessed(db, org, kid, date(2026, 11, 1), {"S1": 3}, complete=False)
    db.commit()
    return kid.id, first, second


def _domains(row: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (d["domain"], d["score"], d["expected"], d["percent"], d["band"],
         d["developmental_age"] and d["developmental_age"]["label"])
        for d in row["domains"]
    ]  # fmt: skip


def test_a_clinician_reads_the_complete_assessments_newest_first(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    alpha_id = alpha.id
    kid_id, first, second = _assessed_child(db, alpha)
    secret = token_for(db, alpha, alpha.clinician)
    response = client.get(f"/api/v1/children/{kid_id}/assessments", headers=bearer(secret))
    assert response.status_code == 200
    body = response.get_json()
    assert body["child_id"] == kid_id
    newest, oldest = body["assessments"]  # the draft is not listed
    assert (newest["id"], newest["assessed_on"], newest["age_months"]) == (second, "2026-04-02", 96)
    assert (oldest["id"], oldest["assessed_on"], oldest["age_months"]) == (first, "2025-10-02", 90)
    assert newest["framework"] == {"key": "small", "version": 1, "name": "Small test framework"}
    assert [newest["age_band"]["code"], oldest["age_band"]["code"]] == ["8-18y", "4-8y"]
    # Default thresholds: red below 60%, green from 85%. Developmental ages as the map page.
    assert _domains(newest) == [
        ("sensory_integration", 16, 20, 80.0, "yellow", "4–8 years"),
        ("self_regulation", 3, 10, 30.0, "red", None),
        ("relational", 5, 10, 50.0, "red", "0–4 years"),
        ("cognitive", 8, 10, 80.0, "yellow", "4–8 years"),
    ]
    assert _domains(oldest) == [
        ("sensory_integration", 16, 16, 100.0, "green", "4–8 years"),
        ("self_regulation", 7, 7, 100.0, "green", "4–8 years"),
        ("relational", 6, 6, 100.0, "green", "4–8 years"),
        ("cognitive", 6, 6, 100.0, "green", "4–8 years"),
    ]
    assert newest["items"] == [
        {"code": "S1", "domain": "sensory_integration", "score": 12},
        {"code": "S2", "domain": "sensory_integration", "score": 4},
        {"code": "R1", "domain": "self_regulation", "score": 3},
        {"code": "L1", "domain": "relational", "score": 5},
        {"code": "C1", "domain": "cognitive", "score": 8},
    ]
    [viewed] = _audited(db, alpha_id, "assessment.viewed")
    assert (viewed.object_type, viewed.object_id) == ("child", str(kid_id))
    assert viewed.detail == {"child_id": kid_id, "page": "api", "assessment_ids": [second, first]}


def test_who_may_read_assessments(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    alpha_id, admin_id = alpha.id, alpha.admin.id
    kid_id, _, _ = _assessed_child(db, alpha)
    theirs, _, _ = _assessed_child(db, beta, "Sasha")
    with f.in_org(alpha):
        outsider = children.add_child(
            db,
            children.ChildDetails("Theo", "Brookes", date(2018, 1, 1)),
            actor=alpha.admin,
            actor_membership=membership_for(db, alpha.admin),
            default_time_zone="Europe/London",
            today=date(2026, 11, 23),
        ).id  # added by the admin: no clinician on Theo's team
    db.commit()
    admin, clinician, carer, teacher = (
        token_for(db, alpha, p) for p in (alpha.admin, alpha.clinician, alpha.carer, alpha.teacher)
    )
    url = "/api/v1/children/{}/assessments"
    assert len(client.get(url.format(kid_id), headers=bearer(admin)).get_json()["assessments"]) == 2
    for secret in (carer, teacher):  # on the team, not its clinicians
        response = client.get(url.format(kid_id), headers=bearer(secret))
        assert response.status_code == 403
        assert response.get_json()["error"] == {
            "code": "forbidden",
            "message": "Assessments are for the child's clinicians and admins.",
            "field": None,
        }
    missing = client.get(url.format(MISSING), headers=bearer(admin))
    assert missing.status_code == 404
    for secret, child_id in [(admin, theirs), (clinician, outsider)]:
        response = client.get(url.format(child_id), headers=bearer(secret))
        assert (response.status_code, response.get_json()) == (404, missing.get_json())
        assert "Sasha" not in response.get_data(as_text=True)
    # Only the reading that was allowed is in the audit trail.
    assert [e.actor_id for e in _audited(db, alpha_id, "assessment.viewed")] == [admin_id]


def test_assessments_run_a_fixed_number_of_statements(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    kid_id, _, _ = _assessed_child(db, alpha)
    with f.in_org(alpha):
        kid = f.child(db, alpha, name="Kit").child
        _assessed(db, alpha, kid, date(2026, 4, 2), SCORES)
    db.commit()
    secret = token_for(db, alpha, alpha.clinician)
    one = _statements(client, db, secret, f"/api/v1/children/{kid.id}/assessments")
    more = _statements(client, db, secret, f"/api/v1/children/{kid_id}/assessments")
    assert one == more


# --- the OpenAPI document -------------------------------------------------------------------


def _conforms(spec: dict[str, Any], schema: str, value: Any) -> None:
    document = {"$ref": f"#/components/schemas/{schema}", "components": spec["components"]}
    errors = list(Draft202012Validator(document).iter_errors(value))
    assert not errors, [e.message for e in errors]


def test_both_operations_are_described_and_the_answers_match(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    spec = client.get("/api/v1/openapi.json").get_json()
    validate(spec)
    paths = spec["paths"]
    adherence = paths["/children/{child_id}/adherence"]["get"]
    assessments = paths["/children/{child_id}/assessments"]["get"]
    assert [adherence["operationId"], assessments["operationId"]] == OPERATIONS
    query = {p["name"]: p["required"] for p in adherence["parameters"] if p["in"] == "query"}
    assert query == {"from": True, "to": True}
    assert {"401", "404", "422"} <= set(adherence["responses"])
    assert {"401", "403", "404"} <= set(assessments["responses"])

    kid_id, _, _ = _assessed_child(db, alpha)
    with f.in_org(alpha):
        kid = _seed(db, alpha, "Sam")
    db.commit()
    secret = token_for(db, alpha, alpha.clinician)
    for window in [("2026-09-01", "2026-11-23"), ("2025-01-01", "2025-01-02")]:
        _conforms(spec, "Adherence", _get(client, secret, kid.id, *window).get_json())
    listed = client.get(f"/api/v1/children/{kid_id}/assessments", headers=bearer(secret))
    for row in listed.get_json()["assessments"]:
        _conforms(spec, "Assessment", row)
    bad = _get(client, secret, kid.id, "2026-11-02", "nope")
    _conforms(spec, "Error", bad.get_json())
