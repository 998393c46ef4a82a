from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from routines.models.household import Classroom, Household
from tenants.db import Base, UTCDateTime, utcnow
from tenants.isolation import TenantScoped
from tenants.models import Membership


class TeamRole(StrEnum):
    LEAD_CLINICIAN = "lead_clinician"
    CLINICIAN = "clinician"
    CARER = "carer"
    TEACHER = "teacher"
    TEACHING_ASSISTANT = "teaching_assistant"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()

    @property
    def is_clinical(self) -> bool:
        return self in (TeamRole.LEAD_CLINICIAN, TeamRole.CLINICIAN)


class CarerRelationship(StrEnum):
    FOSTER_CARER = "foster_carer"
    ADOPTIVE_PARENT = "adoptive_parent"
    KINSHIP_CARER = "kinship_carer"
    RESIDENTIAL_WORKER = "residential_worker"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class Child(TenantScoped, Base):
    __tablename__ = "children"

    id: Mapped[int] = mapped_column(primary_key=True)
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    preferred_name: Mapped[str | None] = mapped_column(String(100))
    pronouns: Mapped[str | None] = mapped_column(String(40))
    date_of_birth: Mapped[date] = mapped_column(Date)
    household_id: Mapped[int | None] = mapped_column(
        ForeignKey("households.id", ondelete="SET NULL"), index=True
    )
    classroom_id: Mapped[int | None] = mapped_column(
        ForeignKey("classrooms.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Escalation: who else on the care team hears of an unlogged routine, and after how long
    # (None: the organisation's setting). Off unless both a person and a time are set.
    escalate_to_membership_id: Mapped[int | None] = mapped_column(
        ForeignKey("memberships.id", ondelete="SET NULL")
    )
    escalate_after_minutes: Mapped[int | None] = mapped_column(Integer)

    household: Mapped[Household | None] = relationship(lazy="joined")
    classroom: Mapped[Classroom | None] = relationship(lazy="joined")
    team: Mapped[list[CareTeamMember]] = relationship(
        back_populates="child",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="CareTeamMember.id",
    )

    @property
    def display_name(self) -> str:
        return f"{self.preferred_name or self.given_name} {self.family_name}"


class CareTeamMember(TenantScoped, Base):
    """A person's place on one child's care team: what gives them access to the child."""

    __tablename__ = "care_team_members"
    __table_args__ = (UniqueConstraint("child_id", "membership_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"), index=True)
    membership_id: Mapped[int] = mapped_column(
        ForeignKey("memberships.id", ondelete="CASCADE"), index=True
    )
    team_role: Mapped[str] = mapped_column(String(30))
    relationship_to_child: Mapped[str | None] = mapped_column(String(30))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    child: Mapped[Child] = relationship(back_populates="team")
    membership: Mapped[Membership] = relationship(lazy="joined", innerjoin=True)

    @property
    def role(self) -> TeamRole:
        return TeamRole(self.team_role)
