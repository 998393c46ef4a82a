from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from routines.models.framework import Framework
from tenants.db import Base, UTCDateTime, utcnow
from tenants.isolation import TenantScoped


class Assessment(TenantScoped, Base):
    """A functional brain map of one child on one date: a draft until every item is rated."""

    __tablename__ = "assessments"

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"), index=True)
    framework_id: Mapped[int] = mapped_column(
        ForeignKey("frameworks.id", ondelete="RESTRICT"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), default="draft")  # draft | complete
    assessed_on: Mapped[date] = mapped_column(Date)
    age_months: Mapped[int | None] = mapped_column(Integer)  # fixed when completed
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    framework: Mapped[Framework] = relationship(lazy="joined", innerjoin=True)
    ratings: Mapped[list[ItemRating]] = relationship(
        back_populates="assessment", cascade="all, delete-orphan", lazy="selectin"
    )


class ItemRating(TenantScoped, Base):
    __tablename__ = "item_ratings"
    __table_args__ = (UniqueConstraint("assessment_id", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(
        ForeignKey("assessments.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[int] = mapped_column(
        ForeignKey("framework_items.id", ondelete="RESTRICT"), index=True
    )
    score: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")

    assessment: Mapped[Assessment] = relationship(back_populates="ratings")
