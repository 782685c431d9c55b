"""The launcher keeps the network up: a crashed child (nats-server or a service) is restarted with a
growing backoff and the launcher says so; nothing else stops."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx

from tests.e2e.conftest import start_launcher, stop_launcher, wait_ready
from tests.support import eventually, free_port, free_port_block


def _pids_with(*words: str) -> list[int]:
    """Processes whose command line holds every word (the launcher's children, found by their ports)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        args = [a.decode(errors="replace") for a in argv]
        if all(word in args for word in words):
            found.append(int(entry.name))
    return found


def _healthy(gateway: str) -> bool:
    try:
        return httpx.get(f"{gateway}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_crashed_nats_server_or_service_is_restarted_and_the_network_heals(tmp_path: Path) -> None:
    port_base, nats_port = free_port_block(6), free_port()
    output = tmp_path / "launcher.out"
    launcher = start_launcher(tmp_path / "var", port_base, nats_port, output)
    gateway = f"http://127.0.0.1:{port_base}"
    try:
        wait_ready(launcher, output)
        # The network's own nats-server dies (today this stopped the whole network).
        [nats_pid] = _pids_with("-p", str(nats_port))
        os.kill(nats_pid, signal.SIGKILL)
        eventually(lambda: "nats restarted" in output.read_text(), 30, "the launcher to restart nats")
        eventually(lambda: _healthy(gateway), 60, "the network to be healthy again")
        # A service dies: the agents process (port base + 4).
        [agents_pid] = _pids_with("--port", str(port_base + 4))
        os.kill(agents_pid, signal.SIGKILL)
        eventually(lambda: "agents restarted" in output.read_text(), 30, "the launcher to restart agents")
        eventually(lambda: _healthy(gateway), 60, "the network to be healthy again")
        said = output.read_text()
        assert "nats exited with code" in said and "agents exited with code" in said
        assert launcher.poll() is None, "the launcher kept running"
        assert _pids_with("-p", str(nats_port)) and _pids_with("--port", str(port_base + 4))
    finally:
        stop_launcher(launcher)
