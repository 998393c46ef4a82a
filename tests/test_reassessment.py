"""Reassessment: a new assessment starts from the previous one; beside each domain, the change
since then and the adherence and dose in that domain; the one-page report as HTML and PDF."""

from __future__ import annotations

import random
import re
import sys
import uuid
import zlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from fractions import Fraction

import pytest
from sqlalchemy import func, select, update

from routines import assessments as ops
from routines import metrics, rollups
from routines import models as m
from routines import reassessment as re_ops
from routines.frameworks import build_framework, current_framework
from tenants.context import cross_tenant
from tenants.models import AuditEvent, Organisation
from tests import routine_factories as f
from tests.conftest import post_form, sign_in

FIRST = date(2026, 9, 1)
SECOND = date(2026, 11, 20)
WRITTEN = date(2026, 11, 23)  # the `today` the assessments were started with
T0 = datetime(2026, 11, 1, tzinfo=UTC)
NIGHT = datetime(2026, 11, 18, 3, 0, tzinfo=UTC)  # rollups stored through 17 November


@dataclass
class Story:
    org: object
    child: m.Child
    first: m.Assessment
    second: m.Assessment
    activities: dict[str, int]


def assessed(db, org, child, on: date, change=None):  # type: ignore[no-untyped-def]
    """A complete assessment on `on`, started (from the previous one, if any) and changed."""
    a = ops.start_assessment(db, child, assessed_on=on, today=WRITTEN, actor=org.clinician)
    if not a.ratings:
        items = a.framework.items
        ops.save_ratings(
            db, a, {item.code: (i * 5) % 13 for i, item in enumerate(items)}, actor=org.clinician
        )
    if change:
        ops.save_ratings(db, a, change(ops.scores_of(a)), actor=org.clinician)
    ops.complete_assessment(db, a, child, actor=org.clinician)
    return a


def _raise_two_sensory_items(scores):  # type: ignore[no-untyped-def]
    return {"SI1": min(12, scores["SI1"] + 3), "SI2": max(0, scores["SI2"] - 1)}


def routines_between(db, org, child, rng: random.Random) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Rocking and a bath at home daily, a movement break at school on weekdays, from the
    first assessment on; every routine before 22 November has an outcome, most with a log."""
    rocking, bath, movement = (
        f.activity(db, "Rocking chair", 5),
        f.activity(db, "Warm bath", 10),
        f.activity(db, "Movement break", 10),
    )
    every_day = {"days": f.EVERY_DAY, "mode": "times"}
    f.publish(
        db,
        child,
        [
            f.item(rocking, frequency={**every_day, "times": ["07:30"]}, start=FIRST),
            f.item(
                bath,
                frequency={**every_day, "times": ["19:30"]},
                minutes=10,
                domain="relational",
                start=FIRST,
            ),
            f.item(
                movement,
                assignee="classroom",
                frequency={"days": [0, 1, 2, 3, 4], "mode": "times", "times": ["10:15"]},
                minutes=10,
                domain="self_regulation",
                start=FIRST,
            ),
        ],
        effective_from=FIRST,
        now=datetime(2026, 9, 1, tzinfo=UTC),
        horizon_days=100,
    )
    occurrences = db.scalars(
        select(m.Occurrence)
        .where(m.Occurrence.child_id == child.id, m.Occurrence.local_date < date(2026, 11, 22))
        .order_by(m.Occurrence.local_date, m.Occurrence.id)  # the same story on every database
    ).all()
    for occ in occurrences:
        occ.status = rng.choice(["done", "done", "partly", "skipped", "missed", "excused"])
        if occ.activity_id == rocking.id:  # the rocking chair is (nearly) always done
            occ.status = "done" if rng.random() < 0.9 else "excused"
        if occ.status in ("done", "partly", "skipped"):
            db.add(
                m.RoutineLog(
                    client_uuid=uuid.uuid4(),
                    payload_hash="x" * 64,
                    occurrence_id=occ.id,
                    child_id=occ.child_id,
                    status=occ.status,
                    reason="no_time" if occ.status == "skipped" else None,
                    minutes=rng.choice([None, 4, 12]),
                    source="web",
                    logged_at=occ.due_at,
                )
            )
    db.flush()
    db.execute(
        update(m.Occurrence)
        .where(m.Occurrence.child_id == child.id)
        .values(updated_at=T0)
        .execution_options(synchronize_session=False)
    )
    return {"rocking": rocking.id, "bath": bath.id, "movement": movement.id}


def story(db, org, seed: int = 6) -> Story:  # type: ignore[no-untyped-def]
    with f.in_org(org):
        fam = f.child(db, org)
        first = assessed(db, org, fam.child, FIRST)
        acts = routines_between(db, org, fam.child, random.Random(seed))
        second = assessed(db, org, fam.child, SECOND, _raise_two_sensory_items)
        rollups.roll_up(db, now=NIGHT)
    db.commit()
    return Story(org, fam.child, first, second, acts)


def base(s: Story) -> str:
    return f"/o/{s.org.slug}/children/{s.child.id}/assessments"  # type: ignore[attr-defined]


def independent(db, child_id: int, start: date, end: date):  # type: ignore[no-untyped-def]
    """Per domain and per activity, from the raw occurrences and logs with routines.metrics
    only: (tally, dose minutes)."""
    found = (
        select(m.Occurrence, m.RoutineLog.minutes, m.PlanItem.domain)
        .outerjoin(m.RoutineLog, m.RoutineLog.occurrence_id == m.Occurrence.id)
        .join(m.PlanItem, m.PlanItem.id == m.Occurrence.plan_item_id)
        .where(
            m.Occurrence.child_id == child_id,
            m.Occurrence.local_date >= start,
            m.Occurrence.local_date <= end,
            m.Occurrence.status != "withdrawn",
        )
    )
    by_domain, by_activity = defaultdict(list), defaultdict(list)
    for occ, logged, domain in db.execute(found):
        outcome = metrics.Outcome(
            occ.local_date, occ.status, domain, occ.activity_id, occ.minutes, logged
        )
        by_domain[domain].append(outcome)
        by_activity[occ.activity_id].append(outcome)
    return by_domain, by_activity


def domain_totals(db, assessment_id: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    rows = db.execute(
        select(m.FrameworkItem.domain, func.sum(m.ItemRating.score))
        .join(m.ItemRating, m.ItemRating.item_id == m.FrameworkItem.id)
        .where(m.ItemRating.assessment_id == assessment_id)
        .group_by(m.FrameworkItem.domain)
    )
    return {domain: int(total) for domain, total in rows}


def set_threshold(db, org_id: int, threshold: float) -> None:  # type: ignore[no-untyped-def]
    # A request ends the session it ran in: change the row through the current one.
    db.get(Organisation, org_id).adherence_threshold = threshold
    db.commit()


def views(db, org_id: int) -> list[dict]:  # type: ignore[no-untyped-def]
    with cross_tenant("test: read the audit trail"):
        return [
            e.detail
            for e in db.scalars(
                select(AuditEvent)
                .where(AuditEvent.tenant_id == org_id, AuditEvent.action == "assessment.viewed")
                .order_by(AuditEvent.id)
            )
        ]


# --- starting from the previous assessment ---------------------------------------------------

SMALL = {
    "key": "small",
    "name": "Small framework",
    "scale_max": 10,
    "age_bands": [
        {"code": "0-8y", "label": "0–8 years", "from_months": 0, "to_months": 96},
        {"code": "8-18y", "label": "8–18 years", "from_months": 96, "to_months": 216},
    ],
    "items": [
        {"code": "SI1", "domain": "sensory_integration", "label": "Rhythm", "expected": {"0-8y": 6, "8-18y": 9}},  # noqa: E501
        {"code": "SI6", "domain": "sensory_integration", "label": "Touch", "expected": {"0-8y": 5, "8-18y": 8}},  # noqa: E501
        {"code": "SR1", "domain": "self_regulation", "label": "Settling", "expected": {"0-8y": 5, "8-18y": 8}},  # noqa: E501
        {"code": "NEW1", "domain": "relational", "label": "A new item", "expected": {"0-8y": 4, "8-18y": 8}},  # noqa: E501
    ],
}  # fmt: skip


def test_a_new_assessment_starts_from_the_latest_complete_one(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with f.in_org(alpha):
        child = f.child(db, alpha).child
        first = assessed(db, alpha, child, date(2025, 3, 3))
        # made later, dated earlier, rated differently
        older = assessed(db, alpha, child, date(2024, 6, 1), lambda _: {"SI1": 7, "CO6": 1})
        assert ops.scores_of(older) != ops.scores_of(first)
        draft = ops.start_assessment(
            db, child, assessed_on=date(2026, 3, 3), today=WRITTEN, actor=alpha.clinician
        )
        # the same framework: every rating copied, and the copy is the draft's own
        assert ops.scores_of(draft) == ops.scores_of(first)
        assert {r.id for r in draft.ratings}.isdisjoint({r.id for r in first.ratings})
        assert draft.status == "draft" and ops.previous_complete(db, draft) is first
        # dated between the two: starts from the older one
        between = ops.start_assessment(
            db, child, assessed_on=date(2024, 12, 1), today=WRITTEN, actor=alpha.clinician
        )
        assert ops.scores_of(between) == ops.scores_of(older)
        assert ops.previous_complete(db, between) is older
        # before any complete assessment: nothing to start from
        blank = ops.start_assessment(
            db, child, assessed_on=date(2023, 1, 1), today=WRITTEN, actor=alpha.clinician
        )
        assert blank.ratings == [] and ops.previous_complete(db, blank) is None
        # a new framework: matched by code; new items unrated; off its scale left unrated
        db.add(build_framework(SMALL, source="import"))
        db.flush()
        assert current_framework(db).key == "small"
        scores = ops.scores_of(first)
        assert (scores["SI1"], scores["SI6"], scores["SR1"]) == (0, 12, 4)
        expected = {"SI1": 0, "SR1": 4}  # SI6's 12 is off the new 0-10 scale
        moved = ops.start_assessment(
            db, child, assessed_on=date(2026, 4, 1), today=WRITTEN, actor=alpha.clinician
        )
        assert ops.scores_of(moved) == expected and "NEW1" not in ops.scores_of(moved)
        ids = (first.id, draft.id, moved.id, older.id)
    db.commit()
    with cross_tenant("test: read the audit trail"):
        created = {
            int(e.object_id): e.detail
            for e in db.scalars(select(AuditEvent).where(AuditEvent.action == "assessment.created"))
        }
    first_id, draft_id, moved_id, older_id = ids
    assert created[draft_id]["started_from"] == first_id
    assert created[draft_id]["copied"] == 24  # Cadence's default framework
    assert (created[moved_id]["started_from"], created[moved_id]["copied"]) == (first_id, 2)
    assert created[older_id]["started_from"] is None and created[older_id]["copied"] == 0

    sign_in(client, alpha.clinician.email)
    page = client.get(f"/o/alpha/children/{child.id}/assessments/{draft_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Started from the assessment of 3 March 2025; change what has changed." in html
    listing = client.get(f"/o/alpha/children/{child.id}/assessments/").get_data(as_text=True)
    assert "starts from the scores of the latest complete assessment" in listing


def test_starting_a_draft_through_the_page_copies_and_says_so(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    s = story(db, alpha)
    sign_in(client, alpha.clinician.email)
    started = post_form(
        client, f"{base(s)}/new", {"assessed_on": "2026-11-21"}, token_from=f"{base(s)}/"
    )
    assert started.status_code == 303
    draft_id = int(started.headers["Location"].rsplit("/", 1)[1])
    with f.in_org(alpha):
        draft = db.get(m.Assessment, draft_id)
        assert ops.scores_of(draft) == ops.scores_of(db.get(m.Assessment, s.second.id))
    html = client.get(started.headers["Location"]).get_data(as_text=True)
    assert "Started from the assessment of 20 November 2026" in html
    # every domain unchanged so far
    assert html.count('class="change change-same">no change<') == 4


# --- per-domain change, adherence and dose ---------------------------------------------------


def test_per_domain_change_adherence_and_dose_equal_an_independent_count(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    story(db, beta, seed=9)  # another organisation's child, never counted
    s = story(db, alpha)
    with f.in_org(alpha):
        summary = re_ops.reassess(db, s.second, alpha.org, today=WRITTEN)
        assert summary is not None and summary.previous.id == s.first.id
        assert (summary.date_from, summary.date_to, summary.clipped) == (FIRST, SECOND, False)
        then, now = domain_totals(db, s.first.id), domain_totals(db, s.second.id)
        by_domain, _ = independent(db, s.child.id, FIRST, SECOND)
        first_map = ops.map_for(s.first, alpha.org)
    days = (SECOND - FIRST).days + 1
    assert [d.change.domain for d in summary.domains] == list(metrics.DOMAINS)
    assert sum(len(v) for v in by_domain.values()) > 100
    for d in summary.domains:
        domain = d.change.domain
        assert (d.change.before, d.change.after) == (then[domain], now[domain])
        assert d.change.change == now[domain] - then[domain]
        assert d.change.before_percent == first_map.domain(domain).percent
        outcomes = by_domain.get(domain, [])
        assert d.adherence == metrics.tally(o.status for o in outcomes).adherence
        assert d.dose_per_week == Fraction(sum(map(metrics.dose_minutes, outcomes)) * 7, days)
    sensory = summary.domains[0]
    assert sensory.change.words.startswith("up ") and sensory.change.direction == "up"
    assert summary.domains[3].adherence is None  # no cognitive routines
    assert summary.domains[3].change.words == "no change"

    sign_in(client, alpha.clinician.email)
    page = client.get(f"{base(s)}/{s.second.id}/report")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for d in summary.domains:
        row = re.search(
            rf'<th scope="row" data-label="Domain">{d.change.label}</th>(.*?)</tr>', html, re.S
        )
        assert row, d.change.label
        cells = row.group(1)
        assert f">{d.change.words}<" in cells
        assert re_ops.adherence_words(d.adherence) in cells
        assert re_ops.minutes_words(d.dose_per_week) in cells
    assert "no routines counted" in html
    # the rating page of the complete assessment shows the same beside each domain
    rating = client.get(f"{base(s)}/{s.second.id}").get_data(as_text=True)
    for d in summary.domains:
        block = re.search(
            rf'<dl class="facts since" data-domain="{d.change.domain}">(.*?)</dl>', rating, re.S
        )
        assert block and f">{d.change.words}<" in block.group(1)
        assert re_ops.adherence_words(d.adherence) in block.group(1)
    assert "Compared with the assessment of 1 September 2026" in rating


def test_a_drafts_routines_run_to_the_childs_today(db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    s = story(db, alpha)
    with f.in_org(alpha):
        draft = ops.start_assessment(
            db, s.child, assessed_on=SECOND, today=WRITTEN, actor=alpha.clinician
        )
        ops.save_ratings(db, draft, {"SI1": None, "SI2": None}, actor=alpha.clinician)
        today = date(2026, 11, 23)
        summary = re_ops.reassess(db, draft, alpha.org, today=today)
        by_domain, _ = independent(db, s.child.id, SECOND, today)
    assert summary is not None and summary.previous.id == s.second.id
    assert (summary.date_from, summary.date_to) == (SECOND, today)
    sensory = summary.domains[0]
    assert sensory.rated == sensory.items - 2 and sensory.change.after_percent is None
    # a partly rated domain's sum is not compared with a whole one
    assert sensory.change.change is None
    assert sensory.change.words == "shown once every item is rated"
    assert summary.domains[1].change.words == "no change"
    outcomes = by_domain["sensory_integration"]
    assert sensory.adherence == metrics.tally(o.status for o in outcomes).adherence


@pytest.mark.parametrize(
    ("ratio", "words"),
    [
        (None, "no routines counted"),
        (Fraction(4, 5), "80%"),
        (Fraction(3999, 5000), "79.9%"),  # never rounded up to the threshold
        (Fraction(2, 3), "66.6%"),
        (Fraction(1), "100%"),
        (Fraction(0), "0%"),
    ],
)
def test_adherence_in_words(ratio, words):  # type: ignore[no-untyped-def]
    assert re_ops.adherence_words(ratio) == words


def test_minutes_a_week_and_ages_in_words():  # type: ignore[no-untyped-def]
    assert re_ops.minutes_words(Fraction(1, 2)) == "1 minute a week"
    assert re_ops.minutes_words(Fraction(34, 1)) == "34 minutes a week"
    assert re_ops.age_words(100) == "8 years 4 months" and re_ops.age_words(12) == "1 year"
    assert re_ops.long_date(date(2026, 3, 3)) == "3 March 2026"


# --- the report --------------------------------------------------------------------------------


def test_activities_below_the_threshold_are_flagged_for_review(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    s = story(db, alpha)
    with f.in_org(alpha):
        # the warm bath at exactly one half: done, missed, done, missed...
        bath = m.Occurrence.activity_id == s.activities["bath"]
        baths = db.scalars(
            select(m.Occurrence)
            .where(bath, m.Occurrence.local_date <= SECOND)
            .order_by(m.Occurrence.local_date)
        ).all()
        for n, occ in enumerate(baths):
            occ.status = "done" if n % 2 == 0 else "missed"
        if len(baths) % 2:
            baths[-1].status = "excused"
        db.commit()  # before any request ends the session
        _, by_activity = independent(db, s.child.id, FIRST, SECOND)
        tallies = {a: metrics.tally(o.status for o in v) for a, v in by_activity.items()}
        adherence = {a: t.adherence for a, t in tallies.items()}
    assert adherence[s.activities["bath"]] == Fraction(1, 2)
    assert adherence[s.activities["rocking"]] == 1
    sign_in(client, alpha.clinician.email)

    row = re.compile(
        r'data-label="Activity">([^<]+)</th>\s*<td data-label="Adherence">([^<]+)</td>\s*'
        r'<td data-label="Scheduled">(\d+)'
    )

    def flagged(threshold: float) -> dict[str, tuple[str, int]]:
        set_threshold(db, alpha.id, threshold)
        html = client.get(f"{base(s)}/{s.second.id}/report").get_data(as_text=True)
        return {name: (words, int(n)) for name, words, n in row.findall(html)}

    names = {s.activities["bath"]: "Warm bath", s.activities["movement"]: "Movement break"}
    for threshold in (0.5, 0.51, 0.8, 1.0):
        expected = {  # scheduled: every routine of the window but those not yet due
            names[a]: (re_ops.adherence_words(adherence[a]), len(by_activity[a]))
            for a in names
            if not metrics.at_least(adherence[a], threshold)
        }
        assert flagged(threshold) == expected, threshold
    assert "Warm bath" not in flagged(0.5)  # exactly at the threshold is not below it
    assert "Warm bath" in flagged(1.0)
    html = client.get(f"{base(s)}/{s.second.id}/report").get_data(as_text=True)
    assert "Nothing to review" not in html and '"badge badge-review">review</span>' in html
    set_threshold(db, alpha.id, 0.1)
    html = client.get(f"{base(s)}/{s.second.id}/report").get_data(as_text=True)
    assert "Nothing to review." in html and "threshold of 10%" in html


def test_the_report_page(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    s = story(db, alpha)
    sign_in(client, alpha.clinician.email)
    page = client.get(f"{base(s)}/{s.second.id}/report")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert html.count("<svg") == 2
    assert 'id="previous-map-title"' in html and 'id="current-map-title"' in html
    assert "<script" not in html and "style=" not in html
    assert "Reassessment report: Robin Ashdown" in html
    assert "1 September 2026 (aged 8 years 4 months) and 20 November 2026 (aged 8 years 7" in html
    assert "/static/report.css" in html and "report.pdf" in html
    assert views(db, alpha.id)[-1] == {"child_id": s.child.id, "page": "report"}


def _pdf_objects(pdf: bytes) -> bytes:
    """The PDF with its compressed streams (and object streams) inflated, to search."""
    parts = [pdf]
    for stream in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            parts.append(zlib.decompress(stream.group(1)))
        except zlib.error:
            continue
    return b"\n".join(parts)


def _pdf_title(objects: bytes) -> str:
    hexed = re.search(rb"/Title\s*<([0-9a-fA-F]+)>", objects)
    if hexed:
        return bytes.fromhex(hexed.group(1).decode()).decode("utf-16")
    literal = re.search(rb"/Title\s*\(((?:[^()\\]|\\.)*)\)", objects)
    assert literal, "the PDF has no title"
    return literal.group(1).decode("latin-1")


def test_the_pdf_is_one_real_page(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    s = story(db, alpha)
    sign_in(client, alpha.clinician.email)
    response = client.get(f"{base(s)}/{s.second.id}/report.pdf")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    pdf = response.get_data()
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        'inline; filename="reassessment-robin-ashdown-2026-11-20.pdf"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    assert pdf.startswith(b"%PDF-") and len(pdf) > 1024 and pdf.rstrip().endswith(b"%%EOF")
    objects = _pdf_objects(pdf)
    assert len(re.findall(rb"/Type\s*/Page\b", objects)) == 1
    assert "Robin Ashdown" in _pdf_title(objects)
    assert views(db, alpha.id)[-1] == {"child_id": s.child.id, "page": "report_pdf"}


def test_the_pdf_reads_only_static_files_from_disk(app):  # type: ignore[no-untyped-def]
    from portal.clinic.reassessment import _static_file

    with app.test_request_context("/", base_url="http://cadence.test/"):
        css = _static_file("http://cadence.test/static/report.css")
        assert css.name == "report.css" and b"@page" in css.read_bytes()
        for url in (
            "https://example.org/static/report.css",  # another host: never fetched
            "http://cadence.test/o/alpha/children/",  # not a static file
            "http://cadence.test/static/../../pyproject.toml",
            "http://cadence.test/static/%2e%2e/%2e%2e/pyproject.toml",
            "http://cadence.test/static/missing.css",
            "file:///etc/passwd",
        ):
            with pytest.raises(ValueError):
                _static_file(url)


def test_without_its_pdf_library_the_pdf_answers_503_pointing_to_the_html(
    client, db, orgs, monkeypatch
):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    s = story(db, alpha)
    sign_in(client, alpha.clinician.email)
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # as if it could not be imported
    response = client.get(f"{base(s)}/{s.second.id}/report.pdf")
    assert response.status_code == 503
    html = response.get_data(as_text=True)
    assert "The PDF cannot be made on this server" in html
    assert f"{base(s)}/{s.second.id}/report:" in html
    assert all(v.get("page") != "report_pdf" for v in views(db, alpha.id))


def test_reports_only_for_a_complete_assessment_with_a_previous_one(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    s = story(db, alpha)
    with f.in_org(alpha):
        draft = ops.start_assessment(
            db, s.child, assessed_on=WRITTEN, today=WRITTEN, actor=alpha.clinician
        )
        draft_id = draft.id
    db.commit()
    sign_in(client, alpha.clinician.email)
    first = client.get(f"{base(s)}/{s.first.id}/report")
    assert first.status_code == 200
    assert "nothing to compare it with yet" in first.get_data(as_text=True)
    assert "<svg" not in first.get_data(as_text=True)
    first_pdf = client.get(f"{base(s)}/{s.first.id}/report.pdf")
    assert first_pdf.status_code == 400
    assert "nothing to compare it with yet" in first_pdf.get_data(as_text=True)
    for suffix in ("report", "report.pdf"):
        refused = client.get(f"{base(s)}/{draft_id}/report".replace("report", suffix))
        assert refused.status_code == 400
        assert "Complete the assessment to see its reassessment report." in refused.text
        assert client.get(f"{base(s)}/999999/{suffix}").status_code == 404
    listing = client.get(f"{base(s)}/").get_data(as_text=True)
    assert listing.count("Reassessment report</a>") == 1  # only the second has a previous one
    assert f"a={s.first.id}&amp;b={s.second.id}" in listing


def test_the_pdf_maps_go_without_the_halo_weasyprint_cannot_draw(app, db, orgs):  # type: ignore[no-untyped-def]
    from flask import g

    from portal.clinic.reassessment import _map_svg

    alpha, _ = orgs
    s = story(db, alpha)
    with app.test_request_context(), f.in_org(alpha):
        g.org = db.get(Organisation, alpha.id)
        screen = str(_map_svg(s.child, s.second, "screen-map"))
        printed = str(_map_svg(s.child, s.second, "pdf-map", pdf=True))
    # browsers draw the white halo under the letters; WeasyPrint would draw it over them
    assert 'paint-order="stroke"' in screen and "paint-order" not in printed
    assert 'stroke="#ffffff"' not in printed
    assert printed.count("<text") == screen.count("<text") > 24
    assert printed.replace("pdf-map", "screen-map") == screen.replace(
        ' stroke="#ffffff" stroke-width="3" paint-order="stroke"', ""
    )
