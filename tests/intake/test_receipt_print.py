"""The rating code (评价码) is the applicant's alone: long, printed on the receipt handed to them by a
clerk of the accepting hall (each printing recorded and logged), never in an officer's JSON."""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.intake import service as intake_service
from services.intake.models import ReceiptPrint
from services.intake.receipts import CODE_ALPHABET, grouped
from shared.auth import Principal
from shared.db import session_scope
from shared.errors import Forbidden, NotFound
from shared.settings import SERVICE_NAMES
from tests.case_fixtures import (
    COUNTY,
    DIBAO,
    OTHER_TOWN,
    TEKUN,
    TOWN,
    VILLAGE,
    Network,
    agent,
    approver,
    assert_problem,
    bearer,
    clerk,
    required,
    service_client,
    supervisor,
    villager,
)

PRINTED_CODE = re.compile(r"<p class=code>([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})</p>")


@pytest.fixture
async def net(tmp_path: Path) -> AsyncIterator[Network]:
    network = await Network.create(tmp_path)
    yield network
    await network.close()


async def _print(net: Network, principal: Principal, case_id: str) -> tuple[str, int]:
    async with session_scope(net.intake) as session:
        receipt, _, copy_no = await intake_service.print_receipt(session, principal, case_id)
        return receipt.evaluation_code, copy_no


async def _printings(net: Network, case_id: str) -> list[ReceiptPrint]:
    async with AsyncSession(net.intake) as session:
        query = select(ReceiptPrint).where(ReceiptPrint.case_id == case_id).order_by(col(ReceiptPrint.id))
        return list((await session.exec(query)).all())


async def test_the_rating_code_is_long_and_from_an_unambiguous_alphabet(net: Network) -> None:
    codes = set()
    for _ in range(3):
        _, receipt = await net.accepted_village_case(DIBAO)
        code = receipt.evaluation_code
        assert len(code) >= 12 and set(code) <= set(CODE_ALPHABET), code
        assert not set(code) & set("0O1IL"), "look-alike characters are misread from paper"
        codes.add(code)
    assert len(codes) == 3
    assert grouped("K7QW3MZP9XRT") == "K7QW-3MZP-9XRT"


async def test_only_a_clerk_of_the_accepting_hall_prints_the_receipt(net: Network) -> None:
    case_id, receipt = await net.accepted_village_case(TEKUN)
    # Inside the jurisdiction but not the accepting hall's clerk: refused, and nothing is recorded.
    for principal, slug in (
        (approver(TOWN), "role-required"),
        (supervisor(COUNTY), "role-required"),
        (agent(VILLAGE), "role-required"),
        (clerk(COUNTY), "not-the-accepting-hall"),
    ):
        with pytest.raises(Forbidden) as refused:
            await _print(net, principal, case_id)
        assert refused.value.slug == slug, principal
    # Outside it: no such case.
    with pytest.raises(NotFound):
        await _print(net, clerk(OTHER_TOWN), case_id)
    assert await _printings(net, case_id) == []
    # Handed up to the county, the receipt is still printed where the applicant was given it.
    await net.hand_up_from_town(case_id)
    assert await _print(net, clerk(TOWN, "clerk-li"), case_id) == (receipt.evaluation_code, 1)
    assert await _print(net, clerk(TOWN, "clerk-zhao"), case_id) == (receipt.evaluation_code, 2)
    printed = await _printings(net, case_id)
    assert [(p.printed_by, p.org_code, p.receipt_no) for p in printed] == [
        ("clerk-li", TOWN, receipt.receipt_no),
        ("clerk-zhao", TOWN, receipt.receipt_no),
    ]
    assert all(p.printed_at is not None for p in printed)


async def test_a_receipt_is_printed_only_after_acceptance(net: Network) -> None:
    case_id = await net.village_case_at_town(DIBAO)
    with pytest.raises(NotFound) as early:
        await _print(net, clerk(TOWN), case_id)
    assert early.value.slug == "receipt-not-found"


async def test_each_printing_is_logged_without_personal_data(
    net: Network, caplog: pytest.LogCaptureFixture
) -> None:
    applicant = villager("864")
    case_id = await net.walk_in(DIBAO, required(DIBAO), applicant=applicant)
    receipt, _ = await net.accept(case_id, [])
    assert receipt is not None
    with caplog.at_level(logging.INFO, logger="weimin.intake"):
        await _print(net, clerk(TOWN), case_id)
    [line] = [r.getMessage() for r in caplog.records if "receipt.printed" in r.getMessage()]
    assert case_id in line and f"by=clerk-{TOWN}" in line and "copy=1" in line
    for secret in (applicant.name, applicant.id_number, applicant.phone or "", receipt.evaluation_code):
        assert secret not in line


# ------------------------------------------------------------------------------------------- HTTP


@pytest.fixture(scope="module")
def client(nats_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    directory = tmp_path_factory.mktemp("intake-receipt-print")
    with service_client("intake", directory, nats_url, caller=clerk(TOWN), items=(DIBAO,)) as client:
        yield client


def _accepted_walk_in(client: TestClient, serial: str) -> tuple[str, dict[str, object]]:
    body = {
        "item_code": DIBAO.item_code,
        "applicant": villager(serial).model_dump(),
        "materials": [{"name": m} for m in required(DIBAO)],
    }
    created = client.post("/api/v1/intake/cases", json=body)
    assert created.status_code == 201, created.text
    case_id = created.json()["case_id"]
    accepted = client.post(f"/api/v1/intake/cases/{case_id}/accept", json={"materials": []})
    assert accepted.status_code == 200 and accepted.json()["outcome"] == "accepted", accepted.text
    return case_id, accepted.json()


def test_the_rating_code_is_printed_for_the_applicant_and_never_in_an_officers_json(
    client: TestClient,
) -> None:
    case_id, accepted = _accepted_walk_in(client, "531")
    receipt = accepted["receipt"]
    assert isinstance(receipt, dict)
    page = client.get(receipt["print_url"])
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-language"] == "zh-CN"
    assert page.headers["cache-control"] == "no-store"
    assert "受理凭证" in page.text and case_id in page.text
    [printed] = PRINTED_CODE.findall(page.text)
    code = printed.replace("-", "")
    # Every JSON an officer reads about the case: the acceptance's answer, the receipt, the case, lists.
    reads = [
        str(accepted),
        client.get(f"/api/v1/intake/cases/{case_id}/receipt").text,
        client.get(f"/api/v1/intake/cases/{case_id}").text,
        client.get("/api/v1/intake/cases", params={"limit": 200}).text,
        client.get(f"/api/v1/intake/cases/{case_id}/receipt", headers=bearer(clerk(COUNTY))).text,
    ]
    for read in reads:
        assert case_id in read
        assert code not in read and printed not in read and "evaluation_code" not in read
    # A reprint says so on the paper.
    again = client.get(f"/api/v1/intake/cases/{case_id}/receipt/print")
    assert "第2次打印" in again.text and printed in again.text


def test_the_receipt_print_answers_the_accepting_hall_clerk_only(client: TestClient) -> None:
    case_id, _ = _accepted_walk_in(client, "532")
    path = f"/api/v1/intake/cases/{case_id}/receipt/print"
    assert_problem(client.get(path, headers={"Authorization": ""}), 401, "urn:weimin:problem:unauthorized")
    for principal, status, slug in (
        (approver(TOWN), 403, "role-required"),
        (Principal("admin-county", ("admin",), COUNTY), 403, "role-required"),
        (clerk(COUNTY), 403, "not-the-accepting-hall"),
        (clerk(OTHER_TOWN), 404, "case-not-found"),
    ):
        assert_problem(client.get(path, headers=bearer(principal)), status, f"urn:weimin:problem:{slug}")
    assert client.get(path).status_code == 200


def _property_names(schema: Any, document: dict[str, Any], seen: set[str]) -> set[str]:
    if isinstance(schema, list):
        return set().union(*(_property_names(s, document, seen) for s in schema)) if schema else set()
    if not isinstance(schema, dict):
        return set()
    ref = schema.get("$ref")
    if isinstance(ref, str):
        if ref in seen:
            return set()
        seen.add(ref)
        target: Any = document
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        return _property_names(target, document, seen)
    names = set((schema.get("properties") or {}).keys())
    for value in schema.values():
        if isinstance(value, dict | list):
            names |= _property_names(value, document, seen)
    return names


def test_no_answer_of_any_service_carries_a_rating_code() -> None:
    """Structural: no JSON any service answers (to an officer, a system, anyone) has a field for it."""
    for name in SERVICE_NAMES:
        document = importlib.import_module(f"services.{name}.main").app.openapi()
        for path, item in document["paths"].items():
            for method, operation in item.items():
                for status, response in (operation.get("responses") or {}).items():
                    fields = _property_names(response.get("content") or {}, document, set())
                    assert not {"evaluation_code", "rating_code"} & fields, (
                        f"{name}: {method.upper()} {path} {status} answers a rating code"
                    )
