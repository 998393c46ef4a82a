"""The `cadence` command: a Flask CLI group with Cadence's own commands."""

from __future__ import annotations

import logging
import os
import secrets
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, routes_command, shell_command, with_appcontext

from portal.config import instance_path


def _development_secret() -> None:
    """In development, a random SECRET_KEY kept under instance/ (never a well-known one)."""
    if os.environ.get("SECRET_KEY") or os.environ.get("CADENCE_ENV", "").lower() != "development":
        return
    path = instance_path() / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    os.environ["SECRET_KEY"] = path.read_text().strip()


def _create_app() -> Flask:
    from portal import create_app

    _development_secret()
    return create_app()


@click.group(
    cls=FlaskGroup,
    create_app=_create_app,
    add_default_commands=False,
    set_debug_flag=False,
    load_dotenv=False,
)
def cli() -> None:
    """Cadence: daily rhythm for neurosequential plans."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


cli.add_command(shell_command)
cli.add_command(routes_command)


@cli.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@click.option(
    "--scheduler/--no-scheduler",
    default=True,
    show_default=True,
    help="Run the scheduler in this process (the embedded default; tasks run in-process "
    "unless REDIS_URL is set).",
)
@with_appcontext
def run_command(host: str, port: int, threads: int, scheduler: bool) -> None:
    """Serve Cadence (the embedded all-in-one server)."""
    from waitress import serve

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    background = None
    if scheduler:
        from tasks.scheduler import run as run_scheduler

        background = run_scheduler(app, blocking=False)
        click.echo("The scheduler runs in this process (reminders, missed routines, horizon).")
    click.echo(f"Cadence is running on http://{host}:{port}/  (Ctrl+C to stop)")
    try:
        serve(app, host=host, port=port, threads=threads, ident="Cadence")
    finally:
        if background is not None:
            background.shutdown(wait=False)


@cli.command("scheduler")
@click.option("--tick", default=10, show_default=True, type=click.IntRange(1, 60))
@with_appcontext
def scheduler_command(tick: int) -> None:
    """Run the scheduler (APScheduler): one leads however many run; its jobs only enqueue
    Celery tasks."""
    from tasks.scheduler import holder_name
    from tasks.scheduler import run as run_scheduler

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    click.echo(f"Scheduler {holder_name()} starting; Ctrl+C to stop.")
    try:
        run_scheduler(app, blocking=True, tick_seconds=tick)
    except (KeyboardInterrupt, SystemExit):
        click.echo("Scheduler stopped.")


# --- database -----------------------------------------------------------------------------


@click.group("db")
def db_group() -> None:
    """Database migrations (need no SECRET_KEY: they never build the web app)."""


cli.add_command(db_group)


def alembic_config(url: str | None = None):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    from portal.config import ROOT, migration_database_url

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", (url or migration_database_url()).replace("%", "%%"))
    cfg.attributes["skip_logging"] = True
    return cfg


def _ensure_sqlite_dir(url: str) -> None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


@db_group.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the database (as the table owner: MIGRATION_DATABASE_URL, else DATABASE_URL)."""
    from alembic import command

    from portal.config import migration_database_url

    _ensure_sqlite_dir(migration_database_url())
    command.upgrade(alembic_config(), revision)
    click.echo("Database is up to date.")


@db_group.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Step the schema back to REVISION."""
    from alembic import command

    command.downgrade(alembic_config(), revision)


@db_group.command("check")
def db_check() -> None:
    """Fail if the models and the migrations disagree."""
    from alembic import command

    from portal.config import migration_database_url

    _ensure_sqlite_dir(migration_database_url())
    command.check(alembic_config())
    click.echo("No drift between models and migrations.")


@db_group.command("grant-app-role")
@click.argument("role")
def db_grant_app_role(role: str) -> None:
    """PostgreSQL: give the unprivileged application ROLE the rights it needs, no more."""
    from sqlalchemy import create_engine

    from portal.config import migration_database_url
    from tenants.rls import grant_app_role

    engine = create_engine(migration_database_url())
    try:
        with engine.begin() as conn:
            grant_app_role(conn, role)
    finally:
        engine.dispose()
    click.echo(f"Granted {role} its application rights.")


# --- people and demo data -------------------------------------------------------------------


@cli.command("create-admin")
@click.option("--org-slug", required=True, help="Short name used in URLs, e.g. riverside.")
@click.option("--org-name", help="Organisation name (needed when the organisation is new).")
@click.option("--time-zone", default="Europe/London", show_default=True)
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.password_option(
    envvar="CADENCE_ADMIN_PASSWORD",
    help="Prompted for if not given (or set CADENCE_ADMIN_PASSWORD).",
)
@with_appcontext
def create_admin(
    org_slug: str, org_name: str | None, time_zone: str, email: str, name: str, password: str
) -> None:
    """Create an organisation (if new) and an admin for it."""
    from portal.seed import create_admin as do_create_admin
    from tenants.errors import ValidationError

    try:
        message = do_create_admin(
            org_slug=org_slug,
            org_name=org_name,
            time_zone=time_zone,
            email=email,
            name=name,
            password=password,
        )
    except ValidationError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(message)


@cli.command("seed-demo")
@click.option("--slug", default="riverside", show_default=True)
@click.option("--password", help="Password for every demo account (generated if omitted).")
@with_appcontext
def seed_demo(slug: str, password: str | None) -> None:
    """Create (or refresh) a demo organisation with one account per role."""
    from portal.seed import demo_password, seed_demo_organisation
    from tenants.errors import ValidationError

    generated = password is None
    password = password or demo_password()
    try:
        accounts = seed_demo_organisation(slug=slug, password=password)
    except ValidationError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Demo organisation '{slug}' is ready. Sign in with:")
    for email, roles in accounts:
        click.echo(f"  {email:<32} {', '.join(roles)}")
    shown = password if generated else "(the password you gave)"
    click.echo(f"  password for all of them: {shown}")


@cli.group("routines")
def routines_group() -> None:
    """Daily routines: occurrences and their horizon."""


@routines_group.command("extend-horizon")
@click.option("--days", default=14, show_default=True, type=click.IntRange(1, 90))
@with_appcontext
def extend_horizon(days: int) -> None:
    """Materialise every child's occurrences for the coming DAYS days, in every
    organisation (safe to run at any time: it reconciles, never duplicates)."""
    from portal.extensions import db
    from tasks.horizon import extend_all_horizons
    from tenants.db import utcnow

    done = extend_all_horizons(db.session, now=utcnow(), horizon_days=days)
    for slug, count in sorted(done.items()):
        if count < 0:
            click.echo(f"{slug}: failed (see the log)", err=True)
        else:
            click.echo(f"{slug}: {count} children with plans materialised for {days} days")
    if any(count < 0 for count in done.values()):
        raise click.ClickException("some organisations could not be materialised")


@routines_group.command("roll-up")
@click.option("--rebuild", is_flag=True, help="Rebuild every day, not only what changed.")
@with_appcontext
def roll_up(rebuild: bool) -> None:
    """Bring every organisation's adherence rollups up to yesterday now (the scheduler does
    this each night at 03:00 in the organisation's time zone)."""
    from sqlalchemy import select

    from portal.extensions import db
    from routines import rollups
    from tenants.context import tenant_context
    from tenants.db import utcnow
    from tenants.models import Organisation

    for org_id, slug in db.session.execute(
        select(Organisation.id, Organisation.slug).order_by(Organisation.slug)
    ).all():
        with tenant_context(org_id):
            built = rollups.roll_up(db.session, now=utcnow(), rebuild=rebuild)
            db.session.commit()
        click.echo(f"{slug}: rolled up through {built.through.isoformat()}, {built.rows} rows")


@cli.command("vapid", with_appcontext=False)
@click.option(
    "--subject",
    default=None,
    help="A contact for push services: mailto:you@example.org or an https:// address.",
)
def vapid_command(subject: str | None) -> None:
    """Make a VAPID key pair for Web Push and print the environment lines to set."""
    from tasks.channels.push import generate_vapid_keys

    private, public = generate_vapid_keys()
    click.echo("# Web Push keys for Cadence. Keep VAPID_PRIVATE_KEY secret; changing the pair")
    click.echo("# later stops every existing push subscription (people subscribe again).")
    click.echo(f"VAPID_PRIVATE_KEY={private}")
    click.echo(f"VAPID_PUBLIC_KEY={public}")
    click.echo(f"VAPID_SUBJECT={subject or 'mailto:admin@example.org'}")
    if not subject:
        click.echo("# Replace VAPID_SUBJECT with a real contact address (push services use it).")


def main() -> None:
    cli(prog_name="cadence")


if __name__ == "__main__":
    sys.exit(main())
