"""Nightly adherence rollups: one row per child, local date, activity, assignee and domain,
counting what became of that day's routines. Dashboards read these instead of a year of
occurrences; routines.rollups builds them in set-based SQL and reads today's live."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tenants.db import Base
from tenants.isolation import TenantScoped


class AdherenceRollup(TenantScoped, Base):
    __tablename__ = "adherence_rollups"
    __table_args__ = (
        UniqueConstraint("child_id", "local_date", "activity_id", "assignee_key", "domain"),
        Index("ix_adherence_rollups_tenant_date", "tenant_id", "local_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"))
    local_date: Mapped[date] = mapped_column(Date)
    activity_id: Mapped[int] = mapped_column(
        ForeignKey("activities.id", ondelete="CASCADE"), index=True
    )
    assignee_key: Mapped[str] = mapped_column(String(20))
    domain: Mapped[str] = mapped_column(String(30))
    side: Mapped[str] = mapped_column(String(10))
    household_id: Mapped[int | None] = mapped_column(
        ForeignKey("households.id", ondelete="SET NULL"), index=True
    )
    classroom_id: Mapped[int | None] = mapped_column(
        ForeignKey("classrooms.id", ondelete="SET NULL"), index=True
    )
    done: Mapped[int] = mapped_column(Integer, default=0)
    partly: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    missed: Mapped[int] = mapped_column(Integer, default=0)
    excused: Mapped[int] = mapped_column(Integer, default=0)
    pending: Mapped[int] = mapped_column(Integer, default=0)
    planned_minutes: Mapped[int] = mapped_column(Integer, default=0)  # of every routine counted
    dose_minutes: Mapped[int] = mapped_column(Integer, default=0)  # logged, else planned
    # Logs with both states noted; of those, how many ended calmer; the sums of the levels
    # (calm 0 ... terror 4) before and after, for averages over any window.
    state_pairs: Mapped[int] = mapped_column(Integer, default=0)
    calmer: Mapped[int] = mapped_column(Integer, default=0)
    before_level_sum: Mapped[int] = mapped_column(Integer, default=0)
    after_level_sum: Mapped[int] = mapped_column(Integer, default=0)
