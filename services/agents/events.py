"""What the agents service consumes: the catalogue's items, and where its cases went up the chain."""

from __future__ import annotations

from sqlmodel import Session

from services.agents.models import AgentCase
from services.agents.schemas import AgentCaseStatus
from shared.directory_copies import DIRECTORY_COPY_HANDLERS
from shared.events import Envelope
from shared.events.consumer import Subscription
from shared.events.outbox import utcnow
from shared.item_copies import ITEM_COPY_HANDLERS


def on_case_moved(session: Session, envelope: Envelope) -> None:
    """Intake handed one of our cases further up: follow where it is."""
    case = session.get(AgentCase, envelope.subject or "")
    to_org = envelope.data.get("to_org")
    if case is not None and to_org and case.status == AgentCaseStatus.handed_up:
        case.current_org, case.updated_at = to_org, utcnow()
        session.add(case)


def on_case_decided(session: Session, envelope: Envelope) -> None:
    case = session.get(AgentCase, envelope.subject or "")
    if case is not None and case.status in (AgentCaseStatus.collected, AgentCaseStatus.handed_up):
        case.status, case.outcome = AgentCaseStatus.decided, envelope.data.get("outcome")
        case.decision_reason, case.updated_at = envelope.data.get("reason"), utcnow()
        session.add(case)


SUBSCRIPTION = Subscription(
    durable="agents",
    handlers={
        **ITEM_COPY_HANDLERS,
        **DIRECTORY_COPY_HANDLERS,
        "weimin.intake.case.handed_up": on_case_moved,
        "weimin.approval.case.decided": on_case_decided,
    },
)
