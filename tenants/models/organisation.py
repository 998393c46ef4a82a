from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tenants.db import Base, UTCDateTime, utcnow


class Organisation(Base):
    """A tenant: a practice, a school, a fostering agency."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(64), default="Europe/London")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Functional brain map bands, as percent of age-typical: red below, green from.
    map_red_below: Mapped[float] = mapped_column(Float, default=60.0, server_default="60")
    map_green_from: Mapped[float] = mapped_column(Float, default=85.0, server_default="85")
    # Background work. A nudge follows an unlogged routine after this many minutes (None: no
    # nudge); escalation (None: off) tells the child's chosen second person; an unlogged
    # routine becomes missed after the grace minutes (None: at the end of its local day).
    nudge_after_minutes: Mapped[int | None] = mapped_column(
        Integer, default=30, server_default="30"
    )
    escalate_after_minutes: Mapped[int | None] = mapped_column(Integer)
    missed_after_minutes: Mapped[int | None] = mapped_column(Integer)
    adherence_threshold: Mapped[float] = mapped_column(Float, default=0.8, server_default="0.8")
    reassessment_interval_days: Mapped[int] = mapped_column(
        Integer, default=90, server_default="90"
    )
    # Adherence rollups (routines.rollups): local dates up to `rollups_through` are rolled
    # up, as occurrences stood at `rollups_as_of`; dashboards read anything changed since live.
    rollups_through: Mapped[date | None] = mapped_column(Date)
    rollups_as_of: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Keys the stable pseudonyms of the de-identified research export (routines.research_export).
    research_salt: Mapped[str | None] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"<Organisation {self.slug}>"
