"""Where a case stands (办件状态): one enum for the whole network.

Each service keeps the part of a case's life it sees (an agent's case is never ``received``; an
intake case is never ``collected``), but every status column and every API field uses these values,
and supervision's timeline orders them. Later rules add values here (and to docs/CONVENTIONS.md).
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Enum as SAEnum


class CaseStatus(StrEnum):
    collected = "collected"  # 已收件(村): with the village agent
    handed_up = "handed_up"  # 已上交: sent up to the hall above, not yet received there
    received = "received"  # 已收件(窗口): at a hall's window, materials not checked yet
    incomplete = "incomplete"  # 待补正: a one-time notice (一次性告知) lists every gap
    accepted = "accepted"  # 已受理: a receipt was issued and the clock runs
    decided = "decided"  # 已办结: approved or rejected
    delivered = "delivered"  # 已送达: the result reached the applicant


# Forward order of a case's life: a late or redelivered event never moves a case back.
STATUS_ORDER = list(CaseStatus)


def status_column_type() -> SAEnum:
    """The column type of every status column: the enum's values as VARCHAR (no native PG enum, so
    adding a value needs no type migration)."""
    return SAEnum(
        CaseStatus,
        native_enum=False,
        create_constraint=False,
        length=20,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )
