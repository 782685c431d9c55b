"""What every test shares: real infrastructure (a nats-server on a free port in a temp dir, free
ports, the database backend) and the helpers tests assert with (problems, tokens, applicants)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from deploy.launcher import nats_server_binary, wait_for_port
from shared.auth import Principal, issue_token
from shared.identity_numbers import make_valid_id_number
from shared.schemas import Applicant
from shared.settings import Settings, get_settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_port_block(size: int) -> int:
    """A base port with ``size`` consecutive free ports after it."""
    for _ in range(200):
        base = free_port()
        if base + size >= 65000:
            continue
        ports = range(base, base + size)
        if all(_bindable(p) for p in ports):
            return base
    raise RuntimeError("no block of free ports")


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class NatsServer:
    """A real nats-server with JetStream, stoppable and restartable on the same port and store."""

    def __init__(self, store_dir: Path, port: int | None = None) -> None:
        self.store_dir = store_dir
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> NatsServer:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                nats_server_binary(),
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-js",
                "-sd",
                str(self.store_dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not wait_for_port(self.port, 15):
            raise RuntimeError("nats-server did not start")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not _bindable(self.port):
            time.sleep(0.05)


def external_nats_url() -> str | None:
    """The NATS the environment names for tests, if any (the default run starts its own)."""
    return os.environ.get("WEIMIN_TEST_NATS_URL") or None


# ------------------------------------------------------------------------------ the database backend

PG_BASE_ENV = "WEIMIN_TEST_PG_BASE_URL"  # set by the session fixture on the postgres backend


def backend_name() -> str:
    """``sqlite`` (the default) or ``postgres`` (``WEIMIN_TEST_BACKEND=postgres``: the whole suite again)."""
    return os.environ.get("WEIMIN_TEST_BACKEND", "sqlite").lower()


def database_url_for(directory: Path) -> str:
    """The database a test's var dir stands for: empty (SQLite files under it), or on the postgres
    backend a fresh PostgreSQL database of its own, so every test starts clean."""
    if backend_name() != "postgres":
        return ""
    import hashlib

    import psycopg

    name = "t_" + hashlib.sha1(str(directory.resolve()).encode()).hexdigest()[:20]
    base = os.environ[PG_BASE_ENV]
    with psycopg.connect(libpq_url(base), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return with_database(base, name)


def with_database(url: str, database: str) -> str:
    """The same server's URL naming another database (the URL may carry ?host=/socket/dir)."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=database).render_as_string(hide_password=False)


def libpq_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as libpq (psycopg.connect) reads it."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def settings_for(directory: Path) -> Settings:
    """Settings of a test's own var dir (and, on the postgres backend, its own database)."""
    directory.mkdir(parents=True, exist_ok=True)
    return Settings(var_dir=directory, database_url=database_url_for(directory), environment="test")


async def create_test_tables(engine: Any, *models: Any) -> None:
    """Tables that exist only for a test (no migration ships them)."""
    from sqlmodel import SQLModel

    async with engine.begin() as conn:
        await conn.run_sync(
            lambda sync: SQLModel.metadata.create_all(sync, tables=[m.__table__ for m in models])
        )


# -------------------------------------------------------------------------- what every test asserts with

PROBLEM_JSON = "application/problem+json"


def assert_problem(reply: Any, status: int, expected_type: str | None = None) -> dict:
    """An RFC 9457 problem with ``status`` (and, if given, the slug or full ``type``), with a request id."""
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith(PROBLEM_JSON), reply.headers["content-type"]
    body = reply.json()
    assert {"type", "title", "status", "detail"} <= body.keys() and body["status"] == status
    if expected_type is not None:
        urn = expected_type if expected_type.startswith("urn:") else f"urn:weimin:problem:{expected_type}"
        assert body["type"] == urn, body
    assert reply.headers.get("x-request-id")
    return body


def bearer(principal: Principal, ttl: int | None = None) -> dict[str, str]:
    """Authorization headers with a token for ``principal``, signed with the current settings' private
    key: the test session's own pair (``tests/conftest.py``) unless a test points the settings elsewhere."""
    token, _ = issue_token(principal, get_settings(), ttl)
    return {"Authorization": f"Bearer {token}"}


def eventually(probe: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    """Events travel between services asynchronously: wait (bounded) for their effect."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def villager(serial: str = "123", name: str = "张三丰") -> Applicant:
    """An applicant from the demo county with a valid 身份证号 (GB 11643 check digit)."""
    return Applicant(
        name=name,
        id_number=make_valid_id_number("371424", date(1958, 3, 14), serial),
        phone="13812345678",
    )
