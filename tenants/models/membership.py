from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tenants.db import Base, UTCDateTime, utcnow
from tenants.isolation import TenantScoped
from tenants.models.organisation import Organisation
from tenants.models.user import User
from tenants.roles import ALL_ROLES, Role


class Membership(TenantScoped, Base):
    """A person's place in one organisation."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)
    organisation: Mapped[Organisation] = relationship(
        primaryjoin="Membership.tenant_id == Organisation.id",
        foreign_keys="Membership.tenant_id",
        lazy="joined",
        innerjoin=True,
        viewonly=True,
    )
    role_rows: Mapped[list[MembershipRole]] = relationship(
        back_populates="membership", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def roles(self) -> list[Role]:
        held = {Role(r.role) for r in self.role_rows}
        return [r for r in ALL_ROLES if r in held]

    def has_role(self, *roles: Role) -> bool:
        held = {r.role for r in self.role_rows}
        return any(role.value in held for role in roles)


class MembershipRole(TenantScoped, Base):
    __tablename__ = "membership_roles"
    __table_args__ = (UniqueConstraint("membership_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    membership_id: Mapped[int] = mapped_column(
        ForeignKey("memberships.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(20))

    membership: Mapped[Membership] = relationship(back_populates="role_rows")
