from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from tenants.db import Base, UTCDateTime, utcnow
from tenants.isolation import TenantScoped


class Household(TenantScoped, Base):
    """A home where a child lives; its time zone governs the child's home routines."""

    __tablename__ = "households"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(64))
    # Clock times ("19:30") for the anchors of routines/models/plan.ANCHORS it has set.
    anchor_times: Mapped[dict[str, str]] = mapped_column(
        JSON, default=dict, server_default=text("'{}'")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Classroom(TenantScoped, Base):
    """A class in a school; school-day routines run in its time zone."""

    __tablename__ = "classrooms"
    __table_args__ = (UniqueConstraint("tenant_id", "school_name", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_name: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(100))
    time_zone: Mapped[str] = mapped_column(String(64))
    # Clock times ("19:30") for the anchors of routines/models/plan.ANCHORS it has set.
    anchor_times: Mapped[dict[str, str]] = mapped_column(
        JSON, default=dict, server_default=text("'{}'")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def label(self) -> str:
        return f"{self.school_name}, {self.name}"
