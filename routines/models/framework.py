from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tenants.db import Base, UTCDateTime, utcnow
from tenants.isolation import TenantScoped


class Framework(TenantScoped, Base):
    """One version of an organisation's set of functional items.

    A version that an assessment uses is never changed: editing makes version N+1
    under the same key. `age_bands` is the list of {code, label, from_months, to_months}.
    """

    __tablename__ = "frameworks"
    __table_args__ = (UniqueConstraint("tenant_id", "key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(63))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    scale_max: Mapped[int] = mapped_column(Integer, default=12)
    age_bands: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(20))  # default | import | edit
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    items: Mapped[list[FrameworkItem]] = relationship(
        back_populates="framework",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="FrameworkItem.position",
    )


class FrameworkItem(TenantScoped, Base):
    __tablename__ = "framework_items"
    __table_args__ = (UniqueConstraint("framework_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    framework_id: Mapped[int] = mapped_column(
        ForeignKey("frameworks.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(20))
    domain: Mapped[str] = mapped_column(String(30))
    position: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    expected: Mapped[dict[str, int]] = mapped_column(JSON)  # age band code -> typical score

    framework: Mapped[Framework] = relationship(back_populates="items")
