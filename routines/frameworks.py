"""Assessment frameworks: the organisation's versions of functional items.

A framework is a set of functional items, each in one of the four domains
(bottom-up: sensory integration, self-regulation, relational, cognitive), with an
age-typical expected score (0..12) for each item by age band. Every organisation
gets its own copy of Cadence's default framework; an admin may import another.

Versions. A framework is identified by its ``key``; each change makes version N+1
under the same key, a full copy with the change, and the old version stays exactly
as it was. Every edit makes a new version, used or not: that is simplest to
reason about, and an assessment always points at the version it was rated on.
A ``before_flush`` guard (registered when this module is imported) refuses any
in-place update or delete of a Framework or FrameworkItem row that an assessment
uses, and bulk UPDATE/DELETE statements on those tables are refused outright.

Import formats. Both formats are checked with ``routines.content.validate_framework``;
every problem is reported, each naming its item or row, and nothing is imported
while there is any problem. Importing a key that already exists makes its next
version.

* JSON: the shape of ``routines/data/default_framework.json``: an object with
  ``key``, ``name``, ``version`` (any whole number >= 1, replaced on import),
  ``scale_max`` (12), ``age_bands`` (a list of ``{code, label, from_months,
  to_months}``) and ``items`` (a list of ``{code, domain, label, description,
  expected: {band code: score}}``).
* CSV (UTF-8, comma-separated, a header row then one row per item; the key and
  name of the framework are given separately, on the import form):

      code,domain,label,description,0-2m,2-6m,6-12m,1-2y,...,14-18y

  ``code`` (at most 20 characters, unique), ``domain`` (one of
  ``sensory_integration``, ``self_regulation``, ``relational``, ``cognitive``),
  ``label`` and ``description`` come first; every further column is an age band
  whose header is its code, written ``<from>-<to>m`` (months) or ``<from>-<to>y``
  (years): ``0-2m`` is birth to 2 months, ``4-6y`` is 4 to 6 years. The bands must
  be contiguous, start at 0 and end at 18 years. Each cell under a band is the
  whole-number expected score (0..12) for that item at that age. Rows are counted
  as a spreadsheet does: the header is row 1. ``template_csv`` writes the default
  framework in this format.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import ORMExecuteState, Session

from routines import content
from routines.metrics import AgeBand, Item
from routines.models import Assessment, Framework, FrameworkItem, ItemRating
from tenants import audit
from tenants.context import current_tenant_id
from tenants.errors import NotFound, ValidationError
from tenants.models import User

logger = logging.getLogger(__name__)

DEFAULT_KEY = "cadence-default"


def build_framework(
    data: dict[str, Any], *, source: str, version: int = 1, actor: User | None = None
) -> Framework:
    """A Framework (not yet added) from validated framework data (routines.content shape)."""
    framework = Framework(
        key=data["key"],
        version=version,
        name=data["name"],
        scale_max=data.get("scale_max", content.SCALE_MAX),
        age_bands=[dict(band) for band in data["age_bands"]],
        source=source,
        created_by_id=actor.id if actor is not None else None,
    )
    for position, item in enumerate(data["items"], start=1):
        framework.items.append(
            FrameworkItem(
                code=item["code"],
                domain=item["domain"],
                position=position,
                label=item["label"],
                description=item.get("description", ""),
                expected=dict(item["expected"]),
            )
        )
    return framework


def ensure_default_framework(db: Session) -> Framework:
    """The organisation's copy of Cadence's default framework, made on first use."""
    existing = db.scalar(
        select(Framework).where(Framework.key == DEFAULT_KEY).order_by(Framework.version)
    )
    if existing is not None:
        return existing
    framework = build_framework(content.load_default_framework(), source="default")
    db.add(framework)
    db.flush()
    return framework


def current_framework(db: Session) -> Framework:
    """The framework new assessments use: the newest version of the most recently created
    key, falling back to (and creating) the default."""
    newest = db.scalar(select(Framework).order_by(Framework.created_at.desc(), Framework.id.desc()))
    return newest if newest is not None else ensure_default_framework(db)


def age_bands(framework: Framework) -> list[AgeBand]:
    return [
        AgeBand(b["code"], b["label"], int(b["from_months"]), int(b["to_months"]))
        for b in framework.age_bands
    ]


def metric_items(framework: Framework) -> list[Item]:
    """The framework's items as routines.metrics sees them (keyed by item code)."""
    return [Item(i.code, i.domain, dict(i.expected)) for i in framework.items]


# --------------------------------------------------------------------------- errors and limits

KEY_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
CODE_MAX = 20
LABEL_MAX = 200
NAME_MAX = 200
CSV_FIXED_COLUMNS = ("code", "domain", "label", "description")
BAND_CODE_RE = re.compile(r"^(\d{1,3})-(\d{1,3})([my])$")


class FrameworkImportError(ValidationError):
    """The file could not be imported; ``problems`` lists every reason, each naming its row
    or item. Nothing was imported."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        super().__init__(
            f"The framework was not imported: {count} problem{'s' if count != 1 else ''}.",
            "file",
        )


class FrameworkInUse(RuntimeError):
    """An in-place change to a framework version that an assessment uses."""


def _length_problems(data: dict[str, Any], ref: Any = None) -> list[str]:
    """Limits of the database columns and the key's shape (validate_framework checks the rest).

    `ref(index, item)` names an item; by default as validate_framework does."""
    problems: list[str] = []
    key = data.get("key")
    if isinstance(key, str) and key.strip() and not KEY_RE.match(key):
        problems.append(
            "framework: key must be lowercase letters, digits and hyphens, starting with a "
            f"letter or digit, at most 63 characters (got {key!r})"
        )
    name = data.get("name")
    if isinstance(name, str) and len(name) > NAME_MAX:
        problems.append(f"framework: name must be at most {NAME_MAX} characters")
    items = data.get("items")
    for index, item in enumerate(items if isinstance(items, list) else []):
        if not isinstance(item, dict):
            continue
        where = ref(index, item) if ref else _item_ref(index, item)
        code, label = item.get("code"), item.get("label")
        if isinstance(code, str) and len(code) > CODE_MAX:
            problems.append(f"{where}: code must be at most {CODE_MAX} characters")
        if isinstance(label, str) and len(label) > LABEL_MAX:
            problems.append(f"{where}: label must be at most {LABEL_MAX} characters")
    return problems


def _item_ref(index: int, item: dict[str, Any]) -> str:
    code = item.get("code")
    return f"item {code}" if isinstance(code, str) and code.strip() else f"item #{index + 1}"


def check_framework(data: Any) -> list[str]:
    """Every problem with framework data: routines.content's validation plus column limits."""
    problems = content.validate_framework(data)
    if isinstance(data, dict):
        problems += _length_problems(data)
    return problems


# --------------------------------------------------------------------------- parsing


def decode_upload(raw: bytes) -> tuple[str | None, list[str]]:
    """UTF-8 text of an uploaded file (a byte-order mark is allowed), or the problem."""
    if not raw.strip():
        return None, ["the file is empty"]
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        return None, [
            f"the file is not UTF-8 text (undecodable byte at position {exc.start}); "
            "save it as UTF-8 and try again"
        ]


def parse_framework_json(text: str) -> tuple[dict[str, Any] | None, list[str]]:
    """Framework data from JSON text and every problem with it ([] means importable)."""
    if not text.strip():
        return None, ["the file is empty"]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, [f"line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg})"]
    if not isinstance(data, dict):
        return None, ["the file must hold one JSON object (see the format below)"]
    return data, check_framework(data)


def band_from_code(code: str) -> dict[str, Any] | None:
    """An age band from a CSV header such as ``0-2m`` or ``4-6y``; None if malformed."""
    match = BAND_CODE_RE.match(code)
    if match is None:
        return None
    start, end, unit = int(match.group(1)), int(match.group(2)), match.group(3)
    factor, word = (1, "months") if unit == "m" else (12, "years")
    return {
        "code": code,
        "label": f"{start}–{end} {word}",
        "from_months": start * factor,
        "to_months": end * factor,
    }


def _score(cell: str) -> Any:
    text = cell.strip()
    try:
        return int(text)
    except ValueError:
        return text  # validate_framework reports it as not a whole number


def parse_framework_csv(
    text: str, *, key: str, name: str
) -> tuple[dict[str, Any] | None, list[str]]:
    """Framework data from CSV text (format in the module docstring) and every problem
    with it, each naming its row ([] means importable)."""
    if not text.strip():
        return None, ["the file is empty"]
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        return None, [f"the file is not readable as CSV ({exc})"]
    header = [cell.strip() for cell in rows[0]]
    problems: list[str] = []
    if [h.lower() for h in header[:4]] != list(CSV_FIXED_COLUMNS):
        problems.append(
            "row 1 (header): must start with the columns "
            f"{','.join(CSV_FIXED_COLUMNS)} (got {','.join(header[:4]) or 'nothing'})"
        )
    bands: list[dict[str, Any]] = []
    for column, code in enumerate(header[4:], start=5):
        band = band_from_code(code)
        if band is None:
            problems.append(
                f"row 1 (header): column {column} {code!r} is not an age band code "
                "such as 0-2m (months) or 4-6y (years)"
            )
        elif any(b["code"] == code for b in bands):
            problems.append(f"row 1 (header): age band {code} appears twice")
        else:
            bands.append(band)
    if len(header) <= 4:
        problems.append("row 1 (header): no age band columns after description")
    if problems:
        return None, problems

    data: dict[str, Any] = {
        "key": key,
        "name": name,
        "version": 1,
        "scale_max": content.SCALE_MAX,
        "age_bands": bands,
        "items": [],
    }
    item_rows: list[int] = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # blank lines are ignored
        if len(row) != len(header):
            problems.append(f"row {number}: has {len(row)} cells, the header has {len(header)}")
            continue
        cells = [cell.strip() for cell in row]
        code, domain, label, description = cells[:4]
        data["items"].append(
            {
                "code": code,
                "domain": domain,
                "label": label,
                "description": description,
                "expected": {
                    band["code"]: _score(cell) for band, cell in zip(bands, row[4:], strict=True)
                },
            }
        )
        item_rows.append(number)
    if not data["items"]:
        problems.append("the file has a header but no items")
        return None, problems
    problems += _csv_problems(data, item_rows)
    return data, problems


def _csv_problems(data: dict[str, Any], item_rows: list[int]) -> list[str]:
    """validate_framework's findings, each item's problems named by its CSV row."""
    problems: list[str] = []
    seen: dict[str, int] = {}

    def ref(index: int, item: dict[str, Any]) -> str:
        code = item.get("code")
        return f"row {item_rows[index]} ({code or 'no code'})"

    for index, item in enumerate(data["items"]):
        where = ref(index, item)
        code = item["code"]
        if code and code in seen:
            problems.append(f"{where}: duplicate item code {code!r} (already on row {seen[code]})")
        elif code:
            seen[code] = item_rows[index]
        # One item at a time, so that each problem is tied to exactly one row.
        single = content.validate_framework({**data, "items": [item]})
        prefix = (f"item {code}" if code else "item #1 (no code)") + ": "
        problems += [f"{where}: {p[len(prefix) :]}" for p in single if p.startswith(prefix)]
    # Whole-framework problems (key, name, bands, domains); item problems are above.
    whole = content.validate_framework(data)
    problems += [p for p in whole if not p.startswith("item ")]
    problems += _length_problems(data, ref)
    return problems


def parse_upload(
    filename: str, raw: bytes, *, key: str | None = None, name: str | None = None
) -> tuple[dict[str, Any] | None, list[str]]:
    """Framework data from an uploaded .json or .csv file and every problem with it."""
    lowered = (filename or "").lower()
    if not lowered.endswith((".json", ".csv")):
        return None, ["the file must be a .csv or a .json file"]
    text, problems = decode_upload(raw)
    if text is None:
        return None, problems
    if lowered.endswith(".json"):
        return parse_framework_json(text)
    return parse_framework_csv(text, key=(key or "").strip(), name=(name or "").strip())


def template_csv(data: dict[str, Any] | None = None) -> str:
    """Framework data (by default Cadence's default framework) in the CSV import format."""
    data = data if data is not None else content.load_default_framework()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    codes = [band["code"] for band in data["age_bands"]]
    writer.writerow([*CSV_FIXED_COLUMNS, *codes])
    for item in data["items"]:
        writer.writerow(
            [
                item["code"],
                item["domain"],
                item["label"],
                item.get("description", ""),
                *(item["expected"][code] for code in codes),
            ]
        )
    return out.getvalue()


# --------------------------------------------------------------------------- commands


def _next_version(db: Session, key: str) -> int:
    newest = db.scalar(select(func.max(Framework.version)).where(Framework.key == key))
    return (newest or 0) + 1


def import_framework(
    db: Session,
    data: dict[str, Any] | None,
    *,
    actor: User | None,
    ip: str | None = None,
    problems: list[str] | tuple[str, ...] = (),
) -> Framework:
    """Add imported framework data as a new framework, or as the next version of an existing
    key. Raises FrameworkImportError with every problem (`problems` from parsing plus
    validation) and adds nothing if there is any."""
    found = list(problems)
    if not found:
        found = ["there is nothing to import"] if data is None else check_framework(data)
    if found or data is None:
        raise FrameworkImportError(found)
    version = _next_version(db, data["key"])
    framework = build_framework(data, source="import", version=version, actor=actor)
    db.add(framework)
    db.flush()
    audit.record(
        db,
        "framework.imported",
        actor=actor,
        object_type="framework",
        object_id=framework.id,
        ip_address=ip,
        key=framework.key,
        version=framework.version,
        items=len(framework.items),
    )
    logger.info("framework %s v%s imported", framework.key, framework.version)
    return framework


def get_framework(db: Session, framework_id: int) -> Framework:
    """A framework of the current organisation; NotFound for a missing or foreign id."""
    framework = db.get(Framework, framework_id)
    if framework is None or framework.tenant_id != current_tenant_id():
        raise NotFound("framework")
    return framework


def get_item(framework: Framework, item_id: int) -> FrameworkItem:
    for item in framework.items:
        if item.id == item_id:
            return item
    raise NotFound("framework item")


def list_frameworks(db: Session) -> list[Framework]:
    """Every framework version of the organisation, by key then newest version first."""
    return list(db.scalars(select(Framework).order_by(Framework.key, Framework.version.desc())))


def newest_version(db: Session, key: str) -> int:
    return _next_version(db, key) - 1


def framework_in_use(db: Session, framework: Framework) -> bool:
    """Whether any assessment references this framework version."""
    return _framework_ids_in_use(db, {framework.id}) != set()


def _framework_ids_in_use(db: Session, ids: set[int]) -> set[int]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return set()
    table = Assessment.__table__
    with db.no_autoflush:
        rows = db.execute(
            select(table.c.framework_id).where(table.c.framework_id.in_(ids)).distinct()
        )
        return {row[0] for row in rows}


def _items_rated(db: Session, ids: set[int]) -> set[int]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return set()
    table = ItemRating.__table__
    with db.no_autoflush:
        rows = db.execute(select(table.c.item_id).where(table.c.item_id.in_(ids)).distinct())
        return {row[0] for row in rows}


@dataclass(frozen=True)
class ItemChange:
    label: str
    description: str
    expected: dict[str, int]


def framework_data(framework: Framework) -> dict[str, Any]:
    """A framework version as framework data (routines.content shape)."""
    return {
        "key": framework.key,
        "name": framework.name,
        "version": framework.version,
        "scale_max": framework.scale_max,
        "age_bands": [dict(band) for band in framework.age_bands],
        "items": [
            {
                "code": item.code,
                "domain": item.domain,
                "label": item.label,
                "description": item.description,
                "expected": dict(item.expected),
            }
            for item in framework.items
        ],
    }


class FrameworkEditError(ValidationError):
    """An edit that would make an invalid framework; ``problems`` says why."""

    def __init__(self, problems: list[str], field: str | None = None) -> None:
        self.problems = list(problems)
        super().__init__(" ".join(self.problems), field)


def edit_item(
    db: Session,
    framework: Framework,
    item: FrameworkItem,
    change: ItemChange,
    *,
    actor: User | None,
    ip: str | None = None,
) -> Framework:
    """Change one item: always makes the next version of the framework (a copy with the
    change); the edited version is left exactly as it was. Only the newest version of a
    key is edited, so that no later change is lost."""
    if item.framework_id != framework.id:
        raise NotFound("framework item")
    newest = newest_version(db, framework.key)
    if framework.version != newest:
        raise FrameworkEditError(
            [f"Version {framework.version} is not the newest; edit version {newest} instead."]
        )
    label = " ".join((change.label or "").split())
    description = (change.description or "").strip()
    if not label:
        raise FrameworkEditError(["Enter a label."], "label")
    if len(label) > LABEL_MAX:
        raise FrameworkEditError([f"The label must be at most {LABEL_MAX} characters."], "label")
    if not description:
        raise FrameworkEditError(["Enter a description."], "description")
    if (
        label == item.label
        and description == item.description
        and dict(change.expected) == dict(item.expected)
    ):
        raise FrameworkEditError(["Nothing was changed, so no new version was made."])
    return new_version(
        db,
        framework,
        {item.code: {"label": label, "description": description, "expected": change.expected}},
        actor=actor,
        ip=ip,
    )


def new_version(
    db: Session,
    framework: Framework,
    changes: dict[str, dict[str, Any]],
    *,
    actor: User | None,
    ip: str | None = None,
) -> Framework:
    """Version N+1 of `framework`'s key: a copy of `framework` with `changes` (item code ->
    fields) applied. Raises FrameworkEditError if the result would not be valid."""
    data = framework_data(framework)
    unknown = set(changes) - {item["code"] for item in data["items"]}
    if unknown:
        raise NotFound("framework item")
    for item in data["items"]:
        item.update(changes.get(item["code"], {}))
    problems = check_framework(data)
    if problems:
        raise FrameworkEditError(problems, "expected")
    version = _next_version(db, framework.key)
    successor = build_framework(data, source="edit", version=version, actor=actor)
    db.add(successor)
    db.flush()
    audit.record(
        db,
        "framework.versioned",
        actor=actor,
        object_type="framework",
        object_id=successor.id,
        ip_address=ip,
        key=successor.key,
        from_version=framework.version,
        version=successor.version,
        items=sorted(changes),
    )
    return successor


# --------------------------------------------------------------------------- the guard


@event.listens_for(Session, "before_flush")
def _refuse_changes_to_used_frameworks(
    session: Session, flush_context: Any, instances: Any
) -> None:
    """A framework version an assessment uses is never changed in place."""
    frameworks: set[int] = set()
    items: dict[int, FrameworkItem] = {}
    for obj in list(session.dirty) + list(session.deleted):
        changed = obj in session.deleted or session.is_modified(obj)
        if isinstance(obj, Framework) and changed:
            frameworks.add(obj.id)
        elif isinstance(obj, FrameworkItem) and changed:
            frameworks.add(obj.framework_id)
            items[obj.id] = obj
    for obj in session.new:
        if isinstance(obj, FrameworkItem):
            parent = obj.framework_id or (obj.framework.id if obj.framework else None)
            if parent is not None:
                frameworks.add(parent)
    used = _framework_ids_in_use(session, frameworks) if frameworks else set()
    rated = _items_rated(session, set(items)) if items else set()
    if used or rated:
        raise FrameworkInUse(
            "this framework version is used by an assessment and cannot be changed; "
            "edit it to make a new version instead"
        )


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_framework_changes(state: ORMExecuteState) -> None:
    mapper = state.bind_mapper
    if (
        (state.is_update or state.is_delete)
        and mapper is not None
        and mapper.class_ in (Framework, FrameworkItem)
    ):
        raise FrameworkInUse(
            "frameworks are changed only by making a new version, never by a bulk UPDATE or DELETE"
        )
