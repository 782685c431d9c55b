"""``/healthz`` for the whole network: 200 only when every service and NATS answer.

All checks run at once with short timeouts, so a dead service costs the probe a second, not a minute.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from shared.settings import SERVICE_NAMES, Settings

router = APIRouter(tags=["health"])

SERVICE_TIMEOUT = 2.0
NATS_TIMEOUT = 1.0
NATS_DEFAULT_PORT = 4222


async def service_ok(client: httpx.AsyncClient, base_url: str, timeout: float = SERVICE_TIMEOUT) -> bool:
    try:
        response = await client.get(f"{base_url}/healthz", timeout=timeout)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


async def _nats_server_ok(host: str, port: int, timeout: float) -> bool:
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                # A NATS server greets every connection with its INFO line before the client speaks.
                line = await reader.readline()
            finally:
                writer.close()
                await writer.wait_closed()
    except (OSError, TimeoutError):
        return False
    return line.startswith(b"INFO ")


async def nats_ok(nats_url: str, timeout: float = NATS_TIMEOUT) -> bool:
    """True when any server of ``nats_url`` (a comma-separated list is allowed) greets us."""
    for server in nats_url.split(","):
        server = server.strip()
        parts = urlsplit(server if "://" in server else f"nats://{server}")
        if await _nats_server_ok(parts.hostname or "127.0.0.1", parts.port or NATS_DEFAULT_PORT, timeout):
            return True
    return False


async def network_checks(client: httpx.AsyncClient, settings: Settings) -> dict[str, bool]:
    results = await asyncio.gather(
        *(service_ok(client, settings.service_url(name)) for name in SERVICE_NAMES),
        nats_ok(settings.nats_url),
    )
    return dict(zip([*SERVICE_NAMES, "nats"], results, strict=True))


@router.get(
    "/healthz",
    summary="200 when every service and NATS answer",
    description="Asks each service's `/healthz` and greets NATS, all at once. 503 with the same body "
    "shape (`status: degraded`) when anything is down; `checks` says what.",
    responses={503: {"description": "Something is down; `checks` names it"}},
)
async def healthz(request: Request) -> JSONResponse:
    checks = await network_checks(request.app.state.forwarder.client, request.app.state.settings)
    healthy = all(checks.values())
    return JSONResponse(
        {"status": "ok" if healthy else "degraded", "checks": checks}, status_code=200 if healthy else 503
    )
