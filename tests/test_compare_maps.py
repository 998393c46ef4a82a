"""Comparing a child's maps over time: any two complete assessments side by side with the
change per item and per domain, and all of them as small multiples, oldest first."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from routines import assessments as ops
from routines import models as m
from routines.frameworks import build_framework
from routines.map_svg import domain_label
from tests import routine_factories as f
from tests.conftest import count_statements, sign_in
from tests.test_assessments import _user, as_user
from tests.test_reassessment import SECOND, WRITTEN, assessed, base, story, views


# A second framework: SI6 is gone, NEW1 is new; every other item keeps its code.
def _next_framework(first: m.Framework) -> dict:  # type: ignore[type-arg]
    items = [
        {"code": i.code, "domain": i.domain, "label": i.label, "expected": dict(i.expected)}
        for i in first.items
        if i.code != "SI6"
    ]
    items.append(
        {
            "code": "NEW1",
            "domain": "relational",
            "label": "Asks for help",
            "expected": {b["code"]: 6 for b in first.age_bands},
        }
    )
    return {"key": "next", "name": "Next framework", "age_bands": first.age_bands, "items": items}


def _words(change: int) -> str:
    return "no change" if change == 0 else f"up {change}" if change > 0 else f"down {-change}"


def _row(html: str, label: str) -> str:
    found = re.search(
        rf'<th scope="row" data-label="(?:Item|Domain)">{re.escape(label)}</th>(.*?)</tr>',
        html,
        re.S,
    )
    assert found, label
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


def test_two_assessments_side_by_side_per_item_and_domain(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    s = story(db, alpha)
    sign_in(client, alpha.clinician.email)
    # given later first: still shown oldest first
    page = client.get(f"{base(s)}/compare?a={s.second.id}&b={s.first.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "From 1 September 2026 to 20 November 2026" in html
    assert "used different frameworks" not in html
    assert html.count("<svg") == 2 and "<script" not in html and "style=" not in html
    then, now = ops.scores_of(s.first), ops.scores_of(s.second)
    for item in s.second.framework.items:
        label = f"{item.code} · {item.label}"
        was, is_ = then[item.code], now[item.code]
        row = _row(html, label)
        assert row.endswith(_words(is_ - was)), (label, row)
        assert f" {was} (" in f" {row}" and f" {is_} (" in row
    assert _row(html, "SI1 · Steady body rhythms").endswith("up 3")
    assert _row(html, "SI2 · Sleep and waking").endswith("down 1")
    # per domain: sums of the item scores, and percent of age-typical then and now
    with f.in_org(alpha):
        first_map, second_map = ops.map_for(s.first, alpha.org), ops.map_for(s.second, alpha.org)
    for d in first_map.domains:
        after = second_map.domain(d.domain)
        row = _row(html, domain_label(d.domain))
        assert row.startswith(f"{d.score} (") and f"{after.score} (" in row
        assert row.endswith(_words(after.score - d.score))
    assert "up 2" in _row(html, "Sensory integration")
    # written out, not colour alone
    assert 'class="change change-up">up 3<' in html and 'class="change change-down">down 1<' in html
    assert views(db, alpha.id)[-1] == {
        "page": "compare",
        "assessments": [s.first.id, s.second.id],
    }


def test_items_new_or_gone_between_frameworks(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    s = story(db, alpha)
    with f.in_org(alpha):
        db.add(build_framework(_next_framework(s.second.framework), source="import"))
        db.flush()
        third = assessed(db, alpha, s.child, WRITTEN, lambda _: {"NEW1": 5})
        assert third.framework.key == "next" and ops.scores_of(third)["NEW1"] == 5
        third_id = third.id
    db.commit()
    sign_in(client, alpha.clinician.email)
    html = client.get(f"{base(s)}/compare?a={s.second.id}&b={third_id}").get_data(as_text=True)
    assert (
        _row(html, "NEW1 · Asks for help")
        == "Relational — (not in that framework) 5 (83.3%) not rated then"
    )
    assert _row(html, "SI6 · Startle and recovery").endswith("not rated now")
    assert "(not in that framework)" in _row(html, "SI6 · Startle and recovery")
    # the sensory domain lost SI6's 12: its sum shows that, in words, with a word of warning
    assert _row(html, "Sensory integration").endswith("down 12")
    assert "These two assessments used different frameworks" in html
    # NEW1 is later in the list than the other relational items, before cognitive
    assert html.index("RE6 ·") < html.index("NEW1 ·") < html.index("CO1 ·")


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("", 400, "Choose two complete assessments to compare"),
        ("a={first}", 400, "Choose two complete assessments to compare"),
        ("a={first}&b=", 400, "Choose two complete assessments to compare"),
        ("a=one&b={second}", 400, "a must be the number of one of the child"),
        ("a={first}&b=2.5", 400, "b must be the number of one of the child"),
        ("a={first}&b=-3", 400, "b must be the number of one of the child"),
        ("a={first}&b=99999999999999999999", 400, "b must be the number"),
        ("a={first}&b=%EF%BC%91", 400, "b must be the number"),  # a full-width digit one
        ("a={first}&b={first}", 400, "Choose two different assessments"),
        ("a={first}&b={draft}", 400, "is still a draft: complete it first"),
        ("a={first}&b=999999", 404, "There is nothing here"),
        ("a={first}&b={other_child}", 404, "There is nothing here"),
        ("a={first}&b={other_org}", 404, "There is nothing here"),
    ],
)
def test_bad_ids_are_refused_clearly(client, db, orgs, query, status, message):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    s = story(db, alpha)
    other_org = story(db, beta, seed=2)
    with f.in_org(alpha):
        sibling = f.child(db, alpha, name="Sam").child
        other_child = assessed(db, alpha, sibling, SECOND)
        draft = ops.start_assessment(
            db, s.child, assessed_on=WRITTEN, today=WRITTEN, actor=alpha.clinician
        )
        ids = {
            "first": s.first.id,
            "second": s.second.id,
            "draft": draft.id,
            "other_child": other_child.id,
            "other_org": other_org.second.id,
        }
    db.commit()
    sign_in(client, alpha.clinician.email)
    before = len(views(db, alpha.id))
    response = client.get(f"{base(s)}/compare?{query.format(**ids)}")
    assert response.status_code == status
    assert message in response.get_data(as_text=True).replace("&#39;", "'")
    assert len(views(db, alpha.id)) == before  # nothing shown, nothing recorded


def test_all_maps_oldest_first_with_links_to_compare_neighbours(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    s = story(db, alpha)
    with f.in_org(alpha):
        third = assessed(db, alpha, s.child, date(2026, 10, 15))  # between the two
        ops.start_assessment(db, s.child, assessed_on=WRITTEN, today=WRITTEN, actor=alpha.clinician)
        order = [s.first.id, third.id, s.second.id]
    db.commit()
    sign_in(client, alpha.clinician.email)
    page = client.get(f"{base(s)}/all")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count("<svg") == 3  # the draft is not drawn
    assert [int(x) for x in re.findall(r'id="map-(\d+)-title"', html)] == order
    captions = re.findall(r"<strong>([^<]+)</strong><br>\s*aged ([^<\n]+)", html)
    assert captions == [
        ("1 September 2026", "8 years 4 months"),
        ("15 October 2026", "8 years 6 months"),
        ("20 November 2026", "8 years 7 months"),
    ]
    pairs = re.findall(r"compare\?a=(\d+)&amp;b=(\d+)", html)
    assert [(int(a), int(b)) for a, b in pairs] == list(zip(order, order[1:], strict=False))
    assert "Compare 1 September 2026 with 15 October 2026" in html
    reports = re.findall(r'/assessments/(\d+)/report"', html)
    assert [int(x) for x in reports] == order[1:]  # every map but the first has a report
    assert "Sensory integration: 50% (red)" in html
    assert views(db, alpha.id)[-1] == {"page": "all_maps", "assessments": order}
    # each neighbour link works
    for a, b in pairs:
        assert client.get(f"{base(s)}/compare?a={a}&b={b}").status_code == 200


def test_all_maps_without_a_complete_assessment(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with f.in_org(alpha):
        child = f.child(db, alpha).child
    db.commit()
    sign_in(client, alpha.clinician.email)
    page = client.get(f"/o/alpha/children/{child.id}/assessments/all")
    assert page.status_code == 200 and "No complete assessments yet" in page.text


def test_who_may_see_reports_and_compare_maps(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    s = story(db, alpha)
    other = story(db, beta, seed=3)
    with f.in_org(alpha):
        _user(db, alpha, "clinician", "clinician2")  # a clinician on no team
    db.commit()
    urls = [
        f"{base(s)}/{s.second.id}/report",
        f"{base(s)}/{s.second.id}/report.pdf",
        f"{base(s)}/compare?a={s.first.id}&b={s.second.id}",
        f"{base(s)}/all",
    ]
    expected = {
        alpha.admin.email: 200,
        alpha.carer.email: 403,  # on the team, but no clinical scores
        alpha.teacher.email: 403,
        "clinician2@alpha.example": 404,  # not on the child's team
        beta.admin.email: 404,  # another organisation
        beta.clinician.email: 404,
    }
    for email, status in expected.items():
        client_as = as_user(client, email)
        for url in urls:
            assert client_as.get(url).status_code == status, (email, url)
    # an assessment of beta's under alpha's child, and alpha's under beta's: not found
    sign_in(client, alpha.clinician.email)
    assert client.get(f"{base(s)}/{other.second.id}/report").status_code == 404
    assert client.get(f"{base(s)}/{other.second.id}/report.pdf").status_code == 404
    assert client.get(f"{base(other)}/{s.second.id}/report").status_code == 404
    assert client.get(f"{base(other)}/all").status_code == 404


def test_the_report_and_small_multiples_run_a_fixed_number_of_statements(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    s = story(db, alpha)
    sign_in(client, alpha.clinician.email)

    def statements(url: str) -> int:
        client.get(url)  # warm: templates, the signed-in session
        db.expire_all()  # nothing answered from the identity map
        with count_statements(db) as counted:
            assert client.get(url).status_code == 200
        return counted.total

    two = statements(f"{base(s)}/all"), statements(f"{base(s)}/{s.second.id}/report")
    with f.in_org(alpha):
        for day in (date(2026, 9, 15), date(2026, 10, 1), date(2026, 10, 15), WRITTEN):
            latest = assessed(db, alpha, s.child, day)
        complete = db.scalars(select(m.Assessment.id).where(m.Assessment.status == "complete"))
        assert len(complete.all()) == 6
    db.commit()
    six = statements(f"{base(s)}/all"), statements(f"{base(s)}/{latest.id}/report")
    assert six == two
    assert max(two) <= 30  # PostgreSQL adds a set_config per transaction
