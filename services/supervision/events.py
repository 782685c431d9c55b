"""The supervision service's event boundary, both ways.

Out: ``case.evaluated``, a typed helper called by ``service.py`` in the caller's transaction.
In: every event in the network (``weimin.>``). The handler only checks that an event is about a case,
validates its payload against the event's model, and hands it to ``read_models``.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from services.supervision import read_models
from services.supervision.models import CaseView, Evaluation
from shared.events import Envelope, emit_event
from shared.events.consumer import Subscription
from shared.events.types import (
    CaseAcceptedV1,
    CaseCollectedV1,
    CaseDecidedV1,
    CaseDeliveredV1,
    CaseEvaluatedV1,
    CaseEvent,
    CaseHandedUpV1,
    CaseNoticeIssuedV1,
    CaseReceivedV1,
)

SOURCE = "supervision"

# ------------------------------------------------------------------------------------------------ out


def case_evaluated(session: AsyncSession, evaluation: Evaluation, view: CaseView, *, bad: bool) -> None:
    emit_event(
        session,
        SOURCE,
        CaseEvaluatedV1(
            case_id=evaluation.case_id,
            org_code=view.origin_org,
            item_code=view.item_code,
            rating=evaluation.rating,
            rated_by=evaluation.rated_by,
            bad=bad,
        ),
    )


# ------------------------------------------------------------------------------------------------- in

_CASE_PAYLOADS: dict[str, type[CaseEvent]] = {
    payload.event_type: payload
    for payload in (
        CaseCollectedV1,
        CaseHandedUpV1,
        CaseReceivedV1,
        CaseNoticeIssuedV1,
        CaseAcceptedV1,
        CaseDecidedV1,
        CaseDeliveredV1,
        CaseEvaluatedV1,
    )
}
_CASE_FIELDS = frozenset({"case_id", "org_code", "item_code"})


async def on_event(session: AsyncSession, envelope: Envelope) -> None:
    """Every event: a case's goes onto its timeline and into its view; others (the catalogue's) are
    not about a case. A case event of a type added after this code still joins the timeline."""
    payload_model = _CASE_PAYLOADS.get(envelope.type)
    if payload_model is None:
        if not _CASE_FIELDS <= envelope.data.keys():
            return
        payload_model = CaseEvent
    await read_models.record_case_event(
        session,
        event_id=envelope.id,
        type_=envelope.type,
        service=envelope.source,
        at=envelope.time,
        event=payload_model.model_validate(envelope.data),
    )


SUBSCRIPTION = Subscription(durable="supervision", handlers={}, catch_all=on_event, subjects=["weimin.>"])
