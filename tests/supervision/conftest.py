"""Supervision's tests share one process: each test starts with no wrong rating codes counted (the
process-wide guard would otherwise carry counts between tests whose cases have the same numbers)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.supervision import code_guard


@pytest.fixture(autouse=True)
def _no_wrong_codes_counted() -> Iterator[None]:
    code_guard.GUARD.reset()
    yield
    code_guard.GUARD.reset()
