"""The organisation's activity library: Cadence's default activities plus its own.

Every function acts in the current tenant. Activities are retired, never deleted, so that
plans which used them still show them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from routines import content
from routines.models import Activity
from tenants import audit
from tenants.context import current_tenant_id
from tenants.db import utcnow
from tenants.errors import NotFound, ValidationError
from tenants.isolation import get_scoped
from tenants.models import User

logger = logging.getLogger(__name__)

NAME_MAX = 120
INSTRUCTIONS_MAX = 4000
WHY_MAX = 1000
SEARCH_MAX = 100


@dataclass(frozen=True)
class ActivityDetails:
    name: str
    instructions: str
    domains: list[str]
    rs: list[str]
    typical_minutes: int | None
    settings: list[str]
    dev_age_min_months: int | None
    dev_age_max_months: int | None
    why: str = ""
    regulating: bool = False


def _fold(name: str) -> str:
    return " ".join(name.split()).casefold()


def _name_taken(db: Session, name: str) -> bool:
    # Compared in Python: Unicode case folding and spacing, the same on every database.
    folded = _fold(name)
    return any(_fold(n) == folded for n in db.scalars(select(Activity.name)))


def ensure_default_library(db: Session) -> int:
    """Import Cadence's default activities into the current organisation (source "default").
    Idempotent: an activity whose name is already in the library, retired or not, is left
    alone. Returns how many were added."""
    existing = {_fold(n) for n in db.scalars(select(Activity.name))}
    added = 0
    for row in content.load_default_activities():
        if _fold(row["name"]) in existing:
            continue
        db.add(
            Activity(
                name=row["name"],
                instructions=row["instructions"],
                why=row["why"],
                domains=list(row["domains"]),
                rs=list(row["rs"]),
                typical_minutes=row["typical_minutes"],
                settings=list(row["settings"]),
                dev_age_min_months=row["dev_age_min_months"],
                dev_age_max_months=row["dev_age_max_months"],
                regulating=row["regulating"],
                source="default",
            )
        )
        existing.add(_fold(row["name"]))
        added += 1
    if added:
        db.flush()
        logger.info("imported %d default activities into tenant %s", added, current_tenant_id())
    return added


def check_domain(domain: str | None) -> str | None:
    if not domain:
        return None
    if domain not in content.DOMAINS:
        raise ValidationError(
            "Choose one of the four domains: " + ", ".join(content.DOMAINS.values()) + ".",
            "domain",
        )
    return domain


def check_setting(setting: str | None) -> str | None:
    if not setting:
        return None
    if setting not in content.SETTINGS:
        raise ValidationError("Choose a setting: " + ", ".join(content.SETTINGS) + ".", "setting")
    return setting


def list_activities(
    db: Session,
    domain: str | None = None,
    setting: str | None = None,
    include_retired: bool = False,
    search: str | None = None,
) -> list[Activity]:
    """The library by name, filtered. Unknown domain or setting: ValidationError."""
    domain = check_domain(domain)
    setting = check_setting(setting)
    query = select(Activity).order_by(func.lower(Activity.name), Activity.id)
    if not include_retired:
        query = query.where(Activity.retired_at.is_(None))
    text = " ".join((search or "").split())
    if len(text) > SEARCH_MAX:
        raise ValidationError(f"Search for at most {SEARCH_MAX} characters.", "q")
    if text:
        pattern = (
            "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        query = query.where(
            or_(
                func.lower(Activity.name).like(pattern, escape="\\"),
                func.lower(Activity.instructions).like(pattern, escape="\\"),
                func.lower(Activity.why).like(pattern, escape="\\"),
            )
        )
    # domains and settings are small JSON lists: filter them here, the same on every database.
    return [
        a
        for a in db.scalars(query)
        if (domain is None or domain in a.domains) and (setting is None or setting in a.settings)
    ]


def get_activity(db: Session, activity_id: int) -> Activity:
    activity = get_scoped(db, Activity, activity_id)
    if activity is None:
        raise NotFound("activity")
    return activity


def _text(value: str | None, field_name: str, label: str, max_len: int, required: bool) -> str:
    text = (value or "").strip()
    if required and not text:
        raise ValidationError(f"Enter the {label.lower()}.", field_name)
    if len(text) > max_len:
        raise ValidationError(f"{label} must be at most {max_len} characters.", field_name)
    return text


def _subset(
    values: list[str] | None,
    allowed: tuple[str, ...],
    field_name: str,
    message: str,
    minimum: int = 1,
) -> list[str]:
    chosen = list(dict.fromkeys(values or []))
    unknown = [v for v in chosen if v not in allowed]
    if unknown:
        raise ValidationError(f"Unknown choice: {', '.join(unknown)}.", field_name)
    if len(chosen) < minimum:
        raise ValidationError(message, field_name)
    return [v for v in allowed if v in chosen]  # canonical order


def _whole(value: int | None, field_name: str, message: str, low: int, high: int) -> int:
    if value is None or isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(message, field_name)
    if not low <= value <= high:
        raise ValidationError(message, field_name)
    return value


def add_activity(
    db: Session, details: ActivityDetails, *, actor: User, ip: str | None = None
) -> Activity:
    """A custom activity in the organisation's library."""
    name = " ".join((details.name or "").split())
    if not name:
        raise ValidationError("Enter the activity's name.", "name")
    if len(name) > NAME_MAX:
        raise ValidationError(f"The name must be at most {NAME_MAX} characters.", "name")
    if _name_taken(db, name):
        raise ValidationError(
            "The library already has an activity with this name (perhaps retired); "
            "choose another name.",
            "name",
        )
    instructions = _text(
        details.instructions, "instructions", "Instructions", INSTRUCTIONS_MAX, True
    )
    why = _text(details.why, "why", "Why it helps", WHY_MAX, False)
    domains = _subset(
        details.domains, content.DOMAIN_KEYS, "domains", "Choose at least one domain it targets."
    )
    rs = _subset(
        details.rs,
        content.SIX_RS,
        "rs",
        f"Choose at least {content.MIN_RS_PER_ACTIVITY} of the 6 Rs the activity meets.",
        minimum=content.MIN_RS_PER_ACTIVITY,
    )
    low, high = content.MINUTES_RANGE
    minutes = _whole(
        details.typical_minutes,
        "typical_minutes",
        f"Typical minutes must be a whole number from {low} to {high}.",
        low,
        high,
    )
    settings = _subset(
        details.settings, content.SETTINGS, "settings", "Choose at least one setting."
    )
    age_message = f"Enter a developmental age in months from 0 to {content.MAX_AGE_MONTHS}."
    age_min = _whole(
        details.dev_age_min_months, "dev_age_min_months", age_message, 0, content.MAX_AGE_MONTHS
    )
    age_max = _whole(
        details.dev_age_max_months, "dev_age_max_months", age_message, 0, content.MAX_AGE_MONTHS
    )
    if age_min > age_max:
        raise ValidationError(
            "The youngest developmental age must not be above the oldest.", "dev_age_min_months"
        )
    activity = Activity(
        name=name,
        instructions=instructions,
        why=why,
        domains=domains,
        rs=rs,
        typical_minutes=minutes,
        settings=settings,
        dev_age_min_months=age_min,
        dev_age_max_months=age_max,
        regulating=bool(details.regulating),
        source="custom",
        created_by_id=actor.id,
    )
    db.add(activity)
    db.flush()
    audit.record(
        db,
        "activity.created",
        actor=actor,
        object_type="activity",
        object_id=activity.id,
        ip_address=ip,
        name=name,
    )
    return activity


def retire_activity(db: Session, activity: Activity, *, actor: User, ip: str | None = None) -> bool:
    """Take an activity out of the library for new plans; old plans keep it. False if it
    was already retired (nothing changes)."""
    if activity.retired_at is not None:
        return False
    activity.retired_at = utcnow()
    db.flush()
    audit.record(
        db,
        "activity.retired",
        actor=actor,
        object_type="activity",
        object_id=activity.id,
        ip_address=ip,
        name=activity.name,
    )
    return True


def restore_activity(
    db: Session, activity: Activity, *, actor: User, ip: str | None = None
) -> bool:
    """Bring a retired activity back. False if it was not retired (nothing changes)."""
    if activity.retired_at is None:
        return False
    activity.retired_at = None
    db.flush()
    audit.record(
        db,
        "activity.restored",
        actor=actor,
        object_type="activity",
        object_id=activity.id,
        ip_address=ip,
        name=activity.name,
    )
    return True
