"""Supervision's read models, built from events alone: a case's timeline and its view (status, where
it is, every unit it passed through, its clock, its decision and its rating).

``events.py`` validates each event and hands it here; nothing here reads an envelope or answers HTTP.
Events may arrive late, twice (under a new id) or out of order: the status only moves forward, and
the origin is whatever an event that knows it says.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from services.supervision.models import CaseView, OpenCasesDue, TimelineEntry, UnitFigures
from shared.case_status import STATUS_ORDER, CaseStatus
from shared.events import EventType
from shared.events.types import (
    CaseAcceptedV1,
    CaseCollectedV1,
    CaseDecidedV1,
    CaseDeliveredV1,
    CaseEvaluatedV1,
    CaseEvent,
    CaseHandedUpV1,
    CaseReceivedV1,
)

SATISFIED_FROM = 3  # a rating of 基本满意 or better counts as satisfied

# Status only moves forward: an accepted case handed up (handed_up, then received at the county) is
# still accepted, and a late or redelivered event never winds a delivered case back.
_STATUS_RANK = {status: rank for rank, status in enumerate(STATUS_ORDER)}

_STATUS_BY_TYPE: dict[str, CaseStatus] = {
    EventType.case_collected: CaseStatus.collected,
    EventType.case_handed_up: CaseStatus.handed_up,
    EventType.case_received: CaseStatus.received,
    EventType.case_notice_issued: CaseStatus.incomplete,
    EventType.case_accepted: CaseStatus.accepted,
    EventType.case_decided: CaseStatus.decided,
    EventType.case_delivered: CaseStatus.delivered,
}


def _origin(event: CaseEvent) -> str | None:
    """The unit where the case was first received, when this event knows it."""
    if isinstance(event, CaseHandedUpV1 | CaseReceivedV1 | CaseAcceptedV1):
        return event.origin_org
    if isinstance(event, CaseCollectedV1):
        return event.org_code  # a village agent collects where the case begins
    return None


async def record_case_event(
    session: AsyncSession, *, event_id: str, type_: str, service: str, at: datetime, event: CaseEvent
) -> None:
    """Add a case event to its timeline and bring the case's view up to date."""
    session.add(
        TimelineEntry(
            case_id=event.case_id,
            event_id=event_id,
            type=type_,
            service=service,
            org_code=event.org_code,
            at=at,
        )
    )
    origin = _origin(event)
    # A batch of events is applied in one transaction: its views are kept at hand (a view made by an
    # earlier event of the batch is not in the database yet), and nothing is flushed before the
    # commit, so a batch's timeline entries and views go out in a few statements, not a few each.
    views: dict[str, CaseView] = session.info.setdefault(_VIEWS, {})
    view = views.get(event.case_id)
    if view is None:
        with session.no_autoflush:
            view = await session.get(CaseView, event.case_id)
    before = None if view is None else figures_of(view)
    if view is None:
        first = origin or event.org_code
        view = CaseView(
            case_id=event.case_id,
            item_code=event.item_code,
            # The lowest status until an event says how far the case has gone.
            status=CaseStatus.collected,
            origin_org=first,
            current_org=event.org_code,
            orgs=[first],
            received_at=at,
        )
    if origin:
        view.origin_org = origin
        if origin not in view.orgs:
            view.orgs = [origin, *view.orgs]
    _apply(view, type_, event, at)
    if event.org_code not in view.orgs:
        view.orgs = [*view.orgs, event.org_code]
    session.add(view)
    views[event.case_id] = view
    _count(session, before, figures_of(view))


def _apply(view: CaseView, type_: str, event: CaseEvent, at: datetime) -> None:
    status = _STATUS_BY_TYPE.get(type_)
    if status is not None and _STATUS_RANK[status] > _STATUS_RANK[CaseStatus(view.status)]:
        view.status = status
    if isinstance(event, CaseHandedUpV1):
        view.current_org = event.to_org
    elif isinstance(event, CaseReceivedV1 | CaseCollectedV1):
        view.current_org = event.org_code
    elif isinstance(event, CaseAcceptedV1):
        view.accepted_at = event.accepted_at
        view.due = event.due
        view.due_provisional = event.due_provisional
        view.evaluation_code = event.evaluation_code
    elif isinstance(event, CaseDecidedV1):
        view.decided_at = at
        view.outcome, view.on_time = event.outcome, event.on_time
    elif isinstance(event, CaseDeliveredV1):
        view.delivered_at, view.current_org = at, event.org_code
    elif isinstance(event, CaseEvaluatedV1):
        view.rating = event.rating


# ------------------------------------------------------------------------------------------- counters


@dataclass(frozen=True)
class CaseFigures:
    """What one case view adds to its origin's counters (``UnitFigures``, ``OpenCasesDue``)."""

    org_code: str
    counts: dict[str, int]
    open_due: date | None  # accepted, undecided, with a promised date: counted on that date


def figures_of(view: CaseView) -> CaseFigures:
    """The case's part of the figures ``service.stats`` answers (the same rules, case by case)."""
    accepted, decided = view.accepted_at is not None, view.decided_at is not None
    return CaseFigures(
        org_code=view.origin_org,
        counts={
            "received": 1,
            "accepted": int(accepted),
            "decided": int(decided),
            "on_time": int(view.on_time is True),
            "decided_late": int(view.on_time is False),
            "rated": int(view.rating is not None),
            "satisfied": int(view.rating is not None and view.rating >= SATISFIED_FROM),
        },
        open_due=view.due if accepted and not decided else None,
    )


def _count(session: AsyncSession, before: CaseFigures | None, after: CaseFigures) -> None:
    """Move the counters by the difference the event made to the case (nothing when it made none).

    In the transaction that applies the event, so the counters hold exactly the events applied (the
    consumer applies each once). The differences of a batch are summed per counter row and written
    just before the commit: one ``INSERT … ON CONFLICT DO UPDATE SET n = n + excluded.n`` per table
    (an upsert, never a read then a write, so two transactions never lose each other's counts), its
    rows in key order, so two transactions lock the rows they share in the same order."""
    pending: dict[tuple[Any, tuple[Any, ...]], Counter[str]] = session.info.setdefault(_DELTAS, {})
    pending.setdefault((UnitFigures, (after.org_code,)), Counter()).update(after.counts)
    if before is not None:
        pending.setdefault((UnitFigures, (before.org_code,)), Counter()).subtract(before.counts)
    was = (before.org_code, before.open_due) if before is not None else (None, None)
    now = (after.org_code, after.open_due)
    if was != now:
        if was[1] is not None:
            pending.setdefault((OpenCasesDue, was), Counter())["cases"] -= 1
        if now[1] is not None:
            pending.setdefault((OpenCasesDue, now), Counter())["cases"] += 1


_VIEWS = "supervision_views"
_DELTAS = "supervision_counter_deltas"
_KEYS = {UnitFigures: ("org_code",), OpenCasesDue: ("org_code", "due")}
_FIGURES = {
    UnitFigures: ("received", "accepted", "decided", "on_time", "decided_late", "rated", "satisfied"),
    OpenCasesDue: ("cases",),
}


@event.listens_for(Session, "before_commit")
def _write_counters(session: Session) -> None:
    pending = session.info.pop(_DELTAS, None)
    session.info.pop(_VIEWS, None)
    if not pending:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for model, keys in _KEYS.items():
        figures = _FIGURES[model]
        rows = [
            {**dict(zip(keys, key, strict=True)), **{f: delta.get(f, 0) for f in figures}}
            for (kind, key), delta in sorted(pending.items(), key=lambda item: item[0][1])
            if kind is model and any(delta.values())
        ]
        if not rows:
            continue
        table = model.__table__  # type: ignore[attr-defined]
        statement = insert(table)
        statement = statement.on_conflict_do_update(
            index_elements=list(keys), set_={f: table.c[f] + statement.excluded[f] for f in figures}
        )
        session.execute(statement, rows)


@event.listens_for(Session, "after_rollback")
def _forget_counters(session: Session) -> None:
    session.info.pop(_DELTAS, None)
    session.info.pop(_VIEWS, None)
