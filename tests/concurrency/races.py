"""Firing the same write many times at once, and reading what came back."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx

from shared.case_numbers import parse_case_number
from tests.support import assert_problem

# Each race is run this many times: one trial that happens to serialise proves nothing.
TRIALS = 6


async def fire(client: httpx.AsyncClient, requests: list[dict[str, Any]]) -> list[httpx.Response]:
    """Send every request at once (``method``, ``url`` and httpx keywords) and wait for all answers."""
    return list(await asyncio.gather(*(client.request(**r) for r in requests)))


def statuses(replies: list[httpx.Response]) -> Counter[int]:
    return Counter(r.status_code for r in replies)


def one_winner(replies: list[httpx.Response], *, loser: tuple[int, ...] = (409,)) -> httpx.Response:
    """Exactly one 200; every other answer a problem with a status in ``loser`` (never a 500)."""
    winners = [r for r in replies if r.status_code == 200]
    assert len(winners) == 1, [(r.status_code, r.text) for r in replies]
    for reply in replies:
        if reply is not winners[0]:
            assert reply.status_code in loser, reply.text
            assert_problem(reply, reply.status_code)
    return winners[0]


def sequences(case_ids: list[str]) -> list[int]:
    return sorted(parse_case_number(c).sequence for c in case_ids)
