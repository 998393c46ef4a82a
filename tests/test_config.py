"""Start-up refuses unsafe production settings; development runs without ceremony."""

from __future__ import annotations

import pytest

from portal import create_app
from portal.config import ConfigurationError


@pytest.mark.parametrize("secret", ["", "changeme", "dev", "short-but-random-9f8e"])
def test_production_refuses_missing_or_weak_secret(monkeypatch, tmp_path, secret):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CADENCE_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", secret)
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})


def test_production_accepts_a_strong_secret(monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CADENCE_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "k" * 8 + "3b1f0c9e2d7a4f6b8c1d2e3f4a5b6c7d")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_NAME"].startswith("__Host-")
    app.extensions["cadence.db"].dispose()


def test_development_runs_without_a_secret(monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CADENCE_ENV", "development")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    assert app.config["SECRET_KEY"]
    assert app.config["SESSION_COOKIE_SECURE"] is False
    app.extensions["cadence.db"].dispose()


def test_no_database_url_means_sqlite_under_instance(monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CADENCE_ENV", "development")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("CADENCE_INSTANCE_PATH", str(tmp_path / "inst"))
    app = create_app()
    assert app.config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'inst' / 'cadence.db'}"
    app.extensions["cadence.db"].dispose()
