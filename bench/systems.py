"""The systems a section measures, each started alone and stopped before the next one starts: the
bare baseline (``bench.baseline`` with its own nats-server) and a Weimin network (the launcher's
``Network``) on PostgreSQL or SQLite, fresh or on a kept data set."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from bench import wrk
from bench.common import Postgres, python, say
from deploy.launcher import Network, wait_for_port
from tests.support import NatsServer, free_port, free_port_block

VILLAGE = "371424100201"
VILLAGE_AGENT = f"agent-{VILLAGE}"
DEMO_PASSWORD = "demo"
# Tried in this order for the create body: the first the demo village's agent may collect wins.
PREFERRED_ITEMS = ["LY-MZ-001", "LY-MZ-003", "LY-SB-001", "LY-YB-001"]


def applicant() -> dict[str, Any]:
    from shared.identity_numbers import make_valid_id_number

    return {
        "name": "张三丰",
        "id_number": make_valid_id_number("371424", date(1958, 3, 14), "123"),
        "phone": "13812345678",
    }


def submission(item_code: str) -> dict[str, Any]:
    """A collect body like the spine's: one applicant, two materials."""
    return {
        "item_code": item_code,
        "applicant": applicant(),
        "materials": [{"name": "居民身份证"}, {"name": "户口簿"}],
    }


# ---------------------------------------------------------------------------------------------- bare


@dataclass
class Bare:
    url: str
    pids: list[int]

    def create(self) -> wrk.Request:
        body = json.dumps(submission("LY-MZ-001"), ensure_ascii=False)
        return wrk.Request(f"{self.url}/cases", "POST", body, (("Content-Type", "application/json"),))

    def item(self) -> wrk.Request:
        return wrk.Request(f"{self.url}/items/LY-MZ-001")


@contextmanager
def bare_system(pg: Postgres) -> Iterator[Bare]:
    """The bare baseline on a fresh database of the bench's PostgreSQL server, with its own NATS."""
    with pg.fresh_database("bench_bare") as url, tempfile.TemporaryDirectory(prefix="weimin-bare-") as tmp:
        from sqlalchemy.engine import make_url

        libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        nats = NatsServer(Path(tmp) / "nats").start()
        port = free_port()
        log = open(Path(tmp) / "bare.log", "wb")  # noqa: SIM115 - closed below
        process = subprocess.Popen(
            [
                python(),
                "-m",
                "bench.baseline",
                "--port",
                str(port),
                "--database-url",
                libpq,
                "--nats-url",
                nats.url,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            if not wait_for_port(port, 30) or not _healthy(f"http://127.0.0.1:{port}/healthz", process):
                log.flush()
                raise RuntimeError(
                    "the bare baseline did not start:\n" + (Path(tmp) / "bare.log").read_text()
                )
            assert nats.process is not None
            yield Bare(f"http://127.0.0.1:{port}", [process.pid, nats.process.pid, *pg.server_pids()])
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()
            nats.stop()


def _healthy(url: str, process: subprocess.Popen, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


# -------------------------------------------------------------------------------------------- Weimin


@dataclass
class Weimin:
    network: Network
    backend: str
    pg: Postgres
    tokens: dict[str, str] = field(default_factory=dict)
    create_item: str | None = None

    @property
    def pids(self) -> list[int]:
        return [child.process.pid for child in self.network.children] + self.pg.server_pids()

    def base(self, service: str, path: str) -> str:
        """``gateway`` or ``direct`` (the owning service's own port)."""
        return self.network.gateway_url if path == "gateway" else self.network.url(service)

    def token(self, username: str) -> str:
        if username not in self.tokens:
            reply = httpx.post(
                f"{self.network.gateway_url}/api/v1/auth/token",
                data={"grant_type": "password", "username": username, "password": DEMO_PASSWORD},
                timeout=60,
            )
            reply.raise_for_status()
            self.tokens[username] = reply.json()["access_token"]
        return self.tokens[username]

    def auth(self, username: str) -> tuple[tuple[str, str], ...]:
        return (("Authorization", f"Bearer {self.token(username)}"),)

    def find_create_item(self, timeout: float = 90) -> str:
        """An item the demo village's agent may collect, proven by one create through the gateway
        (the agents service learns the catalogue from its events, a moment after the demo loads)."""
        if self.create_item:
            return self.create_item
        headers = dict(self.auth(VILLAGE_AGENT))
        offered = httpx.get(
            f"{self.network.gateway_url}/api/v1/catalogue/items", params={"org_code": VILLAGE}, timeout=30
        )
        codes = (
            [i["item_code"] for i in offered.json().get("items", [])] if offered.status_code == 200 else []
        )
        candidates = [c for c in PREFERRED_ITEMS if c in codes or not codes] + [
            c for c in codes if c not in PREFERRED_ITEMS
        ]
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            for code in candidates:
                reply = httpx.post(
                    f"{self.network.gateway_url}/api/v1/agents/cases",
                    json=submission(code),
                    headers=headers,
                    timeout=30,
                )
                if reply.status_code == 201:
                    self.create_item = code
                    return code
                last = f"{code}: {reply.status_code} {reply.text[:300]}"
            time.sleep(1)
        raise RuntimeError(f"no item the village agent may collect answered 201; last: {last}")

    def create(self, path: str) -> wrk.Request:
        body = json.dumps(submission(self.find_create_item()), ensure_ascii=False)
        headers = (("Content-Type", "application/json"), *self.auth(VILLAGE_AGENT))
        return wrk.Request(f"{self.base('agents', path)}/api/v1/agents/cases", "POST", body, headers)

    def item(self, path: str, code: str = "LY-MZ-001") -> wrk.Request:
        return wrk.Request(f"{self.base('catalogue', path)}/api/v1/catalogue/items/{code}")

    def get(self, service: str, path: str, url_path: str, username: str) -> wrk.Request:
        return wrk.Request(f"{self.base(service, path)}{url_path}", headers=self.auth(username))


_OWN_ENV = ("WEIMIN_DATABASE_URL", "WEIMIN_VAR_DIR", "WEIMIN_NATS_URL")


@contextmanager
def weimin_network(
    backend: str, pg: Postgres, *, var_dir: Path | None = None, database_url: str | None = None
) -> Iterator[Weimin]:
    """A Weimin network with the demo county loaded: on a fresh database and var dir, or on the ones
    given (the kept data set). Stopped, and a fresh database dropped, on leaving."""
    from deploy.demo import load_demo
    from shared.settings import get_settings

    with tempfile.TemporaryDirectory(prefix=f"weimin-bench-{backend}-") as tmp:
        fresh_db = None
        if backend == "postgres" and database_url is None:
            fresh_db = f"bench_weimin_{os.getpid()}_{int(time.time())}"
            database_url = pg.create(fresh_db)
        saved = {name: os.environ.get(name) for name in _OWN_ENV}
        if backend == "postgres":
            assert database_url
            os.environ["WEIMIN_DATABASE_URL"] = database_url
        else:
            os.environ.pop("WEIMIN_DATABASE_URL", None)
        get_settings.cache_clear()
        network = Network((var_dir or Path(tmp) / "var"), free_port_block(6), free_port())
        try:
            say(f"  starting Weimin on {backend} ({network.var_dir}) ...")
            began = time.monotonic()
            network.start()
            network.wait_healthy()
            load_demo(network.settings(), network.gateway_url)
            say(f"  Weimin is up with the demo county ({time.monotonic() - began:.0f} s)")
            yield Weimin(network, backend, pg)
        finally:
            network.stop()
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            get_settings.cache_clear()
            if fresh_db:
                try:
                    pg.drop(fresh_db)
                except Exception as exc:  # noqa: BLE001
                    say(f"  (could not drop database {fresh_db}: {exc})")
