"""Assessment frameworks: import with a full error report, versions, immutability of used
versions, and who may see and change what."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import date

import pytest
from sqlalchemy import func, select

from routines import children, content, framework_files
from routines import frameworks as framework_ops
from routines.models import Assessment, Framework, FrameworkItem
from tenants.context import cross_tenant, tenant_context
from tenants.models import AuditEvent
from tenants.organisations import membership_for
from tests.conftest import csrf_token, sign_in

# --- helpers -------------------------------------------------------------------------------


def template_rows() -> list[list[str]]:
    return list(csv.reader(io.StringIO(framework_files.template_csv())))


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8")


def default_json(**changes: object) -> dict:
    data = content.load_default_framework()
    data.update(changes)
    return data


def upload(client, slug: str, raw: bytes, filename: str, **fields: str):  # type: ignore[no-untyped-def]
    path = f"/o/{slug}/frameworks/import"
    token = csrf_token(client, path)
    data = {"csrf_token": token, "file": (io.BytesIO(raw), filename), **fields}
    return client.post(path, data=data, content_type="multipart/form-data")


def counts(db) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    with cross_tenant("test: count frameworks"):
        return (
            db.scalar(select(func.count(Framework.id))) or 0,
            db.scalar(select(func.count(FrameworkItem.id))) or 0,
            db.scalar(
                select(func.count(AuditEvent.id)).where(
                    AuditEvent.action.in_(["framework.imported", "framework.versioned"])
                )
            )
            or 0,
        )


def text_of(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(response.get_data(as_text=True))


def default_framework(db, org) -> Framework:  # type: ignore[no-untyped-def]
    with tenant_context(org.id):
        framework = framework_ops.ensure_default_framework(db)
        db.commit()
        return framework


def use_framework(db, org, framework: Framework) -> Assessment:  # type: ignore[no-untyped-def]
    """An assessment of a new child on `framework`, written directly."""
    with tenant_context(org.id):
        child = children.add_child(
            db,
            children.ChildDetails("Robin", "Ashdown", date(2018, 4, 2)),
            actor=org.clinician,
            actor_membership=membership_for(db, org.clinician),
            default_time_zone="Europe/London",
            today=date(2026, 11, 23),
        )
        assessment = Assessment(
            child_id=child.id, framework_id=framework.id, assessed_on=date(2026, 11, 1)
        )
        db.add(assessment)
        db.commit()
        return assessment


def item_form_data(framework: Framework, item: FrameworkItem, **changes: object) -> dict:
    data: dict = {"label": item.label, "description": item.description}
    for index, band in enumerate(framework.age_bands):
        data[f"band_{index}"] = str(item.expected[band["code"]])
    data.update(changes)
    return data


# --- parsing (no database) ----------------------------------------------------------------


def test_the_csv_template_round_trips_to_the_default_framework() -> None:
    data, problems = framework_files.parse_framework_csv(
        framework_files.template_csv(), key="cadence-default", name="Cadence functional map"
    )
    assert problems == []
    default = content.load_default_framework()
    assert data["age_bands"] == default["age_bands"]
    assert data["items"] == default["items"]


def test_band_codes_in_months_and_years() -> None:
    assert framework_files.band_from_code("2-6m") == {
        "code": "2-6m",
        "label": "2–6 months",
        "from_months": 2,
        "to_months": 6,
    }
    assert framework_files.band_from_code("4-6y")["from_months"] == 48
    assert framework_files.band_from_code("four") is None


def test_csv_report_names_every_row_with_a_problem() -> None:
    rows = template_rows()
    rows[2][1] = ""  # row 3: missing domain
    rows[5][-1] = "13"  # row 6: score out of range
    rows.append(list(rows[1]))  # a duplicate of row 2
    data, problems = framework_files.parse_framework_csv(
        csv_bytes(rows).decode(), key="k", name="N"
    )
    code3, code6, code2 = (rows[i][0] for i in (2, 5, 1))
    last = len(rows)
    assert f"row 3 ({code3}): missing domain" in problems
    assert f"row 6 ({code6}): expected score 13 for 14-18y is outside 0..12" in problems
    assert f"row {last} ({code2}): duplicate item code {code2!r} (already on row 2)" in problems


# --- import through the web ---------------------------------------------------------------


def _missing_domain(rows: list[list[str]]) -> tuple[list[list[str]], str]:
    rows[2][1] = ""
    return rows, f"row 3 ({rows[2][0]}): missing domain"


def _score_out_of_range(rows: list[list[str]]) -> tuple[list[list[str]], str]:
    rows[4][-1] = "99"
    return rows, f"row 5 ({rows[4][0]}): expected score 99 for 14-18y is outside 0..12"


def _duplicate_item(rows: list[list[str]]) -> tuple[list[list[str]], str]:
    code = rows[1][0]
    rows.insert(3, list(rows[1]))
    return rows, f"row 4 ({code}): duplicate item code '{code}' (already on row 2)"


def _bad_header(rows: list[list[str]]) -> tuple[list[list[str]], str]:
    rows[0][6] = "six-twelve"
    return rows, "row 1 (header): column 7 'six-twelve' is not an age band code"


def _missing_column(rows: list[list[str]]) -> tuple[list[list[str]], str]:
    rows = [row[:1] + row[2:] for row in rows]  # no domain column at all
    return rows, "row 1 (header): must start with the columns code,domain,label,description"


def _not_a_number(rows: list[list[str]]) -> tuple[list[list[str]], str]:
    rows[3][4] = "lots"
    return rows, f"row 4 ({rows[3][0]}): expected score for 0-2m must be a whole number"


def _short_row(rows: list[list[str]]) -> tuple[list[list[str]], str]:
    rows[2] = rows[2][:-1]
    return rows, f"row 3: has {len(rows[2])} cells, the header has {len(rows[0])}"


@pytest.mark.parametrize(
    "breaker",
    [
        _missing_domain,
        _score_out_of_range,
        _duplicate_item,
        _bad_header,
        _missing_column,
        _not_a_number,
        _short_row,
    ],
)
def test_malformed_csv_is_reported_by_row_and_nothing_is_imported(client, db, orgs, breaker):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    sign_in(client, alpha.admin.email)
    rows, expected = breaker(template_rows())
    before = counts(db)
    response = upload(client, alpha.slug, csv_bytes(rows), "ours.csv", key="ours", name="Ours")
    assert response.status_code == 400
    body = text_of(response)
    assert "Nothing was imported" in body
    assert expected in body
    assert counts(db) == before


@pytest.mark.parametrize(
    ("raw", "filename", "expected"),
    [
        (b"", "empty.csv", "the file is empty"),
        (b"  \r\n", "blank.json", "the file is empty"),
        ("code,domain\r\nSI1,é".encode("latin-1"), "latin.csv", "the file is not UTF-8 text"),
        (b'{"key": "x", \xff}', "latin.json", "the file is not UTF-8 text"),
        (b'{"key": "x",', "broken.json", "line 1, column 13: not valid JSON"),
        (b"[1, 2]", "list.json", "the file must hold one JSON object"),
    ],
)
def test_unreadable_files_are_reported(client, db, orgs, raw, filename, expected):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    sign_in(client, alpha.admin.email)
    before = counts(db)
    response = upload(client, alpha.slug, raw, filename, key="ours", name="Ours")
    assert response.status_code == 400
    assert expected in text_of(response)
    assert counts(db) == before


def test_malformed_json_reports_every_problem_by_item(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    sign_in(client, alpha.admin.email)
    data = default_json(key="ours")
    items = data["items"]
    items[1]["domain"] = ""
    items[2]["expected"]["0-2m"] = 13
    items.append(dict(items[0]))
    before = counts(db)
    response = upload(client, alpha.slug, json.dumps(data).encode(), "ours.json")
    assert response.status_code == 400
    body = text_of(response)
    assert f"item {items[1]['code']}: missing domain" in body
    assert f"item {items[2]['code']}: expected score 13 for 0-2m is outside 0..12" in body
    code = items[0]["code"]
    assert f"duplicate item code '{code}' (item #{len(items)} repeats item #1)" in body
    assert counts(db) == before


def test_a_file_that_is_neither_csv_nor_json_is_refused(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    sign_in(client, alpha.admin.email)
    before = counts(db)
    response = upload(client, alpha.slug, b"hello", "notes.txt")
    assert response.status_code == 400
    assert "The file must be a .csv or a .json file." in text_of(response)
    assert counts(db) == before


def test_a_csv_needs_a_key_and_a_name(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    sign_in(client, alpha.admin.email)
    before = counts(db)
    response = upload(client, alpha.slug, csv_bytes(template_rows()), "ours.csv", key="Not ok!")
    body = text_of(response)
    assert response.status_code == 400
    assert "Enter a name for a CSV file." in body
    assert counts(db) == before
    response = upload(
        client, alpha.slug, csv_bytes(template_rows()), "ours.csv", key="Not ok!", name="Ours"
    )
    assert response.status_code == 400
    assert "framework: key must be lowercase letters" in text_of(response)
    assert counts(db) == before


def test_a_good_csv_imports_and_the_same_key_again_is_version_2(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    sign_in(client, alpha.admin.email)
    before = counts(db)
    raw = csv_bytes(template_rows())
    response = upload(client, alpha.slug, raw, "ours.csv", key="ours", name="Our map")
    assert response.status_code == 303, text_of(response)
    n_items = len(content.load_default_framework()["items"])
    assert counts(db) == (before[0] + 1, before[1] + n_items, before[2] + 1)
    with tenant_context(alpha.id):
        first = db.scalar(select(Framework).where(Framework.key == "ours"))
        assert (first.version, first.name, first.source) == (1, "Our map", "import")
        assert first.created_by_id == alpha.admin.id
        assert [i.code for i in first.items] == [i["code"] for i in default_json()["items"]]
        assert framework_ops.current_framework(db).id == first.id
    assert response.headers["Location"].endswith(f"/o/alpha/frameworks/{first.id}")

    response = upload(
        client, alpha.slug, json.dumps(default_json(key="ours")).encode(), "ours.json"
    )
    assert response.status_code == 303
    with tenant_context(alpha.id):
        versions = db.scalars(
            select(Framework.version).where(Framework.key == "ours").order_by(Framework.version)
        ).all()
        assert versions == [1, 2]
        event = db.scalar(
            select(AuditEvent)
            .where(AuditEvent.action == "framework.imported")
            .order_by(AuditEvent.id.desc())
        )
        assert event.detail["version"] == 2 and event.actor_id == alpha.admin.id
    with tenant_context(beta.id):
        assert db.scalar(select(Framework).where(Framework.key == "ours")) is None


def test_the_csv_template_downloads(client, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    sign_in(client, alpha.admin.email)
    response = client.get(f"/o/{alpha.slug}/frameworks/template.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.get_data(as_text=True).startswith("code,domain,label,description,0-2m,")


# --- lists and pages ----------------------------------------------------------------------


def test_the_list_creates_the_default_and_the_page_groups_items_bottom_up(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    sign_in(client, alpha.clinician.email)
    response = client.get(f"/o/{alpha.slug}/frameworks/")
    assert response.status_code == 200
    with tenant_context(alpha.id):
        framework = db.scalar(select(Framework).where(Framework.key == "cadence-default"))
    assert framework is not None
    assert "Cadence functional map" in text_of(response)
    assert "Import a framework" not in text_of(response)
    page = text_of(client.get(f"/o/{alpha.slug}/frameworks/{framework.id}"))
    positions = [page.index(label) for label in content.DOMAINS.values()]
    assert positions == sorted(positions)
    assert "14-18y" in page and framework.items[0].label in page
    assert "/edit" not in page  # clinicians do not edit


# --- versions and immutability ------------------------------------------------------------


def test_editing_an_item_of_a_used_framework_makes_a_new_version(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    framework = default_framework(db, alpha)
    use_framework(db, alpha, framework)
    item = framework.items[0]
    old_label, old_expected = item.label, dict(item.expected)
    sign_in(client, alpha.admin.email)
    path = f"/o/{alpha.slug}/frameworks/{framework.id}/items/{item.id}/edit"
    page = client.get(path)
    assert page.status_code == 200
    assert "Saving makes version 2" in text_of(page)
    token = csrf_token(client, path)
    data = item_form_data(framework, item, label="Steady rhythms, renamed", band_0="4")
    response = client.post(path, data={**data, "csrf_token": token})
    assert response.status_code == 303, text_of(response)
    with tenant_context(alpha.id):
        db.expire_all()
        versions = db.scalars(
            select(Framework).where(Framework.key == framework.key).order_by(Framework.version)
        ).all()
        assert [v.version for v in versions] == [1, 2]
        old, new = versions
        assert old.items[0].label == old_label and old.items[0].expected == old_expected
        assert new.items[0].label == "Steady rhythms, renamed"
        assert new.items[0].expected["0-2m"] == 4 and new.source == "edit"
        assert [i.code for i in new.items] == [i.code for i in old.items]
        assert response.headers["Location"].endswith(f"/frameworks/{new.id}")
        event = db.scalar(select(AuditEvent).where(AuditEvent.action == "framework.versioned"))
        assert event.detail["from_version"] == 1 and event.detail["version"] == 2
    follow = client.get(response.headers["Location"])
    assert "Saved as version 2" in text_of(follow)
    # The old version can no longer be edited (its successor would lose the change).
    assert client.get(path).status_code == 409


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"band_0": "13"}, "Enter a whole number from 0 to 12."),
        ({"band_0": "x"}, "Not a valid integer value."),
        ({"label": ""}, "Enter a label."),
        ({"band_10": "0"}, "expected scores must not fall with age"),
        ({}, "Nothing was changed"),
    ],
)
def test_bad_edits_are_refused_and_change_nothing(client, db, orgs, changes, message):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    framework = default_framework(db, alpha)
    item = framework.items[0]
    sign_in(client, alpha.admin.email)
    path = f"/o/{alpha.slug}/frameworks/{framework.id}/items/{item.id}/edit"
    token = csrf_token(client, path)
    before = counts(db)
    data = {**item_form_data(framework, item, **changes), "csrf_token": token}
    response = client.post(path, data=data)
    assert response.status_code == 400
    assert message in text_of(response)
    assert counts(db) == before


def test_the_guard_refuses_changes_to_a_used_version(db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    framework = default_framework(db, alpha)
    use_framework(db, alpha, framework)
    with tenant_context(alpha.id):
        assert framework_ops.framework_in_use(db, framework)
        framework.items[0].label = "Changed in place"
        with pytest.raises(framework_ops.FrameworkInUse, match="used by an assessment"):
            db.flush()
        db.rollback()
        framework.name = "Renamed"
        with pytest.raises(framework_ops.FrameworkInUse):
            db.flush()
        db.rollback()
        db.delete(framework.items[1])
        with pytest.raises(framework_ops.FrameworkInUse):
            db.flush()
        db.rollback()
        framework.items.append(
            FrameworkItem(
                code="NEW",
                domain="cognitive",
                position=99,
                label="New",
                expected={b["code"]: 12 for b in framework.age_bands},
            )
        )
        with pytest.raises(framework_ops.FrameworkInUse):
            db.flush()
        db.rollback()
        from sqlalchemy import update

        with pytest.raises(framework_ops.FrameworkInUse):
            db.execute(update(FrameworkItem).values(label="Bulk"))
        db.rollback()
        db.expire_all()
        assert framework.items[0].label != "Changed in place"


def test_an_unused_version_is_not_guarded_but_edits_still_make_versions(db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    framework = default_framework(db, alpha)
    with tenant_context(alpha.id):
        assert not framework_ops.framework_in_use(db, framework)
        item = framework.items[0]
        successor = framework_ops.edit_item(
            db,
            framework,
            item,
            framework_ops.ItemChange("Relabelled", item.description, dict(item.expected)),
            actor=alpha.admin,
        )
        assert successor.version == 2 and framework.items[0].label != "Relabelled"


# --- who may do what ----------------------------------------------------------------------


@pytest.mark.parametrize("role", ["carer", "teacher"])
def test_carers_and_teachers_get_403_everywhere(client, db, orgs, role):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    framework = default_framework(db, alpha)
    item = framework.items[0]
    sign_in(client, getattr(alpha, role).email)
    base = f"/o/{alpha.slug}/frameworks"
    for path in (
        f"{base}/",
        f"{base}/{framework.id}",
        f"{base}/import",
        f"{base}/template.csv",
        f"{base}/{framework.id}/items/{item.id}/edit",
    ):
        assert client.get(path).status_code == 403, path
    before = counts(db)
    response = client.post(f"{base}/import", data={"file": (io.BytesIO(b"x"), "x.csv")})
    assert response.status_code in (400, 403)  # no CSRF token on a page they cannot load
    assert counts(db) == before


def test_clinicians_list_and_view_but_do_not_import_or_edit(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    framework = default_framework(db, alpha)
    item = framework.items[0]
    sign_in(client, alpha.clinician.email)
    base = f"/o/{alpha.slug}/frameworks"
    assert client.get(f"{base}/").status_code == 200
    assert client.get(f"{base}/{framework.id}").status_code == 200
    assert client.get(f"{base}/template.csv").status_code == 200
    assert client.get(f"{base}/import").status_code == 403
    assert client.get(f"{base}/{framework.id}/items/{item.id}/edit").status_code == 403
    token = csrf_token(client, f"/o/{alpha.slug}/children/new")
    response = client.post(
        f"{base}/import",
        data={"csrf_token": token, "file": (io.BytesIO(csv_bytes(template_rows())), "a.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 403


def without_csrf(response) -> str:  # type: ignore[no-untyped-def]
    return re.sub(
        r'name="csrf_token" type="hidden" value="[^"]+"', "", response.get_data(as_text=True)
    )


def test_another_organisations_framework_is_not_found(client, db, orgs):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    theirs = default_framework(db, beta)
    default_framework(db, alpha)
    sign_in(client, alpha.admin.email)
    base = f"/o/{alpha.slug}/frameworks"
    missing = client.get(f"{base}/999999")
    foreign = client.get(f"{base}/{theirs.id}")
    assert missing.status_code == foreign.status_code == 404
    # Identical but for the sign-out form's CSRF token, which is signed with the second.
    assert without_csrf(missing) == without_csrf(foreign)
    item = theirs.items[0]
    assert client.get(f"{base}/{theirs.id}/items/{item.id}/edit").status_code == 404
    with tenant_context(alpha.id):
        ours = framework_ops.ensure_default_framework(db)
    assert client.get(f"{base}/{ours.id}/items/{item.id}/edit").status_code == 404
