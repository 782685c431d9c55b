"""A burst of concurrent callers is served, not deadlocked: each service bounds its open transactions
below its connection pool, so no worker thread waits on the pool while a holder waits for a thread."""

from __future__ import annotations

import asyncio

import httpx

from tests.e2e.conftest import RunningNetwork

BURST = 200


async def _burst(url: str) -> list[int | str]:
    limits = httpx.Limits(max_connections=BURST)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        replies = await asyncio.gather(*(client.get(url) for _ in range(BURST)), return_exceptions=True)
    return [r.status_code if isinstance(r, httpx.Response) else repr(r) for r in replies]


def test_a_burst_of_concurrent_callers_is_served_without_errors(network: RunningNetwork) -> None:
    catalogue = network.service_url(1)
    assert set(asyncio.run(_burst(f"{catalogue}/api/v1/orgs"))) == {200}
    assert set(asyncio.run(_burst(f"{network.gateway}/api/v1/orgs?level=village"))) == {200}
