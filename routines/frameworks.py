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

Import formats and their parsing live in routines.framework_files.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import ORMExecuteState, Session

from routines import content
from routines.framework_files import LABEL_MAX, FrameworkImportError, check_framework
from routines.metrics import AgeBand, Item
from routines.models import Assessment, Framework, FrameworkItem, ItemRating
from tenants import audit
from tenants.errors import NotFound, ValidationError
from tenants.isolation import get_scoped
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


# --------------------------------------------------------------------------- commands


class FrameworkInUse(RuntimeError):
    """An in-place change to a framework version that an assessment uses."""


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
    framework = get_scoped(db, Framework, framework_id)
    if framework is None:
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
