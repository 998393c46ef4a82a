from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tenants.db import Base, UTCDateTime, utcnow
from tenants.isolation import TenantScoped

# Developmental periods, in order; "current" holds today's relational health.
PERIODS: dict[str, str] = {
    "perinatal": "Perinatal (0–2 months)",
    "infancy": "Infancy (2–12 months)",
    "early_childhood": "Early childhood (13 months–4 years)",
    "childhood": "Childhood (4–11 years)",
    "adolescence": "Adolescence (12–18 years)",
    "current": "Now",
}
SEVERITIES = ("none", "mild", "moderate", "severe")
CERTAINTIES = ("known", "estimated")
RELATIONAL_LEVELS = ("none", "low", "moderate", "strong")


class HistoryEntry(TenantScoped, Base):
    """One line of a child's developmental history: an adversity in a period (kind,
    severity, known or estimated), or the relational health (buffers) in a period."""

    __tablename__ = "history_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"), index=True)
    period: Mapped[str] = mapped_column(String(20))
    entry_type: Mapped[str] = mapped_column(String(20))  # adversity | relational
    adversity_kind: Mapped[str | None] = mapped_column(String(100))
    severity: Mapped[str | None] = mapped_column(String(10))
    certainty: Mapped[str | None] = mapped_column(String(10))
    relational_level: Mapped[str | None] = mapped_column(String(10))
    note: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
