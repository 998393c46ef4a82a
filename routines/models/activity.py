from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tenants.db import Base, UTCDateTime, utcnow
from tenants.isolation import TenantScoped


class Activity(TenantScoped, Base):
    """An entry in the organisation's activity library. Retired entries stay for old plans."""

    __tablename__ = "activities"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    instructions: Mapped[str] = mapped_column(Text)
    why: Mapped[str] = mapped_column(Text, default="")
    domains: Mapped[list[str]] = mapped_column(JSON)
    rs: Mapped[list[str]] = mapped_column(JSON)
    typical_minutes: Mapped[int] = mapped_column(Integer)
    settings: Mapped[list[str]] = mapped_column(JSON)
    dev_age_min_months: Mapped[int] = mapped_column(Integer)
    dev_age_max_months: Mapped[int] = mapped_column(Integer)
    regulating: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(20), default="custom")  # default | custom
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
