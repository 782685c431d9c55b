"""Approval: the deciding level decides a case it learned of from intake's events."""

from __future__ import annotations

from collections.abc import Collection

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.approval import events
from services.approval.models import ApprovalCase
from services.approval.schemas import DecisionIn
from shared.auth import Principal, Role, require_roles
from shared.case_status import CaseStatus
from shared.clock import today_cn, utcnow
from shared.errors import Conflict, Forbidden, PreconditionFailed
from shared.events.types import CaseAcceptedV1
from shared.item_copies import ItemCopy
from shared.jurisdiction import governed_or_404, visible
from shared.pagination import Page, keyset_page
from shared.transitions import guarded_update

# ------------------------------------------------------------------------- what intake tells us


async def open_case(session: AsyncSession, accepted: CaseAcceptedV1) -> None:
    """Intake accepted a case: it waits for the unit intake named to decide it (town, county or city)."""
    if await session.get(ApprovalCase, accepted.case_id) is not None:
        return  # redelivered (or re-sent under a new id): a case is opened once, never reopened
    item = await session.get(ItemCopy, accepted.item_code)
    session.add(
        ApprovalCase(
            case_id=accepted.case_id,
            item_code=accepted.item_code,
            item_name=item.name if item else accepted.item_code,
            origin_org=accepted.origin_org,
            deciding_org=accepted.deciding_org,
            current_org=accepted.org_code,
            applicant_name=accepted.applicant_name,
            status=CaseStatus.accepted,
            accepted_at=accepted.accepted_at,
            promised_days=accepted.promised_days,
            due=accepted.due,
            due_provisional=accepted.due_provisional,
        )
    )


async def case_arrived(session: AsyncSession, case_id: str, org_code: str) -> None:
    """An undecided case was received at a hall further up: it is there now."""
    case = await session.get(ApprovalCase, case_id)
    if case is not None and case.status == CaseStatus.accepted and case.current_org != org_code:
        # Guarded like every change (its ETag moves too): losing to a decision at the same moment
        # fails the event, which is redelivered and then finds the case decided.
        await guarded_update(session, case, current_org=org_code)


# ------------------------------------------------------------------------------------ the deciding level


async def get_case(session: AsyncSession, principal: Principal, case_id: str) -> ApprovalCase:
    """A case whose origin, hall or deciding unit lies in the caller's subtree; others are not found."""
    case = await session.get(ApprovalCase, case_id)
    units = (case.origin_org, case.current_org, case.deciding_org) if case else ()
    return governed_or_404(case, principal, *units, what=f"case {case_id}")


async def list_cases(
    session: AsyncSession, principal: Principal, *, status: CaseStatus | None, after: str | None, limit: int
) -> Page[ApprovalCase]:
    """The queue: cases decided by a unit in the caller's subtree."""
    # The cursor's bound first: SQLite walks the case numbers from the first lower bound it is given
    # (the subtree's lower bound would make a deep page walk from the subtree's first case).
    start = select(ApprovalCase).where(col(ApprovalCase.case_id) > after) if after else select(ApprovalCase)
    query = visible(start, principal, ApprovalCase.deciding_org, case_number=ApprovalCase.case_id)
    if status:
        query = query.where(ApprovalCase.status == status)
    return await keyset_page(session, query, ApprovalCase.case_id, after=after, limit=limit)


def etag(case: ApprovalCase) -> str:
    """The case's tag (its ETag): its version, one more on every change of the case."""
    return f'"v{case.version}"'


def _stale(case: ApprovalCase) -> PreconditionFailed:
    return PreconditionFailed(
        f"Case {case.case_id} has changed since you read it (it is now {case.status}, {etag(case)}); "
        "read it again before deciding",
        slug="stale-etag",
        current_etag=etag(case),
    )


async def decide(
    session: AsyncSession,
    principal: Principal,
    case_id: str,
    decision: DecisionIn,
    *,
    based_on: Collection[str] | None = None,
) -> ApprovalCase:
    """Approve or refuse, by an approver of the deciding unit, once the case has reached it.

    The deciding unit is the one intake's ``case.accepted`` named (a city-decided item: the city), never
    one derived here; an approver of any other unit, even one above it, does not decide the case.

    A case is decided once: the decision is a guarded update of the version this request read, so of
    two decisions at once (approve and reject) one is stored and announced, the other is a 409.
    ``based_on`` holds the tags of the case as the caller read it (``If-Match``): a decision on a case
    that changed since is a 412 ``stale-etag``. ``None`` (no ``If-Match``, or ``*``) asks nothing.
    """
    require_roles(principal, Role.approver)
    case = await get_case(session, principal, case_id)
    if principal.org_code != case.deciding_org:
        raise Forbidden(f"Case {case_id} is decided by {case.deciding_org}", slug="not-the-deciding-unit")
    if based_on is not None and etag(case) not in based_on:
        raise _stale(case)
    if case.status == CaseStatus.decided:
        raise Conflict(f"Case {case_id} was decided already", slug="case-already-decided")
    if case.current_org != case.deciding_org:
        raise Conflict(f"Case {case_id} has not reached {case.deciding_org} yet", slug="case-not-arrived")
    await guarded_update(
        session,
        case,
        stale=(lambda: _stale(case)) if based_on is not None else None,
        status=CaseStatus.decided,
        outcome=decision.outcome.value,
        reason=decision.reason,
        decided_by=principal.username,
        decided_at=utcnow(),
        on_time=today_cn() <= case.due,
    )
    events.case_decided(session, case)
    await session.flush()
    return case
