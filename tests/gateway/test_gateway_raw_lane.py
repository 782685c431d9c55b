"""The forwarding path's own HTTP/1.1 client (``gateway.lanes.RawLane``): connections are kept and
reused, a kept connection the upstream closed is replaced once for an idempotent request only, and
failures come back as the kinds the forwarder turns into 502/503/504."""

from __future__ import annotations

import asyncio

import pytest

from gateway.lanes import RawLane, UpstreamError
from tests.gateway.test_gateway_lanes import HangUpOnSecondRequest, hang_up_server
from tests.support import free_port

__fixtures__ = (hang_up_server,)


async def _body(lane: RawLane, method: str, path: bytes, body: bytes | None = None) -> tuple[int, bytes]:
    response = await lane.request(method, path, [], body)
    try:
        return response.status, b"".join([chunk async for chunk in response.chunks()])
    finally:
        await response.aclose()


def test_a_stale_kept_connection_is_replaced_once_for_idempotent_requests(
    hang_up_server: HangUpOnSecondRequest,
) -> None:
    async def scenario() -> None:
        lane = RawLane(hang_up_server.url, keepalive_expiry=4.0, timeout=5.0)
        assert await _body(lane, "GET", b"/a") == (200, b"ok")
        assert lane.idle_connections == 1
        assert await _body(lane, "GET", b"/b") == (200, b"ok")  # the kept one was dropped: sent again
        assert hang_up_server.connections == 2
        with pytest.raises(UpstreamError) as broken:  # a POST is never sent twice
            await _body(lane, "POST", b"/c", b"x")
        assert broken.value.kind == "broken" and hang_up_server.connections == 2
        await lane.aclose()

    asyncio.run(scenario())


def test_a_refused_connection_is_a_connect_failure() -> None:
    async def scenario() -> None:
        lane = RawLane(f"http://127.0.0.1:{free_port()}", keepalive_expiry=4.0, timeout=5.0)
        with pytest.raises(UpstreamError) as refused:
            await _body(lane, "GET", b"/")
        assert refused.value.kind == "connect" and lane.idle_connections == 0

    asyncio.run(scenario())
