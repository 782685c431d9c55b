"""Supervision (电子监察): every case's timeline and clock, ratings, and the counts the county ranks by.

Everything here is derived from events (``read_models`` keeps the views); supervision never asks
another service.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import and_, case, func
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.supervision import events
from services.supervision.models import CaseView, Evaluation, TimelineEntry
from services.supervision.schemas import EvaluationIn, Stats
from shared.auth import Principal, Role
from shared.case_numbers import InvalidCaseNumber, parse_case_number
from shared.case_status import CaseStatus
from shared.divisions import prefix_of
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from shared.jurisdiction import governed_or_404, require_governs

BAD_RATINGS = (1, 2)  # 不满意, 非常不满意
SATISFIED_FROM = 3  # 基本满意 or better
_RATED_AFTER = (CaseStatus.decided, CaseStatus.delivered)


def _check_case_number(case_id: str) -> None:
    try:
        parse_case_number(case_id)
    except InvalidCaseNumber as exc:
        raise InvalidInput(f"Malformed case number: {exc}", slug="malformed-case-number") from exc


async def visible_case(session: AsyncSession, principal: Principal, case_id: str) -> CaseView:
    """A case that touched the caller's subtree (any unit it passed through); others are not found."""
    view = await session.get(CaseView, case_id)
    units = (view.origin_org, view.current_org, *view.orgs) if view else ()
    return governed_or_404(view, principal, *units, what=f"case {case_id}")


async def timeline(session: AsyncSession, case_id: str) -> list[TimelineEntry]:
    """Every event of the case, oldest first (the caller checked the case is theirs to see)."""
    query = (
        select(TimelineEntry)
        .where(TimelineEntry.case_id == case_id)
        .order_by(col(TimelineEntry.at), col(TimelineEntry.id))
    )
    return list((await session.exec(query)).all())


async def case_timeline(
    session: AsyncSession, principal: Principal, case_id: str
) -> tuple[CaseView, list[TimelineEntry]]:
    """The case as the caller may see it, with its timeline."""
    view = await visible_case(session, principal, case_id)
    return view, await timeline(session, case_id)


async def evaluate(session: AsyncSession, principal: Principal | None, body: EvaluationIn) -> Evaluation:
    """One rating per case (一事一评).

    Given by the agent for the villager (``principal``), or by the applicant with the receipt's code
    (no principal).
    """
    _check_case_number(body.case_id)
    view = await session.get(CaseView, body.case_id)
    if principal is not None:
        if not principal.has(Role.agent):
            raise Forbidden("Only the village agent rates on the villager's behalf", slug="role-required")
        view = governed_or_404(
            view, principal, view.origin_org if view else None, what=f"case {body.case_id}"
        )
        rated_by = principal.username
    else:
        if not body.evaluation_code:
            raise Unauthorized("A bearer token or the receipt's evaluation_code is required")
        if view is None or view.evaluation_code != body.evaluation_code.strip().upper():
            raise NotFound(f"No case {body.case_id} with that evaluation code", slug="case-not-found")
        rated_by = "applicant"
    if view.status not in _RATED_AFTER:
        raise Conflict(
            f"Case {body.case_id} is not decided yet; it is rated after the decision", slug="case-not-decided"
        )
    if await session.get(Evaluation, body.case_id) is not None:
        raise Conflict(f"Case {body.case_id} has been rated already (一事一评)", slug="already-rated")
    evaluation = Evaluation(
        case_id=body.case_id,
        rating=body.rating,
        comment=body.comment,
        rated_by=rated_by,
        org_code=view.current_org,
    )
    session.add(evaluation)
    events.case_evaluated(session, evaluation, view, bad=body.rating in BAD_RATINGS)
    await session.flush()
    return evaluation


async def stats(session: AsyncSession, principal: Principal, org_code: str, today: date) -> Stats:
    """Counts for the cases received in ``org_code``'s subtree (every case that passed through it)."""
    require_governs(principal, org_code)

    def tally(*conditions: Any) -> Any:
        return func.count(case((and_(*conditions), 1)))

    # One aggregate query for the whole subtree: the county centre's screens poll this. The subtree is
    # matched on the indexed origin_org: every unit a case passes through lies above its origin.
    query = sa_select(
        func.count(),
        tally(col(CaseView.accepted_at).is_not(None)),
        tally(col(CaseView.decided_at).is_not(None)),
        tally(col(CaseView.on_time).is_(True)),
        tally(col(CaseView.rating).is_not(None)),
        tally(col(CaseView.rating) >= SATISFIED_FROM),
        tally(
            col(CaseView.accepted_at).is_not(None),
            col(CaseView.decided_at).is_(None),
            col(CaseView.due) < today,
        ),
        tally(col(CaseView.on_time).is_(False)),
    ).where(col(CaseView.origin_org).startswith(prefix_of(org_code)))
    # sqlmodel types select() up to four columns; this is a plain SQLAlchemy select of eight.
    row = (await session.exec(query)).one()  # type: ignore[call-overload]
    received, accepted, decided, on_time, rated, satisfied, open_overdue, decided_late = (int(v) for v in row)
    return Stats(
        org_code=org_code,
        received=received,
        accepted=accepted,
        decided=decided,
        on_time_rate=round(on_time / decided, 4) if decided else None,
        satisfaction_rate=round(satisfied / rated, 4) if rated else None,
        overdue=open_overdue + decided_late,
    )
