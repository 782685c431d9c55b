"""A connection pool per upstream that costs O(1) per request: the transport the gateway's client mounts.

httpcore's own pool walks every pooled connection on each request and on each release (a ``poll()``
per idle connection and a quadratic count of the idle ones); measured here, that made a gateway with
eight connections per upstream a third slower than one with two. The gateway needs none of that
pool's work: its per-upstream semaphore already bounds how many connections are in use. A lane
keeps idle keep-alive connections on a stack (last in, first out, so the warmest is reused) and
hands one out after a single liveness check.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import httpcore
import httptools
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


# -- the forwarding path's own HTTP/1.1 client ------------------------------------------------------------
#
# httpx + httpcore cost the gateway most of its CPU per forwarded call (measured with py-spy: request and
# response objects, URL parsing, h11's pure-Python state machine, anyio's cancel scopes around every read
# and write). ``RawLane`` does the one thing the forwarder needs, over asyncio's transports and httptools'
# C parser (the one uvicorn uses): write the request as bytes, parse the answer, hand its body on as it
# arrives, keep the connection for the next call. ``Lane`` (above) stays the transport of the httpx client
# the gateway's health checks use.


class UpstreamError(Exception):
    """The exchange with the upstream failed: ``kind`` is ``connect``, ``timeout`` or ``broken``."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(detail or kind)
        self.kind = kind


_HIGH_WATER = 256 * 1024  # body bytes buffered before the connection stops reading from the upstream


class _Connection(asyncio.Protocol):
    """One keep-alive connection to an upstream; one exchange at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser: httptools.HttpResponseParser | None = None
        self.lost = False
        self.returned_at = 0.0
        self._waiter: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.headers_done = self.message_done = self.keep_alive = False
        self.received_any = False
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.error: BaseException | None = None
        self.paused = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no asyncio.Transport subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.parser is not None and not self.message_done and self.error is None:
            self.error = exc or ConnectionResetError("the upstream closed the connection")
        self._wake()
        if self._drain is not None and not self._drain.done():
            self._drain.set_exception(ConnectionResetError("the upstream closed the connection"))

    def data_received(self, data: bytes) -> None:
        parser = self.parser
        if parser is None:  # nothing was asked: an idle connection has no business receiving
            self.lost = True
            if self.transport is not None:
                self.transport.close()
            return
        self.received_any = True
        try:
            parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.error = exc
            self.lost = True
            if self.transport is not None:
                self.transport.close()
            self._wake()

    def pause_writing(self) -> None:
        if self._drain is None or self._drain.done():
            self._drain = self.loop.create_future()

    def resume_writing(self) -> None:
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        assert self.parser is not None
        self.status = self.parser.get_status_code()
        # Asked now: llhttp forgets it once the message is complete.
        self.keep_alive = self.parser.should_keep_alive()
        self.headers_done = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > _HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        self.message_done = True
        self._wake()

    # what the lane uses
    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self, timeout: float) -> None:
        """Until the parser or the connection has news (or ``timeout``: UpstreamError timeout)."""
        self._waiter = self.loop.create_future()
        try:
            async with asyncio.timeout(timeout):
                await self._waiter
        except TimeoutError:
            raise UpstreamError("timeout", "the upstream did not answer in time") from None
        finally:
            self._waiter = None

    async def write(self, data: bytes) -> None:
        if self.lost or self.transport is None:
            raise ConnectionResetError("the upstream closed the connection")
        self.transport.write(data)
        if self._drain is not None and not self._drain.done():
            await self._drain

    def take_chunk(self) -> bytes:
        chunk = self.chunks.popleft()
        self.buffered -= len(chunk)
        if self.paused and self.buffered <= _HIGH_WATER // 2 and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()
        return chunk

    def begin(self) -> None:
        self._reset()
        self.parser = httptools.HttpResponseParser(self)

    def close(self) -> None:
        self.lost = True
        if self.transport is not None:
            self.transport.close()


class RawResponse:
    """An upstream's answer: status and headers as received; the body read with ``chunks()``."""

    def __init__(self, lane: RawLane, connection: _Connection, *, head: bool) -> None:
        self._lane, self._connection = lane, connection
        self.status = connection.status
        self.headers = connection.headers
        self._head = head
        self._closed = False

    def length(self) -> int | None:
        """The body's size when known beforehand (0 for answers that never have one)."""
        if self._head or self.status in (204, 304) or 100 <= self.status < 200:
            return 0
        length = None
        for name, value in self.headers:
            lowered = name.lower()
            if lowered == b"transfer-encoding":
                return None
            if lowered == b"content-length":
                length = value
        return int(length) if length is not None and length.isdigit() else None

    async def chunks(self) -> AsyncIterator[bytes]:
        connection, timeout = self._connection, self._lane.timeout
        if self._head:
            return
        while True:
            while connection.chunks:
                yield connection.take_chunk()
            if connection.message_done:
                return
            if connection.error is not None:
                raise UpstreamError("broken", f"the upstream broke off the answer: {connection.error!r}")
            await connection.wait(timeout)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        connection = self._connection
        reusable = (
            connection.message_done and not self._head and not connection.lost and connection.keep_alive
        )
        connection.parser = None
        if reusable:
            self._lane.give_back(connection)
        else:
            connection.close()


class RawLane:
    """Keep-alive HTTP/1.1 connections to one upstream, for the forwarder: a stack of idle ones
    (the warmest reused first), each handed out after an O(1) check."""

    def __init__(self, base_url: str, *, keepalive_expiry: float, timeout: float) -> None:
        url = httpx.URL(base_url)
        if url.scheme != "http":
            raise ValueError(f"the forwarding lane speaks plain HTTP to services, not {url.scheme}")
        self.host = url.host
        self.port = url.port or 80
        self.host_header = f"{self.host}:{self.port}".encode() if url.port else self.host.encode()
        self.prefix = url.raw_path.rstrip(b"/")  # a service mounted below a path keeps it
        self.keepalive_expiry = keepalive_expiry
        self.timeout = timeout
        self.connect_timeout = min(5.0, timeout)
        self._idle: list[_Connection] = []
        self._closed = False

    @property
    def idle_connections(self) -> int:
        return len(self._idle)

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, connection = await loop.create_connection(lambda: _Connection(loop), self.host, self.port)
        except TimeoutError:
            raise UpstreamError("connect", "connecting timed out") from None
        except OSError as exc:
            raise UpstreamError("connect", str(exc)) from exc
        return connection

    def _take_idle(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if not connection.lost and now - connection.returned_at < self.keepalive_expiry:
                return connection
            connection.close()
        return None

    def give_back(self, connection: _Connection) -> None:
        if self._closed:
            connection.close()
            return
        now = time.monotonic()
        connection.returned_at = now
        self._idle.append(connection)
        oldest = self._idle[0]
        if now - oldest.returned_at > self.keepalive_expiry:
            del self._idle[0]
            oldest.close()

    async def request(
        self,
        method: str,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes | AsyncIterator[bytes] | None,
    ) -> RawResponse:
        """Send one request and wait for the answer's head. A reused connection the upstream had
        closed is replaced once, for an idempotent request whose body is in memory."""
        head, chunked = _request_head(method, self.prefix + target, self.host_header, headers, body)
        connection = self._take_idle()
        reused = connection is not None
        if connection is None:
            connection = await self._connect()
        try:
            try:
                return await self._exchange(connection, method, head, body, chunked)
            except (ConnectionError, UpstreamError) as exc:
                stale = (
                    reused
                    and not connection.received_any
                    and (isinstance(exc, ConnectionError) or exc.kind == "broken")
                )
                if not (stale and method in _IDEMPOTENT and not isinstance(body, AsyncIterator)):
                    raise
                connection.close()
                connection = await self._connect()
                return await self._exchange(connection, method, head, body, chunked)
        except ConnectionError as exc:
            connection.close()
            raise UpstreamError("broken", str(exc)) from exc
        except BaseException:
            connection.close()
            raise

    async def _exchange(
        self,
        connection: _Connection,
        method: str,
        head: bytes,
        body: bytes | AsyncIterator[bytes] | None,
        chunked: bool,
    ) -> RawResponse:
        connection.begin()
        if body is None or isinstance(body, bytes):
            await connection.write(head + body if body else head)
        else:
            await connection.write(head)
            async for chunk in body:
                if chunk:
                    await connection.write(b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunked else chunk)
            if chunked:
                await connection.write(b"0\r\n\r\n")
        while not connection.headers_done:
            if connection.error is not None:
                raise UpstreamError("broken", f"the upstream broke off the exchange: {connection.error!r}")
            await connection.wait(self.timeout)
        return RawResponse(self, connection, head=method == "HEAD")

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


def _request_head(
    method: str,
    target: bytes,
    host: bytes,
    headers: list[tuple[bytes, bytes]],
    body: bytes | AsyncIterator[bytes] | None,
) -> tuple[bytes, bool]:
    """The request line and headers (with ``host``, and the body's framing); and is it chunked?"""
    lines = [b"%b %b HTTP/1.1\r\nhost: %b\r\n" % (method.encode(), target, host)]
    sized = False
    for name, value in headers:
        if name == b"content-length":
            sized = True
        lines.append(b"%b: %b\r\n" % (name, value))
    chunked = False
    if body is not None and not isinstance(body, bytes):
        if not sized:
            chunked = True
            lines.append(b"transfer-encoding: chunked\r\n")
    elif not sized and (body or method in _BODY_METHODS):
        lines.append(b"content-length: %d\r\n" % len(body or b""))
    lines.append(b"\r\n")
    return b"".join(lines), chunked


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
