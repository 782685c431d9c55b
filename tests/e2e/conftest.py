"""The whole network as `make run` starts it: the launcher's real processes on free ports."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from deploy.launcher import READY_LINE
from shared.auth import Principal, issue_token
from shared.settings import Settings
from tests.support import database_url_for, free_port, free_port_block


@dataclass
class RunningNetwork:
    gateway: str
    var_dir: Path
    process: subprocess.Popen
    output: Path

    def service_url(self, offset: int) -> str:
        """A service's own URL (gateway port + offset, as in deploy/processes.toml)."""
        port = int(self.gateway.rsplit(":", 1)[1])
        return f"http://127.0.0.1:{port + offset}"

    def token(self, username: str, password: str = "demo") -> str:
        reply = httpx.post(
            f"{self.gateway}/api/v1/auth/token",
            data={"grant_type": "password", "username": username, "password": password},
        )
        assert reply.status_code == 200, reply.text
        return reply.json()["access_token"]

    def settings(self) -> Settings:
        """Settings that sign and verify like this network: the key pair its gateway made under its
        var dir on first start (the session's own test keys would be refused here)."""
        keys = self.var_dir / "keys"
        return Settings(
            var_dir=self.var_dir,
            token_signing_key_file=keys / "token-signing-key.pem",
            token_public_keys_file=keys / "jwks.json",
            environment="test",
        )

    def mint(self, principal: Principal) -> str:
        """A token for any principal, signed with this network's private key (logging in needs an account)."""
        return issue_token(principal, self.settings())[0]

    def client(self, username: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token(username)}"} if username else {}
        return httpx.Client(base_url=self.gateway, headers=headers, timeout=30)


def start_launcher(var_dir: Path, port_base: int, nats_port: int, output: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEIMIN_")}
    # The embedded default (SQLite files under var_dir), or on the postgres test backend a fresh
    # PostgreSQL database of the run's own, as production would configure it.
    database_url = database_url_for(var_dir)
    if database_url:
        env["WEIMIN_DATABASE_URL"] = database_url
    log = open(output, "ab")  # noqa: SIM115
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "deploy.launcher",
            "--var-dir",
            str(var_dir),
            "--port-base",
            str(port_base),
            "--nats-port",
            str(nats_port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )


def wait_ready(process: subprocess.Popen, output: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if READY_LINE in output.read_text(errors="replace"):
            return
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError("launcher did not get ready:\n" + output.read_text(errors="replace")[-4000:])


def stop_launcher(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNetwork]:
    root = tmp_path_factory.mktemp("network")
    port_base, nats_port = free_port_block(6), free_port()
    output = root / "launcher.out"
    process = start_launcher(root / "var", port_base, nats_port, output)
    try:
        wait_ready(process, output)
        yield RunningNetwork(f"http://127.0.0.1:{port_base}", root / "var", process, output)
    finally:
        stop_launcher(process)
