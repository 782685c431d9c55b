"""`make run`'s launcher: it migrates every database before anything starts (and stops, naming the
database, when a migration fails), Ctrl-C stops every process it started, a restart keeps all data,
and the demo county loads once (loading it again changes nothing)."""

from __future__ import annotations

import re
import socket
import subprocess
from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory

from deploy.demo import DemoRefused, load_demo
from deploy.launcher import MIGRATED_LINE, MIGRATION_FAILED, READY_LINE
from shared import migrations
from shared.settings import Settings
from tests.e2e.conftest import RunningNetwork, start_launcher, stop_launcher, wait_ready
from tests.e2e.spine import find_item, villager
from tests.support import backend_name, database_url_for, free_port, free_port_block

VILLAGE = "371424100201"


def _port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _token(gateway: str, username: str) -> dict[str, str]:
    reply = httpx.post(
        f"{gateway}/api/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": "demo"},
    )
    reply.raise_for_status()
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


def _every(gateway: str, path: str) -> list[dict]:
    """Every row of a paged list, following ``next_cursor`` (a page holds at most 200)."""
    rows: list[dict] = []
    cursor = None
    while True:
        params = {"limit": 200} | ({"cursor": cursor} if cursor else {})
        reply = httpx.get(f"{gateway}{path}", params=params)
        assert reply.status_code == 200, reply.text
        rows += reply.json()["items"]
        cursor = reply.json()["next_cursor"]
        if cursor is None:
            return rows


def _catalogue_snapshot(gateway: str) -> list[tuple[str, int]]:
    items = _every(gateway, "/api/v1/catalogue/items")
    return sorted((i["item_code"], i.get("version_no", 0)) for i in items)


MIGRATED = re.compile(MIGRATED_LINE.format(database=r"(?P<database>\w+)", revision=r"(?P<revision>\S+)"))


def _printed_migrations(output: str) -> dict[str, str]:
    return {m["database"]: m["revision"] for m in MIGRATED.finditer(output)}


def _head(database: str) -> str | None:
    return ScriptDirectory(str(migrations.script_location(database))).get_current_head()


def test_launcher_migrates_every_database_to_head_before_it_starts_anything(network: RunningNetwork) -> None:
    output = network.output.read_text(errors="replace")
    printed = _printed_migrations(output)
    assert set(printed) == set(migrations.DATABASES), output[-4000:]
    # The launcher's children ran on the embedded SQLite files under var_dir (or the test's PostgreSQL).
    settings = Settings(var_dir=network.var_dir, database_url=database_url_for(network.var_dir))
    for database, revision in printed.items():
        assert revision == _head(database) == migrations.current_revision(database, settings), database
    assert max(m.end() for m in MIGRATED.finditer(output)) < output.index(READY_LINE)


@pytest.mark.skipif(backend_name() == "postgres", reason="corrupts the gateway's SQLite file")
def test_launcher_stops_naming_the_database_when_a_migration_fails(tmp_path: Path) -> None:
    var_dir, port_base, nats_port = tmp_path / "var", free_port_block(6), free_port()
    var_dir.mkdir()
    (var_dir / "gateway.db").write_bytes(b"this is not a SQLite database, and no migration can read it" * 100)
    output = tmp_path / "launcher.out"
    launcher = start_launcher(var_dir, port_base, nats_port, output)
    try:
        launcher.wait(timeout=60)
    except subprocess.TimeoutExpired:
        stop_launcher(launcher)
        raise
    said = output.read_text(errors="replace")
    assert launcher.returncode != 0, said
    assert MIGRATION_FAILED.format(database="gateway") in said, said[-4000:]
    assert READY_LINE not in said
    assert "gateway" not in _printed_migrations(said)
    ports = [nats_port, *range(port_base, port_base + 6)]
    assert not [p for p in ports if _port_in_use(p)], "nothing was started"


def test_ctrl_c_stops_every_process_and_restart_keeps_data_and_demo_loads_once(tmp_path: Path) -> None:
    var_dir, port_base, nats_port = tmp_path / "var", free_port_block(6), free_port()
    ports = [nats_port, *range(port_base, port_base + 6)]
    gateway = f"http://127.0.0.1:{port_base}"
    output = tmp_path / "launcher.out"

    first = start_launcher(var_dir, port_base, nats_port, output)
    try:
        wait_ready(first, output)
        agent = _token(gateway, f"agent-{VILLAGE}")
        item = find_item(httpx.Client(base_url=gateway), "临时救助", VILLAGE)
        created = httpx.post(
            f"{gateway}/api/v1/agents/cases",
            headers=agent,
            json={"item_code": item["item_code"], "applicant": villager("456"), "materials": []},
        )
        assert created.status_code == 201, created.text
        case_id = created.json()["case_id"]
        catalogue_before = _catalogue_snapshot(gateway)
        orgs_before = _every(gateway, "/api/v1/orgs")
    finally:
        stop_launcher(first)
    assert first.returncode == 0
    assert not [p for p in ports if _port_in_use(p)], "every process the launcher started is gone"

    output.write_text("")
    second = start_launcher(var_dir, port_base, nats_port, output)
    try:
        wait_ready(second, output)
        # Migrating again at a restart finds every database at head and changes nothing.
        assert _printed_migrations(output.read_text()) == {d: _head(d) for d in migrations.DATABASES}
        agent = _token(gateway, f"agent-{VILLAGE}")
        kept = httpx.get(f"{gateway}/api/v1/agents/cases/{case_id}", headers=agent)
        assert kept.status_code == 200 and kept.json()["status"] == "collected"
        assert _catalogue_snapshot(gateway) == catalogue_before, "loading the demo again changes nothing"
        assert _every(gateway, "/api/v1/orgs") == orgs_before
    finally:
        stop_launcher(second)


def test_demo_loader_refuses_to_run_in_production(tmp_path: Path) -> None:
    settings = Settings(
        environment="production",
        token_public_keys_file=tmp_path / "jwks.json",
        database_url="postgresql+psycopg://nowhere/db",
        var_dir=tmp_path,
    )
    with pytest.raises(DemoRefused):
        load_demo(settings, "http://127.0.0.1:9")
    assert not any(tmp_path.iterdir()), "nothing was written"
