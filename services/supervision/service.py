"""Supervision (电子监察): every case's timeline and clock, ratings, and the counts the county ranks by.

Everything here is derived from events; supervision never asks another service.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from services.supervision.models import CaseView, Evaluation, TimelineEntry
from services.supervision.schemas import EvaluationIn, Stats
from shared.auth import Principal, Role
from shared.case_numbers import InvalidCaseNumber, parse_case_number
from shared.divisions import prefix_of
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from shared.events import Envelope, EventType, emit
from shared.events.types import CaseEvaluatedV1

SOURCE = "supervision"
BAD_RATINGS = (1, 2)  # 不满意, 非常不满意

# Status only moves forward: an accepted case handed up (handed_up, then received at the county) is
# still accepted, and a late or redelivered event never winds a delivered case back.
_STATUS_RANK = {
    s: i
    for i, s in enumerate(
        ["collected", "handed_up", "received", "incomplete", "accepted", "decided", "delivered"]
    )
}

_STATUS_BY_TYPE = {
    EventType.case_collected: "collected",
    EventType.case_handed_up: "handed_up",
    EventType.case_received: "received",
    EventType.case_notice_issued: "incomplete",
    EventType.case_accepted: "accepted",
    EventType.case_decided: "decided",
    EventType.case_delivered: "delivered",
}


def record_event(session: Session, envelope: Envelope) -> None:
    """Add a case event to its timeline and bring the case's view up to date."""
    case_id = envelope.data.get("case_id")
    org_code = envelope.data.get("org_code")
    if not case_id or not org_code:
        return  # not about a case (catalogue events)
    session.add(
        TimelineEntry(
            case_id=case_id,
            event_id=envelope.id,
            type=envelope.type,
            service=envelope.source,
            org_code=org_code,
            at=envelope.time,
        )
    )
    view = session.get(CaseView, case_id)
    if view is None:
        origin = envelope.data.get("origin_org") or org_code
        view = CaseView(
            case_id=case_id,
            item_code=envelope.data["item_code"],
            status="received",
            origin_org=origin,
            current_org=org_code,
            orgs=[origin],
            received_at=envelope.time,
        )
    if envelope.data.get("origin_org") or envelope.type == EventType.case_collected:
        # Events may arrive out of order: the origin is whatever an event that knows it says.
        view.origin_org = envelope.data.get("origin_org") or org_code
        if view.origin_org not in view.orgs:
            view.orgs = [view.origin_org, *view.orgs]
    _apply(view, envelope)
    if org_code not in view.orgs:
        view.orgs = [*view.orgs, org_code]
    session.add(view)


def _apply(view: CaseView, envelope: Envelope) -> None:
    data, kind = envelope.data, envelope.type
    if kind in _STATUS_BY_TYPE:
        status = _STATUS_BY_TYPE[EventType(kind)]
        if _STATUS_RANK[status] > _STATUS_RANK.get(view.status, -1):
            view.status = status
    if kind == EventType.case_handed_up:
        view.current_org = data["to_org"]
    elif kind in (EventType.case_received, EventType.case_collected):
        view.current_org = data["org_code"]
    elif kind == EventType.case_accepted:
        view.accepted_at = datetime.fromisoformat(data["accepted_at"])
        view.due = date.fromisoformat(data["due"])
        view.due_provisional = bool(data.get("due_provisional"))
        view.evaluation_code = data.get("evaluation_code")
    elif kind == EventType.case_decided:
        view.decided_at = envelope.time
        view.outcome, view.on_time = data.get("outcome"), data.get("on_time")
    elif kind == EventType.case_delivered:
        view.delivered_at, view.current_org = envelope.time, data["org_code"]
    elif kind == EventType.case_evaluated:
        view.rating = data.get("rating")


def _check_case_number(case_id: str) -> None:
    try:
        parse_case_number(case_id)
    except InvalidCaseNumber as exc:
        raise InvalidInput(f"Malformed case number: {exc}", slug="malformed-case-number") from exc


def visible_case(session: Session, principal: Principal, case_id: str) -> CaseView:
    view = session.get(CaseView, case_id)
    if view is None or not principal.governs_any(view.orgs):
        raise NotFound(f"No case {case_id} in your jurisdiction", slug="case-not-found")
    return view


def timeline(session: Session, case_id: str) -> list[TimelineEntry]:
    return list(
        session.exec(
            select(TimelineEntry)
            .where(TimelineEntry.case_id == case_id)
            .order_by(col(TimelineEntry.at), col(TimelineEntry.id))
        ).all()
    )


def evaluate(session: Session, principal: Principal | None, body: EvaluationIn) -> Evaluation:
    """One rating per case (一事一评).

    Given by the agent for the villager, or by the applicant with the receipt's code.
    """
    _check_case_number(body.case_id)
    view = session.get(CaseView, body.case_id)
    if principal is not None:
        if not principal.has(Role.agent):
            raise Forbidden("Only the village agent rates on the villager's behalf", slug="role-required")
        if view is None or not principal.governs(view.origin_org):
            raise NotFound(f"No case {body.case_id} at your village", slug="case-not-found")
        rated_by = principal.username
    else:
        if not body.evaluation_code:
            raise Unauthorized("A bearer token or the receipt's evaluation_code is required")
        if view is None or view.evaluation_code != body.evaluation_code.strip().upper():
            raise NotFound(f"No case {body.case_id} with that evaluation code", slug="case-not-found")
        rated_by = "applicant"
    if view.status not in ("decided", "delivered"):
        raise Conflict(
            f"Case {body.case_id} is not decided yet; it is rated after the decision", slug="case-not-decided"
        )
    if session.get(Evaluation, body.case_id) is not None:
        raise Conflict(f"Case {body.case_id} has been rated already (一事一评)", slug="already-rated")
    evaluation = Evaluation(
        case_id=body.case_id,
        rating=body.rating,
        comment=body.comment,
        rated_by=rated_by,
        org_code=view.current_org,
    )
    session.add(evaluation)
    emit(
        session,
        source=SOURCE,
        type=EventType.case_evaluated,
        subject=body.case_id,
        data=CaseEvaluatedV1(
            case_id=body.case_id,
            org_code=view.origin_org,
            item_code=view.item_code,
            rating=body.rating,
            rated_by=rated_by,
            bad=body.rating in BAD_RATINGS,
        ),
    )
    session.flush()
    return evaluation


def stats(session: Session, principal: Principal, org_code: str, today: date) -> Stats:
    """Counts for the cases that passed through ``org_code``'s subtree."""
    if not principal.governs(org_code):
        raise Forbidden(f"{org_code} is outside your jurisdiction", slug="outside-jurisdiction")

    def tally(*conditions: Any) -> Any:
        return func.count(case((and_(*conditions), 1)))

    # One aggregate query for the whole subtree: the county centre's screens poll this.
    row = session.execute(
        sa_select(
            func.count(),
            tally(col(CaseView.accepted_at).is_not(None)),
            tally(col(CaseView.decided_at).is_not(None)),
            tally(col(CaseView.on_time).is_(True)),
            tally(col(CaseView.rating).is_not(None)),
            tally(col(CaseView.rating) >= 3),
            tally(
                col(CaseView.accepted_at).is_not(None),
                col(CaseView.decided_at).is_(None),
                col(CaseView.due) < today,
            ),
            tally(col(CaseView.on_time).is_(False)),
        ).where(col(CaseView.origin_org).startswith(prefix_of(org_code)))
    ).one()
    received, accepted, decided, on_time, rated, satisfied, open_overdue, decided_late = (int(v) for v in row)
    overdue = open_overdue + decided_late
    return Stats(
        org_code=org_code,
        received=received,
        accepted=accepted,
        decided=decided,
        on_time_rate=round(on_time / decided, 4) if decided else None,
        satisfaction_rate=round(satisfied / rated, 4) if rated else None,
        overdue=overdue,
    )
