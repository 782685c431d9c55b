"""The launcher restarts a crashing child with a growing backoff, and starts afresh once it is stable."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from deploy.launcher import MAX_BACKOFF_SECONDS, STABLE_SECONDS, Network


def _wait_exit(network: Network) -> None:
    for child in network.children:
        child.process.wait(timeout=10)


def test_a_crashing_child_is_restarted_after_a_growing_backoff(tmp_path: Path) -> None:
    network = Network(tmp_path / "var", port_base=1, nats_port=2)
    (network.var_dir / "logs").mkdir(parents=True)
    network._spawn("flaky", [sys.executable, "-c", "import sys; sys.exit(3)"])
    [child] = network.children
    delays = []
    now = time.monotonic()
    for _ in range(8):
        _wait_exit(network)
        [said] = network.supervise(now)
        assert said.startswith("flaky exited with code 3; restarting it in ")
        delays.append(child.restart_at - now)  # type: ignore[operator]
        now = child.restart_at  # type: ignore[assignment]
        assert network.supervise(now) == [f"flaky restarted (pid {child.process.pid})"]
    assert delays == [0.5, 1, 2, 4, 8, 16, MAX_BACKOFF_SECONDS, MAX_BACKOFF_SECONDS]


def test_a_child_that_stayed_up_starts_the_backoff_afresh(tmp_path: Path) -> None:
    network = Network(tmp_path / "var", port_base=1, nats_port=2)
    (network.var_dir / "logs").mkdir(parents=True)
    network._spawn("steady", [sys.executable, "-c", "import time; time.sleep(30)"])
    [child] = network.children
    child.restarts = 5
    try:
        assert network.supervise(child.started_at + STABLE_SECONDS) == []
        assert child.restarts == 0
    finally:
        child.process.kill()
        child.process.wait()
