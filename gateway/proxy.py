"""The forwarding path: every ``/api/v1/...`` call the gateway does not answer itself goes to a service.

This is the hottest code in the system, so it is a bare ASGI app rather than a FastAPI route, and
``gateway.main.GatewayApp`` hands it a service's call before FastAPI's per-request machinery runs:
- the exchange goes over ``gateway.lanes.RawLane``: asyncio transports and httptools' C parser, one
  stack of keep-alive connections per upstream handed out in O(1) (httpx + httpcore + h11 cost most of
  the gateway's CPU per call); the process's ``httpx.AsyncClient`` remains for the health checks;
- a semaphore per upstream caps the requests in flight to it (the rest wait here, cheaply), which
  also bounds that upstream's connections;
- the routing table is a dict from the path's first segment, built once; paths go out unchanged;
- bodies stream both ways; nothing is parsed or re-encoded, so upstream problem+json passes through.

The gateway checks the bearer token before forwarding a non-public call (a verified token is
remembered until it expires or the keys change); the services check it again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import jwt
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from gateway.lanes import Lane, RawLane, RawResponse, UpstreamError
from shared.auth import JwksFile, bearer_token, decode_token
from shared.errors import Unauthorized, problem
from shared.settings import SERVICE_NAMES, Settings

log = logging.getLogger("weimin.gateway.proxy")

API_PREFIX = "/api/v1/"

# First path segment after /api/v1/ -> the service that owns it.
ROUTES: dict[str, str] = {
    "orgs": "catalogue",
    "catalogue": "catalogue",
    "intake": "intake",
    "approval": "approval",
    "agents": "agents",
    "supervision": "supervision",
    "cases": "supervision",
}
# 政务公开: the org directory and the catalogue are readable without a token.
PUBLIC_READ_SEGMENTS = frozenset({"orgs", "catalogue"})
READ_METHODS = frozenset({"GET", "HEAD"})
# An applicant without an account rates a case with the code on the receipt; supervision checks it.
PUBLIC_WRITES = frozenset({("POST", "/api/v1/supervision/evaluations")})
# Paths the gateway answers itself; other methods on them are a 405, not an unknown path.
OWN_PATHS = frozenset({"/api/v1/auth/token", "/api/v1/me"})

# Hop-by-hop headers (RFC 9110 §7.6.1) and those the gateway sets itself. ``proxy-*`` are dropped too.
_DROP_REQUEST = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"transfer-encoding",
        b"te",
        b"trailer",
        b"upgrade",
        b"host",
        b"expect",
        b"x-request-id",
        b"x-forwarded-for",
    }
)
# ``date`` and ``server``: uvicorn adds its own; ``x-request-id``: the middleware sets the gateway's.
_DROP_RESPONSE = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"transfer-encoding",
        b"te",
        b"trailer",
        b"upgrade",
        b"date",
        b"server",
        b"x-request-id",
    }
)
# Below uvicorn's default keep-alive (5 s), so the gateway never reuses a connection the service is closing.
_KEEPALIVE_EXPIRY = 4.0
_VERIFIED_TOKENS_MAX = 10_000


class _Cookieless(httpx.Cookies):
    """A jar that never stores: one client serves every caller, so no caller's cookie may stick to it."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class UpstreamClient(httpx.AsyncClient):
    _no_cookies = _Cookieless()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, value: object) -> None:
        return None


def make_upstream_client(settings: Settings) -> UpstreamClient:
    """The process's one client: a ``Lane`` (an O(1) keep-alive pool) mounted for each upstream origin."""
    mounts: dict[str, httpx.AsyncBaseTransport | None] = {}
    for name in SERVICE_NAMES:
        lane = Lane(settings.service_url(name), keepalive_expiry=_KEEPALIVE_EXPIRY)
        mounts.setdefault(lane.mount_key, lane)  # services sharing an origin share its lane
    client = UpstreamClient(
        mounts=mounts,
        timeout=httpx.Timeout(
            settings.gateway_upstream_timeout, connect=min(5.0, settings.gateway_upstream_timeout)
        ),
        trust_env=False,  # never route service traffic through an environment proxy
        follow_redirects=False,
    )
    # Forward the caller's Accept-Encoding (or none), not httpx's: bodies pass through undecoded.
    del client.headers["accept-encoding"]
    return client


@dataclass(slots=True)
class Upstream:
    name: str
    base_url: str
    gate: asyncio.Semaphore
    lane: RawLane


class ClientGone(Exception):
    """The caller disconnected while its body was being forwarded."""


def is_forwarded(path: str) -> bool:
    """A call under a service's prefix (the gateway's own ``/api/v1`` paths, ``auth`` and ``me``,
    are no service's): the forwarder answers it, never one of the gateway's routes."""
    return path.startswith(API_PREFIX) and path[_PREFIX_LENGTH:].partition("/")[0] in ROUTES


_PREFIX_LENGTH = len(API_PREFIX)


def _has_dot_segment(path: str) -> bool:
    return any(part in (".", "..") for part in path.split("/"))


class Forwarder:
    """ASGI app for ``/api/v1/{path}``: check the token, pick the upstream, stream the exchange."""

    def __init__(self) -> None:
        self.client: UpstreamClient | None = None
        self.settings: Settings | None = None
        self.upstreams: dict[str, Upstream] = {}
        self._routes: dict[str, Upstream] = {}
        self._verified: dict[str, float] = {}  # token -> its expiry, once its signature checked out
        self.keys: JwksFile | None = None  # the gateway's own JWKS file (never a URL: it is the source)
        self._keys_version: object = None

    async def open(self, settings: Settings) -> None:
        self.settings = settings
        self.client = make_upstream_client(settings)
        self.upstreams = {}
        lanes: dict[str, RawLane] = {}  # services at one address share its lane
        for name in SERVICE_NAMES:
            url = settings.service_url(name)
            if url not in lanes:
                lanes[url] = RawLane(
                    url, keepalive_expiry=_KEEPALIVE_EXPIRY, timeout=settings.gateway_upstream_timeout
                )
            gate = asyncio.Semaphore(settings.gateway_upstream_concurrency)
            self.upstreams[name] = Upstream(name, url, gate, lanes[url])
        self._routes = {segment: self.upstreams[service] for segment, service in ROUTES.items()}
        self._verified.clear()
        self.keys = JwksFile(settings.public_keys_path)
        self._keys_version = self.keys.version()

    async def aclose(self) -> None:
        for upstream in self.upstreams.values():
            await upstream.lane.aclose()
        if self.client is not None:
            await self.client.aclose()
            self.client = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        segment = path[len(API_PREFIX) :].partition("/")[0]
        upstream = self._routes.get(segment)
        if upstream is None or ("/." in path and _has_dot_segment(path)):
            if path in OWN_PATHS:
                detail = f"{scope['method']} is not allowed on {path}"
                await _problem(scope, receive, send, 405, "method-not-allowed", detail)
            else:
                await _problem(scope, receive, send, 404, "not-found", f"No API at {path}")
            return
        public = (scope["method"] in READ_METHODS and segment in PUBLIC_READ_SEGMENTS) or (
            (scope["method"], path) in PUBLIC_WRITES and bearer_token(Request(scope)) is None
        )
        if not public:
            refusal = self._check_token(scope)
            if refusal is not None:
                await _problem(scope, receive, send, 401, refusal.slug, refusal.detail, title=refusal.title)
                return
        failure = await self._forward(upstream, scope, receive, send)
        if failure is not None:
            status, slug, detail = failure
            await _problem(scope, receive, send, status, slug, detail, service=upstream.name)

    def _check_token(self, scope: Scope) -> Unauthorized | None:
        """None when the request carries a valid token; otherwise why it is refused."""
        token = bearer_token(Request(scope))
        if token is None:
            return Unauthorized("A bearer token is required")
        assert self.settings is not None and self.keys is not None
        version = self.keys.version()  # one stat(): a retired key stops verifying at once
        if version != self._keys_version:
            self._verified.clear()
            self._keys_version = version
        expiry = self._verified.get(token)
        if expiry is not None and expiry > time.time():
            return None
        try:
            decode_token(token, self.settings, keys=self.keys)
        except Unauthorized as exc:
            return exc
        # Remember verified tokens until they expire (or the keys change): an Ed25519 check and JSON
        # on every call is work done once here.
        if len(self._verified) >= _VERIFIED_TOKENS_MAX:
            self._verified.clear()
        self._verified[token] = float(jwt.decode(token, options={"verify_signature": False})["exp"])
        return None

    async def _forward(
        self, upstream: Upstream, scope: Scope, receive: Receive, send: Send
    ) -> tuple[int, str, str] | None:
        """Relay one exchange; when no response was started, (status, slug, detail) of the problem to send."""
        assert self.settings is not None
        headers, has_body = _upstream_headers(scope)
        content: bytes | AsyncIterator[bytes] | None = None
        if has_body:
            message = await receive()
            if message["type"] != "http.request":
                return None  # the caller left before sending its body
            first = message.get("body", b"")
            content = _rest_of_body(first, receive) if message.get("more_body", False) else first

        target: bytes = scope.get("raw_path") or scope["path"].encode()
        query: bytes = scope["query_string"]
        if query:
            target += b"?" + query

        gate = upstream.gate
        if gate.locked():
            try:
                async with asyncio.timeout(self.settings.gateway_upstream_timeout):
                    await gate.acquire()
            except TimeoutError:
                return 504, "upstream-timeout", f"The {upstream.name} service is saturated"
        else:
            await gate.acquire()
        holding = True
        try:
            try:
                response = await upstream.lane.request(scope["method"], target, headers, content)
            except UpstreamError as exc:
                if exc.kind == "connect":
                    return 503, "upstream-unavailable", f"The {upstream.name} service is not reachable"
                if exc.kind == "timeout":
                    return 504, "upstream-timeout", f"The {upstream.name} service did not answer in time"
                log.warning("upstream %s failed: %s", upstream.name, exc)
                return 502, "bad-gateway", f"The {upstream.name} service broke off the exchange"
            except ClientGone:
                return None
            try:
                length = response.length()
                if length is None:
                    # An unsized stream (server-sent events, an export) may last long: it gives its slot
                    # back now, and ends when the caller leaves.
                    gate.release()
                    holding = False
                    await _relay_stream(response, send, receive)
                else:
                    await _relay_sized(response, length, send)
            finally:
                await response.aclose()
        finally:
            if holding:
                gate.release()
        return None


def _upstream_headers(scope: Scope) -> tuple[list[tuple[bytes, bytes]], bool]:
    """The caller's headers minus hop-by-hop ones, plus the request id and X-Forwarded-*; and has a body?"""
    headers: list[tuple[bytes, bytes]] = []
    has_body = False
    listed_in_connection: bytes | None = None
    forwarded_for = b""
    for name, value in scope["headers"]:
        if name in _DROP_REQUEST or name.startswith(b"proxy-"):
            if name == b"transfer-encoding":
                has_body = True
            elif name == b"connection":
                listed_in_connection = value
            elif name == b"x-forwarded-for":
                forwarded_for = value
            continue
        if name == b"content-length":
            has_body = value != b"0"
        headers.append((name, value))
    if listed_in_connection:
        # Headers the caller named in Connection are hop-by-hop for this hop only (RFC 9110 §7.6.1).
        named = {token.strip().lower() for token in listed_in_connection.split(b",")}
        headers = [(k, v) for k, v in headers if k not in named]
    request_id = scope.get("state", {}).get("request_id")
    if request_id:
        headers.append((b"x-request-id", request_id.encode()))
    client = scope.get("client")
    if client:
        peer = client[0].encode()
        headers.append((b"x-forwarded-for", forwarded_for + b", " + peer if forwarded_for else peer))
    return headers, has_body


async def _rest_of_body(first: bytes, receive: Receive) -> AsyncIterator[bytes]:
    if first:
        yield first
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientGone
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


def _start(response: RawResponse) -> dict[str, object]:
    headers = [(k, v) for k, v in response.headers if k.lower() not in _DROP_RESPONSE]
    return {"type": "http.response.start", "status": response.status, "headers": headers}


async def _relay_sized(response: RawResponse, length: int, send: Send) -> None:
    """Stream a sized answer back as it arrives, headers and bytes untouched (still encoded)."""
    await send(_start(response))
    remaining, finished = length, False
    # The loop runs to the message's end, past the last byte: only then can the connection be reused.
    async for chunk in response.chunks():
        remaining -= len(chunk)
        # The last chunk closes the response in the same message (most answers are one chunk).
        await send({"type": "http.response.body", "body": chunk, "more_body": remaining > 0})
        finished = remaining <= 0
    if not finished:
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _relay_stream(response: RawResponse, send: Send, receive: Receive) -> None:
    """Relay an unsized stream until it ends or the caller disconnects (uvicorn's send() won't say)."""
    await send(_start(response))

    async def pump() -> None:
        async for chunk in response.chunks():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def caller_left() -> None:
        # The whole request body was sent before the answer was read, so receive() is ours now.
        while (await receive())["type"] != "http.disconnect":
            pass

    relay, watch = asyncio.ensure_future(pump()), asyncio.ensure_future(caller_left())
    try:
        await asyncio.wait((relay, watch), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (relay, watch):
            task.cancel()
        await asyncio.gather(relay, watch, return_exceptions=True)
    failure = None if relay.cancelled() else relay.exception()
    if failure is not None:
        raise failure


_TITLES = {
    401: "Authentication required",
    404: "Not found",
    405: "Method not allowed",
    502: "Bad gateway",
    503: "Upstream unavailable",
    504: "Upstream timeout",
}


async def _problem(
    scope: Scope, receive: Receive, send: Send, status: int, slug: str, detail: str, **extra: object
) -> None:
    title = str(extra.pop("title", "") or _TITLES[status])
    await problem(status, title, detail, slug, Request(scope), **extra)(scope, receive, send)
