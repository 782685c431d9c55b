"""Fixtures: five real upstream services (uvicorn, once per session) and a gateway per test.

The gateway runs in ``TestClient`` (its lifespan included) against a fresh SQLite file under the
test's var dir (``weimin_env``); its settings come from ``WEIMIN_*`` variables, so a test can point
a service at a port where nothing listens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.main import create_app
from shared.auth import Principal
from shared.settings import SERVICE_NAMES, get_settings
from tests import support
from tests.gateway.gateway_upstream import UpstreamServer, create_upstream_app
from tests.support import free_port


@pytest.fixture(scope="session")
def upstreams() -> Iterator[dict[str, str]]:
    servers = {name: UpstreamServer(create_upstream_app(name)).start() for name in SERVICE_NAMES}
    yield {name: server.url for name, server in servers.items()}
    for server in servers.values():
        server.stop()


@pytest.fixture
def dead_url() -> str:
    """A URL where nothing listens: connections are refused at once."""
    return f"http://127.0.0.1:{free_port()}"


class Gateways:
    """Starts gateways (lifespan included) whose settings are the test upstreams plus ``env``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, upstreams: dict[str, str]) -> None:
        self.monkeypatch, self.upstreams, self.stack = monkeypatch, upstreams, ExitStack()

    def configure(self, **env: str) -> None:
        values = {
            # Nothing listens here: tests that need NATS up pass the session's nats_url.
            "WEIMIN_NATS_URL": f"nats://127.0.0.1:{free_port()}",
            **{f"WEIMIN_{name.upper()}_URL": url for name, url in self.upstreams.items()},
            **env,
        }
        for key, value in values.items():
            self.monkeypatch.setenv(key, value)
        get_settings.cache_clear()

    def __call__(self, **env: str) -> TestClient:
        self.configure(**env)
        return self.stack.enter_context(TestClient(create_app()))


@pytest.fixture
def gateway_factory(
    weimin_env: Path, monkeypatch: pytest.MonkeyPatch, upstreams: dict[str, str]
) -> Iterator[Gateways]:
    gateways = Gateways(monkeypatch, upstreams)
    yield gateways
    gateways.stack.close()
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def gateway(gateway_factory: Gateways) -> TestClient:
    return gateway_factory()


@pytest.fixture
def live_gateway(gateway_factory: Gateways) -> Iterator[Callable[..., str]]:
    """Serves the gateway with a real uvicorn (for what TestClient cannot show: chunked uploads,
    callers that hang up); call it with ``WEIMIN_*`` overrides, get its URL."""
    servers: list[UpstreamServer] = []

    def start(**env: str) -> str:
        gateway_factory.configure(**env)
        servers.append(UpstreamServer(create_app(), lifespan="on").start())
        return servers[-1].url

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def bearer() -> Callable[..., dict[str, str]]:
    """Authorization headers with a token signed with the current settings' key (the session's test key
    pair, which every gateway started here verifies with, unless a test configures its own)."""

    def headers(
        username: str = "clerk1",
        roles: tuple[str, ...] = ("clerk",),
        org_code: str = "330102000000",
        ttl: int | None = None,
    ) -> dict[str, str]:
        return support.bearer(Principal(username=username, roles=roles, org_code=org_code), ttl)

    return headers
