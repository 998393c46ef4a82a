"""Assessment frameworks: the organisation's versions of functional items."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from routines import content
from routines.metrics import AgeBand, Item
from routines.models import Framework, FrameworkItem
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
