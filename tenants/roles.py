"""The roles a person can hold in an organisation, and what each may do."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    CLINICIAN = "clinician"
    CARER = "carer"
    TEACHER = "teacher"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.ADMIN: "Organisation admin",
    Role.CLINICIAN: "Clinician",
    Role.CARER: "Carer",
    Role.TEACHER: "Teacher",
}

ALL_ROLES: tuple[Role, ...] = tuple(Role)


def parse_roles(values: list[str] | tuple[str, ...]) -> list[Role]:
    """Validate role names; raises ValueError naming the unknown one."""
    roles: list[Role] = []
    for value in values:
        try:
            role = Role(value)
        except ValueError:
            raise ValueError(f"Unknown role: {value!r}") from None
        if role not in roles:
            roles.append(role)
    return sorted(roles, key=ALL_ROLES.index)
