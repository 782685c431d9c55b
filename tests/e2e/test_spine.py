"""The API spine walked end to end through the gateway, against the launcher's real processes:
village → town → county and back, one case number, one timeline, and the refusals on the way."""

from __future__ import annotations

import re

from shared.case_numbers import parse_case_number
from tests.e2e.conftest import RunningNetwork
from tests.e2e.spine import assert_problem, eventually, find_item, villager

CITY = "371400000000"
COUNTY, TOWN, VILLAGE, OTHER_VILLAGE = "371424000000", "371424100000", "371424100201", "371424202201"


def test_org_directory_and_catalogue_are_public(network: RunningNetwork) -> None:
    with network.client() as anonymous:
        towns = anonymous.get("/api/v1/orgs", params={"level": "town", "parent_code": COUNTY})
        assert towns.status_code == 200
        assert {o["code"] for o in towns.json()["items"]} == {"371424001000", TOWN, "371424202000"}
        village = anonymous.get(f"/api/v1/orgs/{VILLAGE}").json()
        assert village == village | {"code": VILLAGE, "level": "village", "parent_code": TOWN}
        item = find_item(anonymous, "特困人员", VILLAGE)
        assert item["deciding_level"] == "county"
        assert len([m for m in item["materials"] if m["required"]]) >= 2
        assert anonymous.get(f"/api/v1/catalogue/items/{item['item_code']}").json()["name"] == item["name"]


def test_gateway_health_identity_and_merged_openapi(network: RunningNetwork) -> None:
    with network.client() as anonymous:
        health = anonymous.get("/healthz")
        assert health.status_code == 200 and health.headers["x-request-id"]
        spec = anonymous.get("/openapi.json").json()
        for path in (
            "/api/v1/agents/cases",
            "/api/v1/intake/cases/{case_id}/accept",
            "/api/v1/approval/cases/{case_id}/decision",
            "/api/v1/supervision/evaluations",
            "/api/v1/cases/{case_id}",
            "/api/v1/auth/token",
            "/api/v1/orgs",
        ):
            assert path in spec["paths"], path
        system = anonymous.post(
            "/api/v1/auth/token",
            data={"grant_type": "client_credentials", "client_id": "demo-system", "client_secret": "demo"},
        )
        assert system.status_code == 200 and system.json()["token_type"] == "bearer"
    with network.client(f"agent-{VILLAGE}") as agent:
        assert agent.get("/api/v1/me").json() == {
            "username": f"agent-{VILLAGE}",
            "roles": ["agent"],
            "org_code": VILLAGE,
        }


def test_case_travels_village_town_county_and_back_under_one_number(network: RunningNetwork) -> None:
    agent = network.client(f"agent-{VILLAGE}")
    stranger = network.client(f"agent-{OTHER_VILLAGE}")
    town_clerk = network.client(f"clerk-{TOWN}")
    town_approver = network.client(f"approver-{TOWN}")
    county_approver = network.client(f"approver-{COUNTY}")
    supervisor = network.client(f"supervisor-{COUNTY}")
    anonymous = network.client()

    item = find_item(agent, "特困人员", VILLAGE)
    required = [m["name"] for m in item["materials"] if m["required"]]

    # Collect at the village: a bad 身份证号 is refused before anything is stored.
    bad_id = villager() | {
        "id_number": villager()["id_number"][:-1] + ("0" if villager()["id_number"][-1] != "0" else "1")
    }
    assert_problem(
        agent.post(
            "/api/v1/agents/cases",
            json={"item_code": item["item_code"], "applicant": bad_id, "materials": []},
        ),
        422,
    )
    assert_problem(anonymous.post("/api/v1/agents/cases", json={}), 401)
    collected = agent.post(
        "/api/v1/agents/cases",
        json={"item_code": item["item_code"], "applicant": villager(), "materials": [{"name": required[0]}]},
    )
    assert collected.status_code == 201, collected.text
    case_id = collected.json()["case_id"]
    assert collected.json() == {"case_id": case_id, "current_org": VILLAGE, "status": "collected"}
    assert parse_case_number(case_id).org_code == VILLAGE

    # Another village's agent cannot see or move it; a malformed number is refused at the boundary.
    assert stranger.get(f"/api/v1/agents/cases/{case_id}").status_code in (403, 404)
    assert stranger.post(f"/api/v1/agents/cases/{case_id}/handoff").status_code in (403, 404)
    mistyped = case_id[:-1] + ("0" if case_id[-1] != "0" else "1")
    assert 400 <= assert_problem(agent.get(f"/api/v1/agents/cases/{mistyped}"), 422)["status"] < 500
    assert_problem(supervisor.get("/api/v1/cases/not-a-case-number"), 422)

    handed = agent.post(f"/api/v1/agents/cases/{case_id}/handoff")
    assert handed.status_code == 200 and handed.json() == {"case_id": case_id, "current_org": TOWN}

    # The town hall receives the same case; one notice lists every missing material at once.
    eventually(
        lambda: town_clerk.get(f"/api/v1/intake/cases/{case_id}").status_code == 200, what="town receipt"
    )
    first = town_clerk.post(f"/api/v1/intake/cases/{case_id}/accept", json={"materials": []}).json()
    assert first["outcome"] == "incomplete"
    assert sorted(first["notice"]["missing"]) == sorted(required[1:])
    partial = town_clerk.post(
        f"/api/v1/intake/cases/{case_id}/accept", json={"materials": [{"name": required[1]}]}
    ).json()
    assert partial["outcome"] == "incomplete"
    assert partial["notice"]["notice_id"] == first["notice"]["notice_id"], "never a second list"
    accepted = town_clerk.post(
        f"/api/v1/intake/cases/{case_id}/accept", json={"materials": [{"name": n} for n in required[2:]]}
    )
    assert accepted.status_code == 200, accepted.text
    receipt = accepted.json()["receipt"]
    assert accepted.json()["outcome"] == "accepted"
    assert receipt["case_id"] == case_id and receipt["officer"] == f"clerk-{TOWN}" and receipt["due"]

    # Up to the county, which decides it; the town's approver may not.
    up = town_clerk.post(f"/api/v1/intake/cases/{case_id}/handoff")
    assert up.status_code == 200 and up.json() == {"case_id": case_id, "current_org": COUNTY}
    eventually(
        lambda: county_approver.get(f"/api/v1/approval/cases/{case_id}").json().get("current_org") == COUNTY,
        what="county approval queue",
    )
    assert (
        town_approver.post(
            f"/api/v1/approval/cases/{case_id}/decision", json={"outcome": "approved"}
        ).status_code
        == 403
    )
    decided = county_approver.post(
        f"/api/v1/approval/cases/{case_id}/decision",
        json={"outcome": "approved", "reason": "符合特困供养条件"},
    )
    assert decided.status_code == 200, decided.text

    # Back down: the agent delivers and rates for the villager, once.
    eventually(
        lambda: agent.get(f"/api/v1/agents/cases/{case_id}").json()["status"] == "decided",
        what="decision reaching the village",
    )
    assert agent.post(f"/api/v1/agents/cases/{case_id}/deliver", json={"method": "agent"}).status_code == 200
    eventually(
        lambda: supervisor.get(f"/api/v1/cases/{case_id}").json()["status"] == "delivered",
        what="supervision seeing delivery",
    )
    rated = agent.post(
        "/api/v1/supervision/evaluations", json={"case_id": case_id, "rating": 5, "comment": "好"}
    )
    assert rated.status_code == 201, rated.text
    assert_problem(agent.post("/api/v1/supervision/evaluations", json={"case_id": case_id, "rating": 1}), 409)

    # One timeline, oldest first, from every service and level, under one case number.
    def full_timeline() -> dict | None:
        body = supervisor.get(f"/api/v1/cases/{case_id}").json()
        return body if any(h["type"] == "case.evaluated" for h in body["history"]) else None

    timeline = eventually(full_timeline, what="evaluation on the timeline")
    assert timeline["case_id"] == case_id and timeline["item_code"] == item["item_code"]
    history = timeline["history"]
    assert [h["at"] for h in history] == sorted(h["at"] for h in history)
    assert {h["service"] for h in history} >= {"agents", "intake", "approval", "supervision"}
    assert {h["org_code"] for h in history} >= {VILLAGE, TOWN, COUNTY}
    assert [h["type"] for h in history][:2] == ["case.collected", "case.handed_up"]
    assert stranger.get(f"/api/v1/cases/{case_id}").status_code in (403, 404)

    stats = supervisor.get("/api/v1/supervision/stats", params={"org_code": COUNTY}).json()
    assert stats["received"] >= 1 and stats["accepted"] >= 1 and stats["decided"] >= 1
    assert stats["on_time_rate"] == 1.0 and stats["satisfaction_rate"] == 1.0
    assert {"overdue"} <= stats.keys()


def test_walk_in_decided_by_the_town_is_rated_by_the_applicant_with_the_receipt_code(
    network: RunningNetwork,
) -> None:
    clerk = network.client(f"clerk-{TOWN}")
    approver = network.client(f"approver-{TOWN}")
    anonymous = network.client()
    item = find_item(clerk, "临时救助", TOWN)
    required = [{"name": m["name"]} for m in item["materials"] if m["required"]]
    received = clerk.post(
        "/api/v1/intake/cases",
        json={"item_code": item["item_code"], "applicant": villager("789"), "materials": required},
    )
    assert received.status_code == 201, received.text
    case_id = received.json()["case_id"]
    assert parse_case_number(case_id).org_code == TOWN, "a walk-in's number is minted at the hall"
    accepted = clerk.post(f"/api/v1/intake/cases/{case_id}/accept", json={"materials": []}).json()
    assert accepted["outcome"] == "accepted"
    # The rating code is on the applicant's printed receipt alone, never in an officer's JSON.
    assert "evaluation_code" not in accepted["receipt"]
    printed = clerk.get(f"/api/v1/intake/cases/{case_id}/receipt/print")
    assert printed.status_code == 200 and printed.headers["content-type"].startswith("text/html")
    code = re.search(r"<p class=code>([A-Z0-9-]+)</p>", printed.text).group(1)  # type: ignore[union-attr]
    assert_problem(clerk.post(f"/api/v1/intake/cases/{case_id}/handoff"), 409)  # the town decides this one
    eventually(lambda: approver.get(f"/api/v1/approval/cases/{case_id}").status_code == 200, what="approval")
    assert (
        approver.post(f"/api/v1/approval/cases/{case_id}/decision", json={"outcome": "rejected"}).status_code
        == 422
    ), "a refusal needs its reasons"
    assert (
        approver.post(
            f"/api/v1/approval/cases/{case_id}/decision",
            json={"outcome": "rejected", "reason": "不符合临时救助条件"},
        ).status_code
        == 200
    )
    supervisor = network.client(f"supervisor-{COUNTY}")
    eventually(
        lambda: supervisor.get(f"/api/v1/cases/{case_id}").json()["status"] == "decided",
        what="decision reaching supervision",
    )
    wrong = anonymous.post(
        "/api/v1/supervision/evaluations", json={"case_id": case_id, "rating": 2, "evaluation_code": "WRONG"}
    )
    assert_problem(wrong, 404)
    rated = anonymous.post(
        "/api/v1/supervision/evaluations", json={"case_id": case_id, "rating": 2, "evaluation_code": code}
    )
    assert rated.status_code == 201, rated.text
    assert rated.json()["rated_by"] == "applicant"
    assert_problem(
        anonymous.post("/api/v1/supervision/evaluations", json={"case_id": case_id, "rating": 5}), 401
    )


def test_repeated_write_with_the_same_idempotency_key_creates_one_case(network: RunningNetwork) -> None:
    agent = network.client(f"agent-{VILLAGE}")
    item = find_item(agent, "临时救助", VILLAGE)
    body = {"item_code": item["item_code"], "applicant": villager("321"), "materials": []}
    headers = {"Idempotency-Key": "retry-after-timeout-1"}
    first = agent.post("/api/v1/agents/cases", json=body, headers=headers)
    again = agent.post("/api/v1/agents/cases", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["case_id"] == again.json()["case_id"]
    assert agent.post("/api/v1/agents/cases", json=body).json()["case_id"] != first.json()["case_id"]


def test_case_lists_page_with_a_cursor_and_mask_id_numbers(network: RunningNetwork) -> None:
    agent = network.client(f"agent-{VILLAGE}")
    item = find_item(agent, "临时救助", VILLAGE)
    for serial in ("601", "602", "603"):
        body = {"item_code": item["item_code"], "applicant": villager(serial), "materials": []}
        assert agent.post("/api/v1/agents/cases", json=body).status_code == 201
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = agent.get("/api/v1/agents/cases", params=params).json()
        assert len(page["items"]) <= 2
        seen += [c["case_id"] for c in page["items"]]
        for case in page["items"]:
            assert "*" in case["applicant"]["id_number"] and case["applicant"]["id_number"][-4:].isalnum()
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) >= 3 and seen == sorted(seen)


def test_a_village_agent_takes_only_what_its_directory_lists(network: RunningNetwork) -> None:
    # The demo county withholds 高龄津贴 from one village (its town handles it there).
    withheld_here, listed_here = "371424202202", "371424202201"
    with network.client() as anonymous:
        listing = anonymous.get("/api/v1/catalogue/items", params={"org_code": withheld_here}).json()["items"]
        assert "LY-MZ-004" not in {i["item_code"] for i in listing}
    body = {"item_code": "LY-MZ-004", "applicant": villager("901"), "materials": []}
    agent = network.client(f"agent-{withheld_here}")
    # The directory reaches the agents service as an event: wait for it (bounded) after start-up.
    refused = eventually(
        lambda: (r := agent.post("/api/v1/agents/cases", json=body)).status_code == 422 and r,
        what="the village directory reaching the agents service",
    )
    assert assert_problem(refused, 422)["type"] == "urn:weimin:problem:item-not-in-directory"
    assert network.client(f"agent-{listed_here}").post("/api/v1/agents/cases", json=body).status_code == 201


def test_the_city_is_a_level_above_the_county_with_its_own_hall_items_and_supervisor(
    network: RunningNetwork,
) -> None:
    with network.client() as anonymous:
        city = anonymous.get(f"/api/v1/orgs/{CITY}")
        assert city.status_code == 200, city.text
        assert city.json() == city.json() | {"code": CITY, "name": "德州市", "level": "city"}
        assert anonymous.get(f"/api/v1/orgs/{COUNTY}").json()["parent_code"] == CITY
        counties = anonymous.get("/api/v1/orgs", params={"level": "county", "parent_code": CITY}).json()
        assert COUNTY in {o["code"] for o in counties["items"]}
        # The city decides its own items; a village's directory lists one, and its agent may take it.
        at_village = anonymous.get("/api/v1/catalogue/items", params={"org_code": VILLAGE}).json()["items"]
        city_items = [i for i in at_village if i["deciding_level"] == "city"]
        assert city_items and all(i["agent_may_take"] for i in city_items)
        at_city = anonymous.get("/api/v1/catalogue/items", params={"org_code": CITY}).json()["items"]
        assert {i["item_code"] for i in city_items} <= {i["item_code"] for i in at_city}, "the city owns them"
    for role in ("clerk", "approver", "supervisor"):
        with network.client(f"{role}-{CITY}") as officer:
            assert officer.get("/api/v1/me").json() == {
                "username": f"{role}-{CITY}",
                "roles": [role],
                "org_code": CITY,
            }

    # A city item travels village → town → county → city under one number, and the city decides it.
    agent = network.client(f"agent-{VILLAGE}")
    item = city_items[0]
    required = [{"name": m["name"]} for m in item["materials"] if m["required"]]
    collected = agent.post(
        "/api/v1/agents/cases",
        json={"item_code": item["item_code"], "applicant": villager("777"), "materials": required},
    )
    assert collected.status_code == 201, collected.text
    case_id = collected.json()["case_id"]
    assert agent.post(f"/api/v1/agents/cases/{case_id}/handoff").json()["current_org"] == TOWN
    town_clerk, county_clerk = network.client(f"clerk-{TOWN}"), network.client(f"clerk-{COUNTY}")
    eventually(
        lambda: town_clerk.get(f"/api/v1/intake/cases/{case_id}").status_code == 200, what="town receipt"
    )
    accepted = town_clerk.post(f"/api/v1/intake/cases/{case_id}/accept", json={"materials": []})
    assert accepted.status_code == 200 and accepted.json()["outcome"] == "accepted", accepted.text
    up = town_clerk.post(f"/api/v1/intake/cases/{case_id}/handoff")
    assert up.status_code == 200 and up.json()["current_org"] == COUNTY, up.text
    up = county_clerk.post(f"/api/v1/intake/cases/{case_id}/handoff")
    assert up.status_code == 200 and up.json()["current_org"] == CITY, up.text
    city_approver = network.client(f"approver-{CITY}")
    eventually(
        lambda: city_approver.get(f"/api/v1/approval/cases/{case_id}").json().get("current_org") == CITY,
        what="the city approval queue",
    )
    decided = city_approver.post(
        f"/api/v1/approval/cases/{case_id}/decision", json={"outcome": "approved", "reason": "符合认定条件"}
    )
    assert decided.status_code == 200, decided.text
    eventually(
        lambda: agent.get(f"/api/v1/agents/cases/{case_id}").json()["status"] == "decided",
        what="the city's decision reaching the village",
    )

    # The city's supervisor sees every county of the city; the county's does not see above itself.
    city_supervisor = network.client(f"supervisor-{CITY}")
    timeline = eventually(
        lambda: (
            (r := city_supervisor.get(f"/api/v1/cases/{case_id}")).status_code == 200
            and CITY in {h["org_code"] for h in r.json()["history"]}
            and r.json()
        ),
        what="the city supervisor seeing the case at every level",
    )
    assert {h["org_code"] for h in timeline["history"]} >= {VILLAGE, TOWN, COUNTY, CITY}
    stats = city_supervisor.get("/api/v1/supervision/stats", params={"org_code": CITY})
    assert stats.status_code == 200, stats.text
    county_supervisor = network.client(f"supervisor-{COUNTY}")
    assert county_supervisor.get("/api/v1/supervision/stats", params={"org_code": CITY}).status_code == 403
