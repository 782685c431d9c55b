"""A connection pool per upstream that costs O(1) per request: the transport the gateway's client mounts.

httpcore's own pool walks every pooled connection on each request and on each release (a ``poll()``
per idle connection and a quadratic count of the idle ones); measured here, that made a gateway with
eight connections per upstream a third slower than one with two. The gateway needs none of that
pool's work: its per-upstream semaphore already bounds how many connections are in use. A lane
keeps idle keep-alive connections on a stack (last in, first out, so the warmest is reused) and
hands one out after a single liveness check.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import httpcore
import httpx

# httpcore's errors as the httpx ones callers catch; the most specific class in the MRO wins.
_ERRORS: dict[type[Exception], type[httpx.TransportError]] = {
    httpcore.TimeoutException: httpx.TimeoutException,
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ReadTimeout: httpx.ReadTimeout,
    httpcore.WriteTimeout: httpx.WriteTimeout,
    httpcore.PoolTimeout: httpx.PoolTimeout,
    httpcore.NetworkError: httpx.NetworkError,
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ReadError: httpx.ReadError,
    httpcore.WriteError: httpx.WriteError,
    httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol,
    httpcore.ProtocolError: httpx.ProtocolError,
    httpcore.LocalProtocolError: httpx.LocalProtocolError,
    httpcore.RemoteProtocolError: httpx.RemoteProtocolError,
}


@contextmanager
def _httpx_errors() -> Iterator[None]:
    try:
        yield
    except httpcore.ConnectionNotAvailable as exc:
        raise httpx.RemoteProtocolError(str(exc)) from exc
    except Exception as exc:
        for cls in type(exc).__mro__:
            mapped = _ERRORS.get(cls)
            if mapped is not None:
                raise mapped(str(exc)) from exc
        raise


_STALE = (httpcore.RemoteProtocolError, httpcore.ReadError, httpcore.WriteError)
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def _replayable(request: httpx.Request) -> bool:
    """Idempotent (RFC 9110 §9.2.2) and with a body held in memory, so sending it again is harmless."""
    return request.method in _IDEMPOTENT and isinstance(request.stream, httpx.ByteStream)


class Lane(httpx.AsyncBaseTransport):
    """Keep-alive HTTP/1.1 connections to one upstream origin."""

    def __init__(self, base_url: str, *, keepalive_expiry: float) -> None:
        url = httpx.URL(base_url)
        port = url.port or (443 if url.scheme == "https" else 80)
        self.origin = httpcore.Origin(url.raw_scheme, url.raw_host, port)
        self._ssl_context = httpx.create_ssl_context() if url.scheme == "https" else None
        self._keepalive_expiry = keepalive_expiry
        self._idle: list[tuple[httpcore.AsyncHTTPConnection, float]] = []  # (connection, returned at)
        self._closed = False

    @property
    def mount_key(self) -> str:
        """The URL pattern ``httpx.AsyncClient(mounts=...)`` routes this origin's requests by."""
        origin = self.origin
        return f"{origin.scheme.decode()}://{origin.host.decode()}:{origin.port}"

    @property
    def idle_connections(self) -> int:
        return len(self._idle)

    async def _take(self) -> tuple[httpcore.AsyncHTTPConnection, bool]:
        """A connection, and whether it is a reused one."""
        while self._idle:
            connection, _ = self._idle.pop()
            # has_expired: idle past keepalive_expiry, or the upstream has closed it (one poll()).
            if connection.is_idle() and not connection.has_expired():
                return connection, True
            await connection.aclose()
        return self._new_connection(), False

    def _new_connection(self) -> httpcore.AsyncHTTPConnection:
        return httpcore.AsyncHTTPConnection(
            origin=self.origin,
            ssl_context=self._ssl_context,
            keepalive_expiry=self._keepalive_expiry,
            http1=True,
            http2=False,
        )

    async def _give_back(self, connection: httpcore.AsyncHTTPConnection) -> None:
        if self._closed or not connection.is_idle():
            await connection.aclose()
            return
        now = time.monotonic()
        self._idle.append((connection, now))
        # The bottom of the stack is reused last; close it once it has idled past its expiry.
        oldest, returned_at = self._idle[0]
        if now - returned_at > self._keepalive_expiry:
            del self._idle[0]
            await oldest.aclose()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=self.origin.scheme,
                host=self.origin.host,
                port=self.origin.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        connection, reused = await self._take()
        try:
            with _httpx_errors():
                try:
                    core_response = await connection.handle_async_request(core_request)
                except _STALE:
                    # The upstream may have closed a kept-alive connection just as we reused it (it restarted,
                    # or its keep-alive ran out): repeat once on a new connection, where that is safe.
                    if not (reused and _replayable(request)):
                        raise
                    await connection.aclose()
                    connection = self._new_connection()
                    core_response = await connection.handle_async_request(core_request)
        except BaseException:
            await connection.aclose()
            raise
        return httpx.Response(
            status_code=core_response.status,
            headers=core_response.headers,
            stream=_LaneStream(self, connection, core_response.stream),
            extensions=core_response.extensions,
        )

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for connection, _ in idle:
            await connection.aclose()


class _LaneStream(httpx.AsyncByteStream):
    """The response body; closing it returns the connection to its lane (or closes it)."""

    def __init__(self, lane: Lane, connection: httpcore.AsyncHTTPConnection, stream: object) -> None:
        self._lane, self._connection, self._stream = lane, connection, stream
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors():
            async for part in self._stream:  # type: ignore[attr-defined]
                yield part

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            with _httpx_errors():
                await self._stream.aclose()  # type: ignore[attr-defined]
        finally:
            await self._lane._give_back(self._connection)
