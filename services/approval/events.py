"""What approval consumes: accepted cases and their arrival at the deciding hall (from intake)."""

from __future__ import annotations

from sqlmodel import Session

from services.approval import service
from shared.events import Envelope
from shared.events.consumer import Subscription
from shared.events.types import CaseAcceptedV1, CaseReceivedV1
from shared.item_copies import ITEM_COPY_HANDLERS


def on_case_accepted(session: Session, envelope: Envelope) -> None:
    service.open_case(session, CaseAcceptedV1.model_validate(envelope.data))


def on_case_received(session: Session, envelope: Envelope) -> None:
    received = CaseReceivedV1.model_validate(envelope.data)
    service.case_arrived(session, received.case_id, received.org_code)


SUBSCRIPTION = Subscription(
    durable="approval",
    handlers={
        **ITEM_COPY_HANDLERS,
        "weimin.intake.case.accepted": on_case_accepted,
        "weimin.intake.case.received": on_case_received,
    },
)
