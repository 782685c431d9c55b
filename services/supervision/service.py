"""Supervision (电子监察): every case's timeline and clock, ratings, and the counts the county ranks by.

Everything here is derived from events (``read_models`` keeps the views); supervision never asks
another service.
"""

from __future__ import annotations

import secrets
from datetime import date

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.supervision import code_guard, events
from services.supervision.code_guard import WrongCodeGuard
from services.supervision.models import CaseView, Evaluation, OpenCasesDue, TimelineEntry, UnitFigures
from services.supervision.schemas import EvaluationIn, Stats
from shared.auth import Principal, Role
from shared.case_numbers import InvalidCaseNumber, parse_case_number
from shared.case_status import CaseStatus
from shared.divisions import prefix_of
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized, WeiminError
from shared.jurisdiction import governed_or_404, require_governs, starts_with

BAD_RATINGS = (1, 2)  # 不满意, 非常不满意
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


class TooManyWrongCodes(WeiminError):
    """Too many wrong rating codes for one case lately; ``retry_after`` seconds until it is heard again."""

    status, slug, title = 429, "too-many-wrong-codes", "Too many wrong evaluation codes"

    def __init__(self, case_id: str, retry_after: int) -> None:
        super().__init__(
            f"Too many wrong evaluation codes for case {case_id}; try again in {retry_after} seconds",
            retry_after=retry_after,
        )
        self.retry_after = retry_after


def normalise_code(code: str) -> str:
    """The code as printed (``ABCD-EFGH-JKMN``) or typed (`` abcd efgh jkmn``): capitals, nothing else."""
    return "".join(code.split()).replace("-", "").upper()


async def _view_for_code(session: AsyncSession, case_id: str, code: str, guard: WrongCodeGuard) -> CaseView:
    """The case whose printed code this is. A wrong code answers exactly as an unknown case does,
    and counts against the case: after too many, every code for it waits (429)."""
    retry_after = guard.retry_after(case_id)
    if retry_after is not None:
        raise TooManyWrongCodes(case_id, retry_after)
    view = await session.get(CaseView, case_id)
    expected = view.evaluation_code if view is not None else None
    if not expected or not secrets.compare_digest(
        normalise_code(expected).encode(), normalise_code(code).encode()
    ):
        guard.wrong(case_id)
        raise NotFound(f"No case {case_id} with that evaluation code", slug="case-not-found")
    assert view is not None
    return view


async def evaluate(
    session: AsyncSession,
    principal: Principal | None,
    body: EvaluationIn,
    *,
    guard: WrongCodeGuard | None = None,
) -> Evaluation:
    """One rating per case (一事一评), recording who really gave it.

    Given by the village agent for the villager (their token: ``rated_by`` is the agent), or by the
    applicant with the code printed on their receipt and no token (``rated_by`` is ``applicant``). An
    officer's token never rates, and never as the applicant (403), even with the right code.
    """
    _check_case_number(body.case_id)
    if principal is not None:
        if not principal.has(Role.agent):
            if body.evaluation_code:
                raise Forbidden(
                    "The receipt's code is the applicant's own: an officer's token cannot rate with it",
                    slug="not-the-applicant",
                )
            raise Forbidden("Only the village agent rates on the villager's behalf", slug="role-required")
        view = await session.get(CaseView, body.case_id)
        view = governed_or_404(
            view, principal, view.origin_org if view else None, what=f"case {body.case_id}"
        )
        rated_by, channel, caller = principal.username, "agent", principal.username
    else:
        if not body.evaluation_code:
            raise Unauthorized("A bearer token or the receipt's evaluation_code is required")
        view = await _view_for_code(session, body.case_id, body.evaluation_code, guard or code_guard.GUARD)
        rated_by, channel, caller = "applicant", "receipt_code", "anonymous"
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
        channel=channel,
        caller=caller,
        org_code=view.current_org,
    )
    session.add(evaluation)
    events.case_evaluated(session, evaluation, view, bad=body.rating in BAD_RATINGS)
    try:
        await session.flush()
    except IntegrityError as exc:  # rated at the same moment by another request (PostgreSQL)
        raise Conflict(
            f"Case {body.case_id} has been rated already (一事一评)", slug="already-rated"
        ) from exc
    return evaluation


async def stats(session: AsyncSession, principal: Principal, org_code: str, today: date) -> Stats:
    """Counts for the cases received in ``org_code``'s subtree (every case that passed through it).

    Read from the counters ``read_models`` keeps as events arrive (``UnitFigures`` per unit where a
    case was first received, ``OpenCasesDue`` per unit and promised date), never counted over the
    cases: the subtree is a range of unit codes (every unit a case passes through lies above its
    origin), so the county centre's polling sums a few hundred rows however many cases there are.
    """
    require_governs(principal, org_code)
    prefix = prefix_of(org_code)
    open_overdue = (
        sa_select(func.coalesce(func.sum(OpenCasesDue.cases), 0))
        .where(starts_with(OpenCasesDue.org_code, prefix), col(OpenCasesDue.due) < today)
        .scalar_subquery()
    )
    query = sa_select(
        *(func.coalesce(func.sum(getattr(UnitFigures, name)), 0) for name in _FIGURES), open_overdue
    ).where(starts_with(UnitFigures.org_code, prefix))
    # sqlmodel types select() up to four columns; this is a plain SQLAlchemy select of eight.
    row = (await session.exec(query)).one()  # type: ignore[call-overload]
    received, accepted, decided, on_time, decided_late, rated, satisfied, overdue_open = (int(v) for v in row)
    return Stats(
        org_code=org_code,
        received=received,
        accepted=accepted,
        decided=decided,
        on_time_rate=round(on_time / decided, 4) if decided else None,
        satisfaction_rate=round(satisfied / rated, 4) if rated else None,
        overdue=overdue_open + decided_late,
    )


_FIGURES = ("received", "accepted", "decided", "on_time", "decided_late", "rated", "satisfied")
