"""The forwarding path against real upstream services served by uvicorn."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient

from shared.errors import PROBLEM_JSON
from tests.gateway.gateway_upstream import UPSTREAM_PROBLEM

Bearer = Callable[..., dict[str, str]]


def header_values(echo: dict, name: str) -> list[str]:
    return [value for key, value in echo["headers"] if key == name]


def test_path_query_body_and_headers_are_forwarded(gateway: TestClient, bearer: Bearer, upstreams) -> None:
    auth = bearer()
    response = gateway.post(
        "/api/v1/intake/cases/a%20b/%E5%8A%9E?x=1&y=%E4%B8%AD&x=2",
        content=json.dumps({"item_code": "X1"}).encode(),
        headers={
            **auth,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-Request-ID": "trace-me-42",
            "If-Match": '"v3"',
            "Idempotency-Key": "idem-1",
            "Proxy-Authorization": "Basic c2VjcmV0",
            "Keep-Alive": "timeout=5",
            "X-Custom": "kept",
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == "trace-me-42"
    assert response.headers["x-upstream"] == "intake"
    echo = response.json()
    assert echo["service"] == "intake" and echo["method"] == "POST"
    assert echo["raw_path"] == "/api/v1/intake/cases/a%20b/%E5%8A%9E"
    assert echo["query"] == "x=1&y=%E4%B8%AD&x=2"
    assert json.loads(echo["body"]) == {"item_code": "X1"}
    assert header_values(echo, "authorization") == [auth["Authorization"]]
    assert header_values(echo, "x-request-id") == ["trace-me-42"]
    assert header_values(echo, "if-match") == ['"v3"']
    assert header_values(echo, "idempotency-key") == ["idem-1"]
    assert header_values(echo, "content-type") == ["application/json"]
    assert header_values(echo, "accept") == ["application/json"]
    assert header_values(echo, "x-custom") == ["kept"]
    assert header_values(echo, "host") == [upstreams["intake"].removeprefix("http://")]
    assert header_values(echo, "x-forwarded-for") == ["testclient"]
    assert not header_values(echo, "proxy-authorization") and not header_values(echo, "keep-alive")


def test_generated_request_id_is_the_one_forwarded(gateway: TestClient, bearer: Bearer) -> None:
    response = gateway.get("/api/v1/agents/anything", headers=bearer())
    echo = response.json()
    assert header_values(echo, "x-request-id") == [response.headers["x-request-id"]]


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/api/v1/orgs", "catalogue"),
        ("/api/v1/orgs/330102000000/children", "catalogue"),
        ("/api/v1/catalogue/items/X1", "catalogue"),
        ("/api/v1/intake/cases", "intake"),
        ("/api/v1/approval/cases/1/decision", "approval"),
        ("/api/v1/agents/cases", "agents"),
        ("/api/v1/supervision/stats", "supervision"),
        ("/api/v1/cases/C-1", "supervision"),
    ],
)
def test_each_prefix_reaches_its_service(
    gateway: TestClient, bearer: Bearer, path: str, service: str
) -> None:
    response = gateway.delete(path, headers=bearer())
    assert response.status_code == 200, response.text
    assert response.json()["service"] == service


def test_protected_paths_need_a_valid_token(gateway: TestClient, bearer: Bearer) -> None:
    missing = gateway.get("/api/v1/cases/C-1")
    assert missing.status_code == 401 and missing.headers["content-type"] == PROBLEM_JSON
    assert missing.json()["type"] == "urn:weimin:problem:unauthorized"
    assert missing.headers["x-request-id"]
    forged = gateway.get("/api/v1/cases/C-1", headers={"Authorization": "Bearer a.b.c"})
    assert forged.status_code == 401 and forged.json()["type"] == "urn:weimin:problem:invalid-token"
    expired = gateway.get("/api/v1/cases/C-1", headers=bearer(ttl=-10))
    assert expired.status_code == 401 and expired.json()["type"] == "urn:weimin:problem:token-expired"
    # Writes to the public directory still need a token.
    assert gateway.post("/api/v1/orgs", json={}).status_code == 401
    # A token that was good once is remembered, and still good.
    auth = bearer()
    assert gateway.get("/api/v1/cases/C-1", headers=auth).status_code == 200
    assert gateway.get("/api/v1/cases/C-1", headers=auth).status_code == 200


def test_org_directory_and_catalogue_are_public_reads(gateway: TestClient) -> None:
    orgs = gateway.get("/api/v1/orgs", params={"level": "town"})
    assert orgs.status_code == 200
    assert orgs.json()["items"][0]["level"] == "town"
    assert gateway.get("/api/v1/orgs/330102000000").status_code == 200
    assert gateway.get("/api/v1/catalogue/items").json()["service"] == "catalogue"
    assert gateway.head("/api/v1/catalogue/items").status_code == 200


def test_upstream_problems_pass_through_unchanged(gateway: TestClient, bearer: Bearer) -> None:
    response = gateway.get("/api/v1/approval/problem", headers=bearer())
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.content == UPSTREAM_PROBLEM
    assert response.headers["x-request-id"] != "upstream-must-not-win"


@pytest.mark.parametrize("path", ["/api/v1/unknown/x", "/api/v1/orgsx", "/api/v1/orgs/%2e%2e/intake/cases"])
def test_unknown_api_paths_are_404_problems(gateway: TestClient, path: str) -> None:
    response = gateway.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON


def test_down_upstream_is_a_503_problem(gateway_factory, bearer: Bearer, dead_url: str) -> None:
    gateway = gateway_factory(WEIMIN_APPROVAL_URL=dead_url)
    response = gateway.post(
        "/api/v1/approval/cases/1/decision", json={"outcome": "approved"}, headers=bearer()
    )
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["type"] == "urn:weimin:problem:upstream-unavailable"
    assert response.headers["x-request-id"]
    # The other services are unaffected.
    assert gateway.get("/api/v1/orgs").status_code == 200


def test_slow_upstream_is_a_504_problem(gateway_factory, bearer: Bearer) -> None:
    gateway = gateway_factory(WEIMIN_GATEWAY_UPSTREAM_TIMEOUT="0.3")
    response = gateway.get("/api/v1/agents/slow", params={"seconds": 1.0}, headers=bearer())
    assert response.status_code == 504
    assert response.json()["type"] == "urn:weimin:problem:upstream-timeout"


def test_large_bodies_stream_both_ways(live_gateway, bearer: Bearer) -> None:
    size = 3_000_000
    payload = bytes(range(256)) * 8192  # 2 MiB
    # Past the default 64 KiB JSON limit: this route is given room (as the catalogue's upload has).
    url = live_gateway(WEIMIN_MAX_BODY_BYTES=str(4 * 1024 * 1024))
    with httpx.Client(base_url=url, headers=bearer(), timeout=10) as client:
        with client.stream("GET", "/api/v1/intake/big", params={"size": size}) as big:
            assert big.status_code == 200
            assert "content-length" not in big.headers
            received = [chunk for chunk in big.iter_raw()]
        assert len(received) > 1
        assert b"".join(received) == bytes(i % 251 for i in range(size))

        chunks = (payload[i : i + 100_000] for i in range(0, len(payload), 100_000))
        upload = client.post("/api/v1/intake/upload", content=chunks)
        assert upload.status_code == 200, upload.text
        digest = hashlib.sha256(payload).hexdigest()
        assert upload.json() == {"length": len(payload), "sha256": digest, "chunked": True}

        sized = client.post("/api/v1/intake/upload", content=payload)
        assert sized.json() == {"length": len(payload), "sha256": digest, "chunked": False}
        assert client.head("/api/v1/catalogue/items").status_code == 200


def test_upstream_cookies_reach_the_caller_but_never_another_caller(
    gateway: TestClient, bearer: Bearer
) -> None:
    auth = bearer()
    first = gateway.get("/api/v1/supervision/cookie", headers=auth)
    assert "upstream_session=secret-of-one-caller" in first.headers["set-cookie"]
    gateway.cookies.clear()  # the next caller has no cookie of its own
    echo = gateway.get("/api/v1/supervision/anything", headers=auth).json()
    assert not header_values(echo, "cookie")


def test_requests_in_flight_to_one_upstream_are_capped(gateway_factory, bearer: Bearer) -> None:
    gateway = gateway_factory(WEIMIN_GATEWAY_UPSTREAM_CONCURRENCY="2")
    auth = bearer()
    gateway.post("/api/v1/agents/inflight/reset", headers=auth)
    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda _: gateway.get("/api/v1/agents/inflight", headers=auth), range(12)))
    assert all(r.status_code == 200 for r in responses)
    assert max(r.json()["max"] for r in responses) == 2


def test_an_event_stream_holds_no_slot_and_ends_when_the_caller_leaves(live_gateway, bearer: Bearer) -> None:
    url = live_gateway(WEIMIN_GATEWAY_UPSTREAM_CONCURRENCY="1")
    with httpx.Client(base_url=url, headers=bearer(), timeout=5) as client:
        with client.stream("GET", "/api/v1/supervision/events") as events:
            assert events.headers["content-type"].startswith("text/event-stream")
            lines = events.iter_lines()
            assert next(lines) == "data: 0"
            # The one slot to supervision is free although the stream is still open.
            assert client.get("/api/v1/supervision/events/open").json() == {"open": 1}
        deadline = time.monotonic() + 3
        while client.get("/api/v1/supervision/events/open").json()["open"] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert client.get("/api/v1/supervision/events/open").json() == {"open": 0}
