"""The intake service's event boundary, both ways.

Out: one typed helper per event it emits, called by ``service.py`` in the caller's transaction.
In: what it consumes (the catalogue's items, cases village agents hand up, decisions); each handler
only validates the payload and delegates to a ``service.py`` function.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from services.intake import service
from services.intake.models import IntakeCase, OneTimeNotice, Receipt
from shared.events import Envelope, emit_event
from shared.events.consumer import Subscription
from shared.events.types import (
    CaseAcceptedV1,
    CaseDecidedV1,
    CaseHandedUpV1,
    CaseNoticeIssuedV1,
    CaseReceivedV1,
)
from shared.identity_numbers import mask_name
from shared.item_copies import ITEM_COPY_HANDLERS
from shared.personal_data import applicant_fields

SOURCE = "intake"

# ------------------------------------------------------------------------------------------------ out


def case_received(session: AsyncSession, case: IntakeCase, *, channel: str | None = None) -> None:
    """The case is at a hall's window (``case.current_org``): a walk-in, or a hand-up from below."""
    emit_event(
        session,
        SOURCE,
        CaseReceivedV1(
            case_id=case.case_id,
            org_code=case.current_org,
            item_code=case.item_code,
            channel=channel or case.channel,
            origin_org=case.origin_org,
        ),
    )


def case_notice_issued(session: AsyncSession, case: IntakeCase, notice: OneTimeNotice) -> None:
    emit_event(
        session,
        SOURCE,
        CaseNoticeIssuedV1(
            case_id=case.case_id,
            org_code=case.current_org,
            item_code=case.item_code,
            notice_id=notice.notice_id,
            missing=notice.missing,
            issued_by=notice.issued_by,
        ),
    )


def case_accepted(
    session: AsyncSession, case: IntakeCase, receipt: Receipt, *, deciding_org: str, accepted_at: datetime
) -> None:
    """Accepted with a receipt; ``deciding_org`` tells approval which hall decides the case."""
    emit_event(
        session,
        SOURCE,
        CaseAcceptedV1(
            case_id=case.case_id,
            org_code=case.current_org,
            item_code=case.item_code,
            receipt_no=receipt.receipt_no,
            accepted_by=receipt.officer,
            accepted_at=accepted_at,
            deciding_org=deciding_org,
            promised_days=case.promised_days,
            due=receipt.due,
            due_provisional=receipt.due_provisional,
            applicant_name=mask_name(case.applicant_name),  # approval needs no more
            origin_org=case.origin_org,
            evaluation_code=receipt.evaluation_code,
        ),
    )


def case_handed_up(session: AsyncSession, case: IntakeCase, *, from_org: str, handed_by: str) -> None:
    """The case left ``from_org`` for the hall above it, where it is now (``case.current_org``)."""
    emit_event(
        session,
        SOURCE,
        CaseHandedUpV1(
            case_id=case.case_id,
            org_code=from_org,
            item_code=case.item_code,
            to_org=case.current_org,
            handed_by=handed_by,
            **applicant_fields(
                case.case_id,
                name=case.applicant_name,
                id_number=case.applicant_id_number,
                phone=case.applicant_phone,
            ),
            materials=case.materials,
            origin_org=case.origin_org,
        ),
    )


# ------------------------------------------------------------------------------------------------- in


async def on_agent_handoff(session: AsyncSession, envelope: Envelope) -> None:
    """A village agent handed a case up to its town hall."""
    await service.receive_handoff(session, CaseHandedUpV1.model_validate(envelope.data))


async def on_case_decided(session: AsyncSession, envelope: Envelope) -> None:
    payload = CaseDecidedV1.model_validate(envelope.data)
    await service.record_decision(session, payload.case_id, outcome=payload.outcome)


SUBSCRIPTION = Subscription(
    durable="intake",
    handlers={
        **ITEM_COPY_HANDLERS,
        "weimin.agents.case.handed_up": on_agent_handoff,
        "weimin.approval.case.decided": on_case_decided,
    },
)
