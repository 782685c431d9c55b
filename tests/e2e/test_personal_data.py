"""Personal data (PIPL) on the real network: a case walked end to end through the gateway, then every
database, log and the JetStream stream searched for the applicant's 身份证号, phone and name in clear.

They are found nowhere in clear: the databases hold them sealed (with a keyed hash of the 身份证号 for
lookups), events carry them sealed and masked, logs never hold them. The API still shows the masked
forms, and the services that must print them (intake, agents) open them with the installation's keys.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from pathlib import Path

import nats
import psycopg
from nats.js.errors import NotFoundError

from shared.events.types import CaseHandedUpV1
from shared.migrations import DATABASES
from shared.personal_data import is_sealed, keyring_for
from shared.settings import Settings
from tests.e2e.conftest import RunningNetwork
from tests.e2e.spine import eventually, find_item
from tests.personal_data_support import distinctive_applicant, masked
from tests.support import backend_name, database_url_for, libpq_url

TOWN, VILLAGE, COUNTY = "371424100000", "371424100201", "371424000000"
SEALED_COLUMNS = ("applicant_name", "applicant_id_number", "applicant_phone")


def _nats_url(network: RunningNetwork) -> str:
    found = re.search(r"NATS JetStream:\s+(nats://\S+)", network.output.read_text(errors="replace"))
    assert found, "the launcher's banner names its NATS"
    return found.group(1)


async def _stream_messages(url: str, stream: str = "WEIMIN") -> list[bytes]:
    """Every message the stream holds (headers and data), read back from the network's own NATS."""
    client = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=1)
    try:
        js = client.jetstream()
        state = (await js.stream_info(stream)).state
        messages = []
        for seq in range(state.first_seq, state.last_seq + 1):
            try:
                message = await js.get_msg(stream, seq)
            except NotFoundError:
                continue
            headers = json.dumps(message.headers or {}, ensure_ascii=False).encode()
            messages.append(
                (message.subject or "").encode() + b"\n" + headers + b"\n" + (message.data or b"")
            )
        return messages
    finally:
        await client.close()


def _files_holding(root: Path, needles: dict[str, bytes]) -> dict[str, list[str]]:
    """Which files under ``root`` hold which needle, byte for byte (databases, -wal files, logs, the
    stream's own store)."""
    found: dict[str, list[str]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        content = path.read_bytes()
        for what, needle in needles.items():
            if needle in content:
                found.setdefault(what, []).append(str(path.relative_to(root)))
    return found


def _postgres_rows(var_dir: Path) -> str:
    """Every row of every service's schema, as text (the postgres backend keeps no database files)."""
    lines = []
    with psycopg.connect(libpq_url(database_url_for(var_dir))) as conn:
        for schema in DATABASES:
            tables = conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
            ).fetchall()
            for (table,) in tables:
                for (row,) in conn.execute(f'SELECT t::text FROM "{schema}"."{table}" t').fetchall():
                    lines.append(f"{schema}.{table}: {row}")
    return "\n".join(lines)


def _sealed_row(network: RunningNetwork, service: str, table: str, case_id: str) -> tuple:
    query = f"SELECT {', '.join(SEALED_COLUMNS)}, applicant_id_number_hash FROM {table} WHERE case_id = %s"
    if backend_name() == "postgres":
        with psycopg.connect(libpq_url(database_url_for(network.var_dir))) as conn:
            row = conn.execute(query.replace(table, f'"{service}".{table}'), (case_id,)).fetchone()
    else:
        db = network.var_dir / f"{service}.db"
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            row = conn.execute(query.replace("%s", "?"), (case_id,)).fetchone()
    assert row is not None, f"{service} has no row for {case_id}"
    return tuple(row)


def test_a_known_id_number_is_found_nowhere_in_clear(network: RunningNetwork) -> None:
    applicant = distinctive_applicant("751")
    agent = network.client(f"agent-{VILLAGE}")
    clerk = network.client(f"clerk-{TOWN}")
    approver = network.client(f"approver-{TOWN}")
    supervisor = network.client(f"supervisor-{COUNTY}")

    # Collect → hand up → accept → decide → deliver → rate, through the gateway.
    item = find_item(agent, "临时救助", VILLAGE)
    materials = [{"name": m["name"]} for m in item["materials"] if m["required"]]
    collected = agent.post(
        "/api/v1/agents/cases",
        json={"item_code": item["item_code"], "applicant": applicant.model_dump(), "materials": materials},
    )
    assert collected.status_code == 201, collected.text
    case_id = collected.json()["case_id"]
    assert agent.post(f"/api/v1/agents/cases/{case_id}/handoff").status_code == 200
    eventually(lambda: clerk.get(f"/api/v1/intake/cases/{case_id}").status_code == 200, what="town receives")
    accepted = clerk.post(f"/api/v1/intake/cases/{case_id}/accept", json={"materials": []})
    assert accepted.status_code == 200 and accepted.json()["outcome"] == "accepted", accepted.text
    eventually(lambda: approver.get(f"/api/v1/approval/cases/{case_id}").status_code == 200, what="approval")
    decided = approver.post(
        f"/api/v1/approval/cases/{case_id}/decision",
        json={"outcome": "approved", "reason": "符合临时救助条件"},
    )
    assert decided.status_code == 200, decided.text
    eventually(
        lambda: agent.get(f"/api/v1/agents/cases/{case_id}").json()["status"] == "decided", what="decision"
    )
    assert agent.post(f"/api/v1/agents/cases/{case_id}/deliver", json={"method": "agent"}).status_code == 200
    eventually(
        lambda: supervisor.get(f"/api/v1/cases/{case_id}").json()["status"] == "delivered",
        what="delivery seen",
    )
    rated = agent.post("/api/v1/supervision/evaluations", json={"case_id": case_id, "rating": 5})
    assert rated.status_code == 201, rated.text
    eventually(
        lambda: any(
            h["type"] == "case.evaluated"
            for h in supervisor.get(f"/api/v1/cases/{case_id}").json()["history"]
        ),
        what="the rating on the timeline",
    )

    # The API answers as before: masked.
    assert agent.get(f"/api/v1/agents/cases/{case_id}").json()["applicant"] == masked(applicant)
    assert clerk.get(f"/api/v1/intake/cases/{case_id}").json()["applicant"] == masked(applicant)

    # Every event of the case reached the stream (so the search below is not vacuous).
    def case_messages() -> list[bytes]:
        messages = [m for m in asyncio.run(_stream_messages(_nats_url(network))) if case_id.encode() in m]
        return messages if len(messages) >= 7 else []

    messages = eventually(case_messages, what="the case's events in the stream")

    # Nowhere in clear: not in any database, -wal file, log, the stream's store, nor its messages.
    needles = {
        "身份证号": applicant.id_number.encode(),
        "phone": (applicant.phone or "").encode(),
        "name": applicant.name.encode(),
    }
    assert _files_holding(network.var_dir, needles) == {}
    launcher_output = network.output.read_bytes()
    assert [what for what, needle in needles.items() if needle in launcher_output] == [], "launcher output"
    assert [m for m in messages if any(n in m for n in needles.values())] == []
    if backend_name() == "postgres":
        rows = _postgres_rows(network.var_dir)
        assert case_id in rows
        assert [what for what, needle in needles.items() if needle.decode() in rows] == []
    else:
        assert {p.name for p in network.var_dir.glob("*.db")} >= {"agents.db", "intake.db", "supervision.db"}

    # Sealed, not lost: the installation's keys open what the town prints and the village delivers.
    keys = keyring_for(Settings(var_dir=network.var_dir))
    clear = (applicant.name, applicant.id_number, applicant.phone)
    for service, table in (("intake", "intake_case"), ("agents", "agent_case")):
        row = _sealed_row(network, service, table, case_id)
        assert all(is_sealed(v) for v in row[:3]), (service, row)
        opened = tuple(
            keys.open(v, context=f"{table}.{c}") for v, c in zip(row[:3], SEALED_COLUMNS, strict=True)
        )
        assert opened == clear, service
        assert row[3] == keys.lookup_hash(applicant.id_number)
    handoff = next(m for m in messages if m.startswith(b"weimin.agents.case.handed_up"))
    envelope = json.loads(handoff.split(b"\n", 2)[2])
    payload = CaseHandedUpV1.model_validate(envelope["data"])
    assert payload.applicant_masked is not None and payload.applicant_masked.model_dump() == masked(applicant)
    assert payload.applicant_sealed is not None
    sealed_applicant = keys.open(payload.applicant_sealed, context=f"event.applicant:{case_id}")
    assert json.loads(sealed_applicant) == applicant.model_dump()
