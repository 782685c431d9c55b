"""Body size limits at the gateway: per route, refused with 413 before the body is read (sized), or
as soon as a streamed (chunked) body passes the limit; the upstream never gets an oversized request."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import httpx
from fastapi.testclient import TestClient

from gateway.body_limits import limit_for_route
from shared.settings import get_settings
from tests.gateway.gateway_upstream import ARRIVALS
from tests.support import assert_problem

EVALUATIONS = "/api/v1/supervision/evaluations"
MiB = 1024 * 1024


def arrived(path: str) -> list[tuple[str, str, str]]:
    return [a for a in ARRIVALS if a[2] == path]


def test_a_50_mb_anonymous_post_is_413_at_once_and_never_reaches_the_upstream(live_gateway) -> None:
    url = live_gateway()
    ARRIVALS.clear()
    body = b"{" + b" " * (50 * MiB) + b"}"
    started = time.monotonic()
    with httpx.Client(base_url=url, timeout=30) as client:
        reply = client.post(EVALUATIONS, content=body, headers={"Content-Type": "application/json"})
    elapsed = time.monotonic() - started
    problem = assert_problem(reply, 413, "body-too-large")
    assert problem["max_bytes"] == 64 * 1024
    assert elapsed < 5, f"took {elapsed:.1f} s"
    assert not arrived(EVALUATIONS), "the upstream saw the oversized request"


def test_the_413_comes_before_the_body_is_sent_at_all(live_gateway) -> None:
    """A caller that declares 50 MB and waits for 100-continue gets the 413 without sending a byte."""
    parts = urlsplit(live_gateway())
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(
            f"POST {EVALUATIONS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {50 * MiB}\r\nExpect: 100-continue\r\n\r\n".encode()
        )
        answer = sock.recv(65536).decode("latin-1")
    assert answer.startswith("HTTP/1.1 413"), answer
    assert "application/problem+json" in answer and "connection: close" in answer.lower()


def test_a_chunked_body_past_the_limit_is_413(live_gateway, bearer: Callable[..., dict[str, str]]) -> None:
    url = live_gateway(WEIMIN_MAX_BODY_BYTES=str(256 * 1024))
    sent = {"bytes": 0}

    def chunks() -> Iterator[bytes]:
        for _ in range(200):  # 12.5 MiB offered; the gateway stops reading after 256 KiB
            sent["bytes"] += 64 * 1024
            yield b" " * (64 * 1024)

    with httpx.Client(base_url=url, headers=bearer(), timeout=30) as client:
        reply = client.post("/api/v1/intake/upload", content=chunks())
        assert_problem(reply, 413, "body-too-large")
        assert sent["bytes"] < 200 * 64 * 1024, "the whole body was read"
        # Under the limit, the same route streams as before.
        small = client.post("/api/v1/intake/upload", content=iter([b"a" * 1000, b"b" * 1000]))
        assert small.status_code == 200 and small.json()["length"] == 2000


def test_the_gateways_own_token_form_has_the_json_limit(gateway: TestClient) -> None:
    reply = gateway.post("/api/v1/auth/token", data={"grant_type": "password", "username": "x" * 70_000})
    assert_problem(reply, 413, "body-too-large")


def test_limits_are_per_route_and_documented(gateway_factory) -> None:
    gateway = gateway_factory(WEIMIN_MAX_BODY_BYTES="1000", WEIMIN_MAX_DOCUMENT_BYTES="5000")
    settings = get_settings()
    assert limit_for_route(settings, "POST", "/api/v1/catalogue/imports") == 10 * MiB
    assert limit_for_route(settings, "PUT", "/api/v1/catalogue/items/{item_code}/draft") == 5000
    assert (
        limit_for_route(settings, "PUT", "/api/v1/catalogue/directories/371424000000/village/draft") == 5000
    )
    assert limit_for_route(settings, "POST", EVALUATIONS) == 1000

    item = "/api/v1/catalogue/items/X-1/draft"
    assert gateway.put(item, content=b"x" * 3000).status_code != 413  # 3 KB: within the document limit
    assert_problem(gateway.put(item, content=b"x" * 6000), 413)
    assert_problem(gateway.post("/api/v1/agents/cases", content=b"x" * 3000), 413)

    document = gateway.get("/openapi.json").json()
    token = document["paths"]["/api/v1/auth/token"]["post"]["responses"]
    assert "413" in token and "429" in token
    upstream = document["paths"]["/api/v1/intake/things"]["post"]["responses"]["413"]
    assert "1000 bytes" in upstream["description"]
