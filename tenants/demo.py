"""Demo organisation and accounts for a first look at Cadence (`cadence seed-demo`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from tenants import accounts, organisations
from tenants.context import tenant_context
from tenants.models import Organisation, User
from tenants.roles import Role
from tenants.validation import check_slug

DEMO_PEOPLE: tuple[tuple[str, str, tuple[Role, ...]], ...] = (
    ("admin", "Alex Morgan", (Role.ADMIN,)),
    ("clinician", "Dr Priya Shah", (Role.CLINICIAN,)),
    ("carer", "Sam Taylor", (Role.CARER,)),
    ("carer2", "Jordan Taylor", (Role.CARER,)),
    ("teacher", "Chris Okafor", (Role.TEACHER,)),
)


def ensure_user(db: Session, *, email: str, name: str, password: str) -> User:
    """The account for `email`, created if missing; its password set to `password`."""
    user = accounts.find_user_by_email(db, email)
    if user is None:
        return accounts.create_user(db, email=email, name=name, password=password)
    accounts.set_password(db, user, password)
    user.is_active = True
    return user


@dataclass(frozen=True)
class DemoOrganisation:
    org: Organisation
    accounts: list[tuple[str, list[str]]]  # (email, roles)
    people: dict[str, User]  # keyed by the email's local part: admin, clinician, carer, ...


def seed_demo_organisation(db: Session, *, slug: str, password: str) -> DemoOrganisation:
    """Create or refresh the demo organisation. Running it again changes nothing but passwords."""
    slug = check_slug(slug)
    org = organisations.organisation_by_slug(db, slug)
    if org is None:
        org = organisations.create_organisation(
            db,
            slug=slug,
            name=f"{slug.replace('-', ' ').title()} Family Services",
            time_zone="Europe/London",
        )
    made: list[tuple[str, list[str]]] = []
    people: dict[str, User] = {}
    with tenant_context(org.id):
        for local, name, roles in DEMO_PEOPLE:
            email = f"{local}@{slug}.example"
            user = ensure_user(db, email=email, name=name, password=password)
            membership = organisations.add_member(db, user, list(roles))
            made.append((email, [r.value for r in membership.roles]))
            people[local] = user
    return DemoOrganisation(org, made, people)


def create_admin(
    db: Session,
    *,
    org_slug: str,
    org_name: str | None,
    time_zone: str,
    email: str,
    name: str,
    password: str,
) -> tuple[Organisation, User, bool]:
    """An admin for an organisation, creating the organisation when it is new."""
    org = organisations.organisation_by_slug(db, org_slug.strip().lower())
    created = org is None
    if org is None:
        if not org_name:
            from tenants.errors import ValidationError

            raise ValidationError("The organisation is new: give its name with --org-name.")
        org = organisations.create_organisation(
            db, slug=org_slug, name=org_name, time_zone=time_zone
        )
    with tenant_context(org.id):
        user = accounts.find_user_by_email(db, email)
        if user is None:
            user = accounts.create_user(
                db, email=email, name=name, password=password, time_zone=time_zone
            )
        organisations.add_member(db, user, [Role.ADMIN])
    return org, user, created
