"""Cadence's web portal: the Flask application factory."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from portal import config as config_module
from portal.config import ROOT

logger = logging.getLogger(__name__)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app. No migrations, schedulers or queries happen here."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder="static",
        instance_path=config_module.instance_path().as_posix(),
        instance_relative_config=False,
    )
    app.config.update(config_module.from_environment())
    if config:
        app.config.update(config)
    config_module.finalise(app.config)
    if app.config.get("INSTANCE_PATH"):
        app.instance_path = app.config["INSTANCE_PATH"]

    if app.config["TRUSTED_PROXIES"]:
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]

    from portal import auth_session, errors, security, tenancy
    from portal.converters import ObjectIdConverter

    app.url_map.converters["id"] = ObjectIdConverter
    from portal.extensions import csrf, db, limiter, login_manager

    db.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    auth_session.init_app(app)
    tenancy.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    register_blueprints(app)
    register_template_helpers(app)
    from tasks.celery_app import init_celery

    init_celery(app)
    return app


def register_blueprints(app: Flask) -> None:
    from portal.account import bp as account_bp
    from portal.admin import bp as admin_bp
    from portal.admin.frameworks import bp as frameworks_bp
    from portal.api import bp as api_bp
    from portal.auth import bp as auth_bp
    from portal.classroom import bp as classroom_bp
    from portal.clinic import bp as clinic_bp
    from portal.clinic.assessments import bp as assessments_bp
    from portal.clinic.history import bp as history_bp
    from portal.clinic.plans import bp as plans_bp
    from portal.clinic.reassessment import bp as reassessment_bp
    from portal.dashboards import bp as dashboards_bp
    from portal.dashboards.child import bp as child_dashboard_bp
    from portal.exports import bp as exports_bp
    from portal.feeds import bp as feeds_bp
    from portal.health import bp as health_bp
    from portal.home import bp as home_bp
    from portal.library import bp as library_bp
    from portal.notifications import bp as notifications_bp
    from portal.workspace import bp as workspace_bp

    for bp in (
        auth_bp,
        account_bp,
        workspace_bp,
        admin_bp,
        frameworks_bp,
        clinic_bp,
        assessments_bp,
        history_bp,
        plans_bp,
        reassessment_bp,
        dashboards_bp,
        child_dashboard_bp,
        exports_bp,
        library_bp,
        home_bp,
        classroom_bp,
        api_bp,
        feeds_bp,
        notifications_bp,
        health_bp,
    ):
        app.register_blueprint(bp)


def register_template_helpers(app: Flask) -> None:
    from portal import filters

    filters.init_app(app)
