"""What intake consumes: the catalogue's items, cases handed up by village agents, decisions."""

from __future__ import annotations

from sqlmodel import Session

from services.intake import service
from services.intake.models import IntakeCase
from services.intake.schemas import IntakeStatus
from shared.events import Envelope
from shared.events.consumer import Subscription
from shared.events.types import CaseHandedUpV1
from shared.item_copies import ITEM_COPY_HANDLERS


def on_agent_handoff(session: Session, envelope: Envelope) -> None:
    service.receive_handoff(session, CaseHandedUpV1.model_validate(envelope.data))


def on_case_decided(session: Session, envelope: Envelope) -> None:
    case = session.get(IntakeCase, envelope.subject or "")
    if case is not None:
        case.status, case.outcome = IntakeStatus.decided, envelope.data.get("outcome")
        session.add(case)


SUBSCRIPTION = Subscription(
    durable="intake",
    handlers={
        **ITEM_COPY_HANDLERS,
        "weimin.agents.case.handed_up": on_agent_handoff,
        "weimin.approval.case.decided": on_case_decided,
    },
)
