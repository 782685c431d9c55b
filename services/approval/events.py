"""The approval service's event boundary, both ways.

Out: ``case.decided``, a typed helper called by ``service.py`` in the caller's transaction.
In: the catalogue's items (local copies), and from intake the cases it accepted (with the unit that
decides them) and their arrival at halls further up; each handler only delegates to ``service.py``.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from services.approval import service
from services.approval.models import ApprovalCase
from shared.events import Envelope, emit_event
from shared.events.consumer import Subscription
from shared.events.types import CaseAcceptedV1, CaseDecidedV1, CaseReceivedV1
from shared.item_copies import ITEM_COPY_HANDLERS

SOURCE = "approval"

# ------------------------------------------------------------------------------------------------ out


def case_decided(session: AsyncSession, case: ApprovalCase) -> None:
    if case.outcome is None or case.decided_by is None or case.on_time is None:
        raise ValueError(f"case {case.case_id} has no decision to announce")
    emit_event(
        session,
        SOURCE,
        CaseDecidedV1(
            case_id=case.case_id,
            org_code=case.deciding_org,
            item_code=case.item_code,
            outcome=case.outcome,
            reason=case.reason,
            decided_by=case.decided_by,
            due=case.due,
            on_time=case.on_time,
        ),
    )


# ------------------------------------------------------------------------------------------------- in


async def on_case_accepted(session: AsyncSession, envelope: Envelope) -> None:
    await service.open_case(session, CaseAcceptedV1.model_validate(envelope.data))


async def on_case_received(session: AsyncSession, envelope: Envelope) -> None:
    received = CaseReceivedV1.model_validate(envelope.data)
    await service.case_arrived(session, received.case_id, received.org_code)


SUBSCRIPTION = Subscription(
    durable="approval",
    handlers={
        **ITEM_COPY_HANDLERS,
        "weimin.intake.case.accepted": on_case_accepted,
        "weimin.intake.case.received": on_case_received,
    },
)
