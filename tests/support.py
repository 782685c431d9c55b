"""Real infrastructure for tests: a nats-server on a free port in a temp dir, free ports."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

from deploy.launcher import nats_server_binary, wait_for_port


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_port_block(size: int) -> int:
    """A base port with ``size`` consecutive free ports after it."""
    for _ in range(200):
        base = free_port()
        if base + size >= 65000:
            continue
        ports = range(base, base + size)
        if all(_bindable(p) for p in ports):
            return base
    raise RuntimeError("no block of free ports")


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class NatsServer:
    """A real nats-server with JetStream, stoppable and restartable on the same port and store."""

    def __init__(self, store_dir: Path, port: int | None = None) -> None:
        self.store_dir = store_dir
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> NatsServer:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                nats_server_binary(),
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-js",
                "-sd",
                str(self.store_dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not wait_for_port(self.port, 15):
            raise RuntimeError("nats-server did not start")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not _bindable(self.port):
            time.sleep(0.05)


def external_nats_url() -> str | None:
    """The NATS the environment names for tests, if any (the default run starts its own)."""
    return os.environ.get("WEIMIN_TEST_NATS_URL") or None
