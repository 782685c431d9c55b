"""Path parameters validated at the boundary, shared by every service's routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query

from shared.case_numbers import CASE_NUMBER_PATTERN, InvalidCaseNumber, parse_case_number
from shared.case_status import CaseStatus
from shared.errors import InvalidInput
from shared.pagination import Cursor, Limit

CASE_NUMBER_LENGTH = len("371424100201-20261121-000001-5")


def _case_id(
    case_id: Annotated[
        str,
        Path(
            description="办件编号: `{org_code}-{YYYYMMDD}-{seq}-{check}`",
            examples=["371424100201-20261121-000001-5"],
            # Documented, and enforced below by parse_case_number (a 422 malformed-case-number).
            json_schema_extra={"pattern": CASE_NUMBER_PATTERN, "maxLength": CASE_NUMBER_LENGTH},
        ),
    ],
) -> str:
    try:
        parse_case_number(case_id)
    except InvalidCaseNumber as exc:
        raise InvalidInput(f"Malformed case number: {exc}", slug="malformed-case-number") from exc
    return case_id


CaseIdParam = Annotated[str, Depends(_case_id)]
__all__ = ["CASE_NUMBER_PATTERN", "CaseIdParam", "CaseListQuery"]


class CaseListFilter:
    """The query of every case list: an optional status, and the page (``cursor``, ``limit``)."""

    def __init__(
        self,
        status: Annotated[CaseStatus | None, Query(description="Only cases in this status")] = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> None:
        self.status, self.cursor, self.limit = status, cursor, limit


CaseListQuery = Annotated[CaseListFilter, Depends()]
