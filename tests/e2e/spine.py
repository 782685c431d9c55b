"""Helpers for walking the API spine against a running network."""

from __future__ import annotations

import httpx

from tests import support
from tests.support import assert_problem, eventually  # noqa: F401 - the e2e tests import them from here


def villager(serial: str = "123") -> dict[str, str]:
    """The applicant as a JSON body (``tests.support.villager``, dumped)."""
    return support.villager(serial).model_dump()


def find_item(client: httpx.Client, name_part: str, org_code: str) -> dict:
    items = client.get("/api/v1/catalogue/items", params={"org_code": org_code}).json()["items"]
    return next(i for i in items if name_part in i["name"])
