"""Helpers for walking the API spine against a running network."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx

from shared.identity_numbers import make_valid_id_number

PROBLEM = "application/problem+json"


def villager(serial: str = "123") -> dict[str, str]:
    return {
        "name": "张三丰",
        "id_number": make_valid_id_number("371424", date(1958, 3, 14), serial),
        "phone": "13812345678",
    }


def eventually(probe: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    """Events travel between services asynchronously: wait (bounded) for their effect."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def find_item(client: httpx.Client, name_part: str, org_code: str) -> dict:
    items = client.get("/api/v1/catalogue/items", params={"org_code": org_code}).json()["items"]
    return next(i for i in items if name_part in i["name"])


def assert_problem(reply: httpx.Response, status: int) -> dict:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith(PROBLEM), reply.headers["content-type"]
    body = reply.json()
    assert {"type", "title", "status", "detail"} <= body.keys() and body["status"] == status
    assert reply.headers.get("x-request-id")
    return body
