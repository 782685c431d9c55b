"""Every route of the merged OpenAPI document, every role, from inside and outside the subtree of the
resource it names, through the gateway against the launcher's real processes (tests/jurisdiction)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import httpx

from shared.auth import Principal, issue_token
from shared.case_numbers import mint_case_number
from shared.settings import Settings
from tests.e2e.conftest import RunningNetwork
from tests.e2e.spine import eventually, find_item, villager
from tests.jurisdiction import matrix
from tests.jurisdiction.public_routes import PUBLIC_ROUTES

CITY, COUNTY, TOWN, VILLAGE = "371400000000", "371424000000", "371424100000", "371424100201"
MISSING = "x-weimin-missing"  # the gateway's mark on a document some service did not contribute to
UNKNOWN_CASE = mint_case_number(VILLAGE, date(2026, 1, 5), 1)


def minting(settings: Settings) -> matrix.TokenFactory:
    def token_for(role: str, org_code: str) -> str:
        return issue_token(Principal(f"{role}-{org_code}", (role,), org_code), settings)[0]

    return token_for


def _only(body: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The fields of a read that the write schema takes (a draft written from the live version)."""
    return {k: v for k, v in body.items() if k in schema.get("properties", {})}


def seed(network: RunningNetwork, document: dict[str, Any]) -> tuple[dict[str, matrix.Fill], list[str], str]:
    """A village case collected, handed up and accepted at the town, known to every case service; an
    import job, an item draft and a directory draft of the county. Returns the fill table, the
    identifiers no outsider may ever read, and the item."""
    agent = network.client(f"agent-{VILLAGE}")
    clerk = network.client(f"clerk-{TOWN}")
    supervisor = network.client(f"supervisor-{COUNTY}")
    admin = network.client("admin")

    item = find_item(agent, "低保", VILLAGE)
    applicant = villager("404")
    collected = agent.post(
        "/api/v1/agents/cases",
        json={
            "item_code": item["item_code"],
            "applicant": applicant,
            "materials": [{"name": m["name"]} for m in item["materials"] if m["required"]],
        },
    )
    assert collected.status_code == 201, collected.text
    case_id = collected.json()["case_id"]
    handed = agent.post(f"/api/v1/agents/cases/{case_id}/handoff")
    assert handed.status_code == 200, handed.text
    eventually(lambda: clerk.get(f"/api/v1/intake/cases/{case_id}").status_code == 200, what="town receipt")
    accepted = clerk.post(f"/api/v1/intake/cases/{case_id}/accept", json={"materials": []})
    assert accepted.status_code == 200 and accepted.json()["outcome"] == "accepted", accepted.text
    receipt = accepted.json()["receipt"]
    # The applicant's rating code is on the printed receipt alone: an outsider must never see it.
    printed = clerk.get(f"/api/v1/intake/cases/{case_id}/receipt/print")
    assert printed.status_code == 200, printed.text
    code = re.search(r"<p class=code>([A-Z0-9-]+)</p>", printed.text).group(1)  # type: ignore[union-attr]
    eventually(
        lambda: supervisor.get(f"/api/v1/cases/{case_id}").json().get("status") == "accepted",
        what="supervision seeing the acceptance",
    )
    eventually(
        lambda: supervisor.get(f"/api/v1/approval/cases/{case_id}").status_code == 200,
        what="approval opening the case",
    )

    # The catalogue's admin-only reads need something to read: an import job (the county's own
    # export, re-imported as drafts of nothing new), the item's draft, the village directory's draft.
    export = admin.get("/api/v1/catalogue/export.csv", params={"owner_org": COUNTY})
    assert export.status_code == 200, export.text
    job = admin.post(
        "/api/v1/catalogue/imports",
        files={"file": ("linyi.csv", export.content, "text/csv")},
        data={"publish": "false"},
    )
    assert job.status_code == 202, job.text
    job_id = job.json()["job_id"]
    schemas = document["components"]["schemas"]
    live = admin.get(f"/api/v1/catalogue/items/{item['item_code']}")
    draft = admin.put(
        f"/api/v1/catalogue/items/{item['item_code']}/draft",
        json=_only(live.json(), schemas["ItemUpsert"]),
        headers={"If-Match": live.headers["etag"]},
    )
    assert draft.status_code in (200, 201), draft.text
    published = admin.get(f"/api/v1/catalogue/directories/{COUNTY}/village")
    directory = admin.put(
        f"/api/v1/catalogue/directories/{COUNTY}/village/draft",
        json=_only(published.json(), schemas["DirectoryUpsert"]),
        headers={"If-Match": published.headers["etag"]},
    )
    assert directory.status_code in (200, 201), directory.text

    above_village = (VILLAGE, TOWN, COUNTY, CITY)
    fills = {
        "case_id": matrix.resource(case_id, *above_village),
        "code": matrix.resource(VILLAGE, *above_village),
        "org_code": matrix.resource(VILLAGE, *above_village),
        "item_code": matrix.resource(item["item_code"], COUNTY, CITY),
        "county_code": matrix.resource(COUNTY, COUNTY, CITY),
        "job_id": matrix.resource(job_id, COUNTY, CITY),
        "level": matrix.plain("village"),
        "version_no": matrix.plain("1"),
    }
    seeded = [
        case_id,
        receipt["receipt_no"],
        code,
        code.replace("-", ""),
        applicant["id_number"],
        job_id,
        VILLAGE,
    ]
    return fills, seeded, item["item_code"]


def merged_document(network: RunningNetwork) -> dict[str, Any]:
    with network.client() as anonymous:
        return eventually(
            lambda: (doc := anonymous.get("/openapi.json").json()).get(MISSING) is None and doc,
            what="every service in the merged OpenAPI document",
        )


def test_every_route_keeps_every_role_inside_its_jurisdiction(network: RunningNetwork) -> None:
    document = merged_document(network)
    fills, seeded, item_code = seed(network, document)
    token_for = minting(network.settings())  # signed with the key the network's gateway made
    with httpx.Client(base_url=network.gateway, timeout=30) as http:
        me = http.get("/api/v1/me", headers={"Authorization": f"Bearer {token_for('agent', VILLAGE)}"})
        assert me.status_code == 200, f"tokens minted as the network's settings are refused: {me.text}"

        def call(method: str, path: str, token: str | None, body: Any) -> tuple[int, str]:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            reply = http.request(method, path, headers=headers, json=body)
            return reply.status_code, reply.text

        report = matrix.run(document, call, token_for, fills, seeded, bodies=matrix.spine_bodies(item_code))

    print(f"{len(report.operations)} operations, {report.calls} calls")
    for line in report.weak:
        print("weak:", line)
    assert {
        "POST /api/v1/agents/cases",
        "GET /api/v1/intake/cases/{case_id}",
        "POST /api/v1/approval/cases/{case_id}/decision",
        "GET /api/v1/cases/{case_id}",
        "GET /api/v1/supervision/stats",
        "GET /api/v1/me",
    } <= set(report.operations)
    assert report.violations == [], f"{len(report.violations)} violations:\n" + "\n".join(report.violations)


def test_the_public_routes_answer_without_a_token(network: RunningNetwork) -> None:
    document = merged_document(network)
    fills = {
        "code": matrix.plain(VILLAGE),
        "item_code": matrix.plain(find_item(network.client(), "低保", VILLAGE)["item_code"]),
        "county_code": matrix.plain(COUNTY),
        "level": matrix.plain("village"),
        "version_no": matrix.plain("1"),
    }
    operations = {(method, path) for method, path, _, _ in matrix.operations(document)}
    with network.client() as anonymous:
        for route in PUBLIC_ROUTES:
            if route.where == "planned":
                continue
            if route.where == "openapi":
                assert (route.method, route.path) in operations, f"{route} is not in the merged document"
            if route.path == "/api/v1/auth/token":
                reply = anonymous.post(
                    route.path,
                    data={"grant_type": "password", "username": f"agent-{VILLAGE}", "password": "demo"},
                )
            elif route.path == "/api/v1/supervision/evaluations":
                # An applicant's code that matches no case: the service looked, so it answers 404, not 401.
                reply = anonymous.post(
                    route.path, json={"case_id": UNKNOWN_CASE, "rating": 5, "evaluation_code": "X"}
                )
            else:
                path = route.path
                for name, fill in fills.items():
                    path = path.replace("{" + name + "}", fill.value)
                reply = anonymous.request(route.method, path)
            assert reply.status_code not in (401, 403), f"{route.method} {route.path}: {reply.text[:200]}"
            if route.method == "GET":
                assert reply.status_code == 200, (
                    f"{route.method} {route.path}: {reply.status_code} {reply.text[:200]}"
                )
