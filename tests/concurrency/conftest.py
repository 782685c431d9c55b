"""One service as a real uvicorn process, and the same write fired at it many times at once.

``start_service`` seeds the service's real database (brought to head by its migrations) through its own
code, then starts ``uvicorn services.<name>.main:app`` on a free port with its own var dir, the test
NATS and, on the postgres backend, a PostgreSQL database of its own; it answers once ``/healthz`` is
200. Tokens are signed like every test's (``tests.support.bearer``) with the same settings the process
reads. Case numbers are globally unique across the session (``fresh_village`` / ``fresh_town``), so
events other tests leave on the shared NATS never touch the cases a test fires at.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import make_engine
from shared.events import Envelope
from shared.settings import get_settings
from tests.case_fixtures import outbox, service_engine
from tests.support import NatsServer, database_url_for, free_port, settings_for

ROOT = Path(__file__).resolve().parents[2]

# Units no other test uses (the demo county, town 150 and up): each call gives one never given before.
_towns = itertools.count(150)
_villages = itertools.count(1)


def fresh_town() -> str:
    return f"371424{next(_towns):03d}000"


def fresh_village() -> str:
    return f"371424149{next(_villages):03d}"


@pytest.fixture(scope="module")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A nats-server of this module's own: events other tests left on the session's server (a
    directory published for the demo county, say) must not reach the processes raced here."""
    server = NatsServer(tmp_path_factory.mktemp("nats-races")).start()
    try:
        yield server.url
    finally:
        server.stop()


# Seeds the service's database before it starts: through its own service functions and consumer.
Seed = Callable[[AsyncEngine], Awaitable[None]]


@dataclass
class RunningService:
    name: str
    url: str
    var_dir: Path
    process: subprocess.Popen
    log: Path

    def client(self) -> httpx.AsyncClient:
        # One connection per request in flight: the requests really reach the server together.
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        return httpx.AsyncClient(base_url=self.url, timeout=60, limits=limits)

    def engine(self) -> AsyncEngine:
        return make_engine(self.name, settings_for(self.var_dir))

    async def events(self, type_: str, subject: str) -> list[Envelope]:
        """The events of one type about one case that the service wrote into its outbox."""
        engine = self.engine()
        try:
            return await outbox(engine, type_, subject)
        finally:
            await engine.dispose()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


async def _wait_healthy(service: RunningService, timeout: float = 60) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with httpx.AsyncClient(base_url=service.url, timeout=2) as client:
        while loop.time() < deadline:
            if service.process.poll() is not None:
                raise AssertionError(f"{service.name} exited at start:\n{service.output()}")
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{service.name} not healthy in {timeout}s:\n{service.output()}")


@pytest.fixture
async def start_service(
    tmp_path: Path, nats_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Callable[..., Awaitable[RunningService]]]:
    """``await start_service("approval", seed)``: the service seeded, running, healthy."""
    var_dir = tmp_path / "var"
    database_url = database_url_for(var_dir)
    environment = {
        "WEIMIN_VAR_DIR": str(var_dir),
        "WEIMIN_NATS_URL": nats_url,
        "WEIMIN_ENVIRONMENT": "test",
        "WEIMIN_DATABASE_URL": database_url,
    }
    # The test signs its tokens with the settings the process reads (keys under var/, if any).
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    started: list[RunningService] = []

    async def start(name: str, seed: Seed | None = None) -> RunningService:
        engine = service_engine(var_dir, name)
        try:
            if seed is not None:
                await seed(engine)
        finally:
            await engine.dispose()
        port = free_port()
        log = tmp_path / f"{name}.log"
        # The test's own environment (the session's token keys among it), with this service's places.
        env = dict(os.environ) | environment
        with log.open("ab") as output:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    f"services.{name}.main:app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=ROOT,
            )
        service = RunningService(name, f"http://127.0.0.1:{port}", var_dir, process, log)
        started.append(service)
        await _wait_healthy(service)
        return service

    try:
        yield start
    finally:
        for service in started:
            if service.process.poll() is None:
                service.process.terminate()
                try:
                    service.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    service.process.kill()
                    service.process.wait()
        get_settings.cache_clear()
