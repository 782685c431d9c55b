"""The per-upstream keep-alive pool: reuse, and one safe retry when a kept-alive connection went stale."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from gateway.lanes import Lane


def test_the_gateway_reuses_its_upstream_connections(gateway: TestClient, bearer) -> None:
    auth = bearer()
    ports = {gateway.get("/api/v1/intake/echo", headers=auth).json()["peer_port"] for _ in range(5)}
    assert len(ports) == 1


class HangUpOnSecondRequest:
    """A raw HTTP/1.1 server: answers a connection's first request, drops the connection on its second."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen()
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    @staticmethod
    def _handle(conn: socket.socket) -> None:
        with conn:
            buffer = b""
            for answered in range(2):
                while b"\r\n\r\n" not in buffer:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffer += data
                _, _, buffer = buffer.partition(b"\r\n\r\n")
                if answered == 1:
                    return  # close without a response, as a server whose keep-alive ran out does
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def hang_up_server() -> Iterator[HangUpOnSecondRequest]:
    server = HangUpOnSecondRequest()
    yield server
    server.close()


def test_a_stale_connection_is_retried_once_for_idempotent_requests(
    hang_up_server: HangUpOnSecondRequest,
) -> None:
    async def scenario() -> None:
        lane = Lane(hang_up_server.url, keepalive_expiry=4.0)
        async with httpx.AsyncClient(transport=lane) as client:
            assert (await client.get(f"{hang_up_server.url}/a")).text == "ok"
            assert lane.idle_connections == 1
            # Reused connection is dropped by the server: the GET goes again on a new connection.
            assert (await client.get(f"{hang_up_server.url}/b")).text == "ok"
            assert hang_up_server.connections == 2
            # A POST is never sent twice. The drop reads as a clean close or, when the unread body
            # makes the server's kernel reset the connection, as a reset: either way, no retry.
            with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
                await client.post(f"{hang_up_server.url}/c", content=b"x")
            assert hang_up_server.connections == 2, "no new connection was opened to send it again"

    asyncio.run(scenario())


def test_a_connection_that_failed_is_not_kept() -> None:
    async def scenario() -> None:
        lane = Lane("http://127.0.0.1:1", keepalive_expiry=4.0)
        assert lane.mount_key == "http://127.0.0.1:1"
        async with httpx.AsyncClient(transport=lane) as client:
            with pytest.raises(httpx.ConnectError):
                await client.get("http://127.0.0.1:1/")
        assert lane.idle_connections == 0

    asyncio.run(scenario())
