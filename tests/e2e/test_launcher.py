"""`make run`'s launcher: Ctrl-C stops every process it started, a restart keeps all data, and the
demo county loads once (loading it again changes nothing)."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from deploy.demo import DemoRefused, load_demo
from shared.settings import Settings
from tests.e2e.conftest import start_launcher, stop_launcher, wait_ready
from tests.e2e.spine import find_item, villager
from tests.support import free_port, free_port_block

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


def _catalogue_snapshot(gateway: str) -> list[tuple[str, int]]:
    items = httpx.get(f"{gateway}/api/v1/catalogue/items", params={"limit": 500}).json()["items"]
    return sorted((i["item_code"], i.get("version_no", 0)) for i in items)


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
        orgs_before = httpx.get(f"{gateway}/api/v1/orgs", params={"limit": 500}).json()["items"]
    finally:
        stop_launcher(first)
    assert first.returncode == 0
    assert not [p for p in ports if _port_in_use(p)], "every process the launcher started is gone"

    output.write_text("")
    second = start_launcher(var_dir, port_base, nats_port, output)
    try:
        wait_ready(second, output)
        agent = _token(gateway, f"agent-{VILLAGE}")
        kept = httpx.get(f"{gateway}/api/v1/agents/cases/{case_id}", headers=agent)
        assert kept.status_code == 200 and kept.json()["status"] == "collected"
        assert _catalogue_snapshot(gateway) == catalogue_before, "loading the demo again changes nothing"
        assert httpx.get(f"{gateway}/api/v1/orgs", params={"limit": 500}).json()["items"] == orgs_before
    finally:
        stop_launcher(second)


def test_demo_loader_refuses_to_run_in_production(tmp_path: Path) -> None:
    settings = Settings(
        environment="production",
        jwt_secret="x" * 40,
        database_url="postgresql+psycopg://nowhere/db",
        var_dir=tmp_path,
    )
    with pytest.raises(DemoRefused):
        load_demo(settings, "http://127.0.0.1:9")
    assert not any(tmp_path.iterdir()), "nothing was written"
