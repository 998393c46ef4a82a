from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from routines.models.activity import Activity
from tenants.db import Base, UTCDateTime, utcnow
from tenants.isolation import TenantScoped

# Named times of day that each household or classroom sets to a clock time (issue 4).
ANCHORS: dict[str, str] = {
    "after_waking": "After waking",
    "before_school": "Before school",
    "after_school": "After school",
    "after_dinner": "After dinner",
    "before_bed": "Before bed",
}
ASSIGNEES: dict[str, str] = {
    "household": "The household's carers",
    "carer": "A named carer",
    "teacher": "A named teacher",
    "classroom": "The whole classroom",
}


class Plan(TenantScoped, Base):
    """A child's sequenced plan: the lineage of its versions."""

    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("child_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    versions: Mapped[list[PlanVersion]] = relationship(
        back_populates="plan", lazy="selectin", order_by="PlanVersion.id"
    )


class PlanVersion(TenantScoped, Base):
    """A draft (number None) or published version N, immutable once published.

    Version N applies from `effective_from`; it supersedes N-1 from that date, not before.
    Warnings that were published past are kept with the reason given.
    """

    __tablename__ = "plan_versions"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    number: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="draft")  # draft | published
    assessment_id: Mapped[int | None] = mapped_column(
        ForeignKey("assessments.id", ondelete="RESTRICT"), index=True
    )
    effective_from: Mapped[date | None] = mapped_column(Date)
    share_map: Mapped[bool] = mapped_column(Boolean, default=False)
    acknowledged_warnings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    acknowledgement_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    plan: Mapped[Plan] = relationship(back_populates="versions")
    items: Mapped[list[PlanItem]] = relationship(
        back_populates="version",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="PlanItem.position",
    )


class PlanItem(TenantScoped, Base):
    """One planned activity: who does it, how often, for how long, from when to when.

    `frequency` is {"days": [0..6, Monday = 0], "mode": "times" | "anchors" | "spread",
    "times": ["07:30", ...], "anchors": ["before_bed", ...],
    "spread": {"count": 3, "from": "09:00", "to": "15:00"}}.
    """

    __tablename__ = "plan_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("plan_versions.id", ondelete="CASCADE"), index=True
    )
    activity_id: Mapped[int] = mapped_column(
        ForeignKey("activities.id", ondelete="RESTRICT"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    domain: Mapped[str] = mapped_column(String(30))
    assignee: Mapped[str] = mapped_column(String(20))
    assignee_membership_id: Mapped[int | None] = mapped_column(
        ForeignKey("memberships.id", ondelete="RESTRICT")
    )
    frequency: Mapped[dict[str, Any]] = mapped_column(JSON)
    minutes: Mapped[int] = mapped_column(Integer)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    notes: Mapped[str] = mapped_column(Text, default="")

    version: Mapped[PlanVersion] = relationship(back_populates="items")
    activity: Mapped[Activity] = relationship(lazy="joined", innerjoin=True)
