from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, String
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

    def __repr__(self) -> str:
        return f"<Organisation {self.slug}>"
