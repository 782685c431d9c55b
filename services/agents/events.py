"""The agents service's event boundary, both ways.

Out: one typed helper per event it emits, called by ``service.py`` in the caller's transaction.
In: what it consumes (the catalogue's items and the village directory, where its cases went up the
chain, decisions); each handler only delegates to a ``service.py`` function.
"""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from services.agents import service
from services.agents.models import AgentCase
from shared.directory_copies import DIRECTORY_COPY_HANDLERS
from shared.events import Envelope, emit_event
from shared.events.consumer import Subscription
from shared.events.types import (
    CaseCollectedV1,
    CaseDecidedV1,
    CaseDeliveredV1,
    CaseHandedUpV1,
)
from shared.item_copies import ITEM_COPY_HANDLERS
from shared.personal_data import applicant_fields

SOURCE = "agents"

# ------------------------------------------------------------------------------------------------ out


def _applicant(case: AgentCase) -> dict[str, Any]:
    """The applicant sealed (for intake, which prints it) and masked (for everyone else): never in clear."""
    return applicant_fields(
        case.case_id, name=case.applicant_name, id_number=case.applicant_id_number, phone=case.applicant_phone
    )


def case_collected(session: AsyncSession, case: AgentCase) -> None:
    emit_event(
        session,
        SOURCE,
        CaseCollectedV1(
            case_id=case.case_id,
            org_code=case.village_code,
            item_code=case.item_code,
            **_applicant(case),
            materials=case.materials,
            collected_by=case.collected_by,
        ),
    )


def case_handed_up(session: AsyncSession, case: AgentCase, *, handed_by: str) -> None:
    emit_event(
        session,
        SOURCE,
        CaseHandedUpV1(
            case_id=case.case_id,
            org_code=case.village_code,
            item_code=case.item_code,
            to_org=case.current_org,
            handed_by=handed_by,
            **_applicant(case),
            materials=case.materials,
            origin_org=case.village_code,
        ),
    )


def case_delivered(session: AsyncSession, case: AgentCase) -> None:
    emit_event(
        session,
        SOURCE,
        CaseDeliveredV1(
            case_id=case.case_id,
            org_code=case.village_code,
            item_code=case.item_code,
            delivered_by=case.delivered_by or "",
            method=case.delivery_method or "agent",
        ),
    )


# ------------------------------------------------------------------------------------------------- in


async def on_case_handed_up(session: AsyncSession, envelope: Envelope) -> None:
    """Intake handed one of our cases further up: follow where it is."""
    payload = CaseHandedUpV1.model_validate(envelope.data)
    await service.follow_handoff(session, payload.case_id, to_org=payload.to_org)


async def on_case_decided(session: AsyncSession, envelope: Envelope) -> None:
    payload = CaseDecidedV1.model_validate(envelope.data)
    await service.record_decision(session, payload.case_id, outcome=payload.outcome, reason=payload.reason)


SUBSCRIPTION = Subscription(
    durable="agents",
    handlers={
        **ITEM_COPY_HANDLERS,
        **DIRECTORY_COPY_HANDLERS,
        "weimin.intake.case.handed_up": on_case_handed_up,
        "weimin.approval.case.decided": on_case_decided,
    },
)
