"""/healthz across the network: real upstreams, a real nats-server."""

from __future__ import annotations

import asyncio
import socket
import threading

from gateway.health import nats_ok


def test_healthz_is_200_when_every_service_and_nats_answer(gateway_factory, nats_url: str) -> None:
    gateway = gateway_factory(WEIMIN_NATS_URL=nats_url)
    response = gateway.get("/healthz")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ok",
        "checks": {
            "catalogue": True,
            "intake": True,
            "approval": True,
            "agents": True,
            "supervision": True,
            "nats": True,
        },
    }
    assert response.headers["x-request-id"]


def test_healthz_is_503_when_a_service_or_nats_is_down(gateway_factory, nats_url: str, dead_url: str) -> None:
    gateway = gateway_factory(WEIMIN_NATS_URL=nats_url, WEIMIN_INTAKE_URL=dead_url)
    response = gateway.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert (
        body["checks"]["intake"] is False and body["checks"]["catalogue"] is True and body["checks"]["nats"]
    )

    without_nats = gateway_factory(WEIMIN_NATS_URL=dead_url.replace("http", "nats"))
    body = without_nats.get("/healthz").json()
    assert body["checks"]["nats"] is False and body["status"] == "degraded"


def test_a_server_that_is_not_nats_does_not_count() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        def greet_wrongly() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

        thread = threading.Thread(target=greet_wrongly, daemon=True)
        thread.start()
        assert asyncio.run(nats_ok(f"nats://127.0.0.1:{port}")) is False
        thread.join(timeout=2)
