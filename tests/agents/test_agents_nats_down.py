"""With NATS down a service keeps serving reads and writes through its outbox, and its health says
which dependency is down (the gateway's /healthz keeps the spine's meaning: 503 while NATS is down)."""

from __future__ import annotations

from pathlib import Path

from tests.case_fixtures import DIBAO, VILLAGE, agent, required, service_client, villager
from tests.support import free_port


def test_with_nats_down_a_service_serves_through_its_outbox_and_says_so(tmp_path: Path) -> None:
    nowhere = f"nats://127.0.0.1:{free_port()}"  # nothing listens: NATS is down for this service
    item = DIBAO.model_copy(update={"owner_org": ""})
    with service_client("agents", tmp_path / "var", nowhere, caller=agent(VILLAGE), items=(item,)) as client:
        body = {
            "item_code": DIBAO.item_code,
            "applicant": villager("731").model_dump(),
            "materials": [{"name": m} for m in required(DIBAO)],
        }
        created = client.post("/api/v1/agents/cases", json=body)
        assert created.status_code == 201, created.text
        assert client.get(f"/api/v1/agents/cases/{created.json()['case_id']}").status_code == 200
        health = client.get("/healthz")
        assert health.status_code == 200, "the service still serves: no orchestrator should kill it"
        assert health.json()["status"] == "degraded"
        assert health.json()["checks"] == {"database": True, "nats": False}
        assert health.json()["outbox"]["pending"] >= 1, "the event waits in the outbox"
