"""Village proxy agents (全程代办): collect a villager's matter, hand it up, deliver the result."""

from __future__ import annotations

from datetime import date

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.agents import events
from services.agents.models import AgentCase
from shared.auth import Principal, Role, require_roles
from shared.case_sequences import next_case_number
from shared.case_status import CaseStatus
from shared.clock import utcnow
from shared.db import insert_row
from shared.directory_copies import listed_at
from shared.divisions import Level, ancestor_at, level_of
from shared.errors import Conflict, Forbidden, InvalidInput
from shared.item_copies import ensure_offered_at, published_item
from shared.jurisdiction import governed_or_404, visible
from shared.pagination import Page, keyset_page
from shared.personal_data import lookup_hash
from shared.schemas import CaseSubmission
from shared.transitions import guarded_update


def _require_village_agent(principal: Principal) -> None:
    require_roles(principal, Role.agent)
    if level_of(principal.org_code) != Level.village:
        raise Forbidden("Only an agent of a village station collects cases", slug="not-a-village-agent")


async def collect_case(
    session: AsyncSession, principal: Principal, submission: CaseSubmission, today: date
) -> AgentCase:
    """Record a villager's matter with its materials; mints the case number (办件编号) at the village."""
    _require_village_agent(principal)
    item = await published_item(session, submission.item_code)
    ensure_offered_at(item, principal.org_code)
    if await listed_at(session, principal.org_code, item.item_code) is False:
        raise InvalidInput(
            f"Item {item.item_code} ({item.name}) is not in this village's directory (村级目录未列入该事项)",
            slug="item-not-in-directory",
        )
    if not item.agent_may_take:
        raise InvalidInput(
            f"Item {item.item_code} ({item.name}) cannot be taken by a village agent",
            slug="item-not-for-agents",
        )
    case = AgentCase(
        case_id=await next_case_number(session, principal.org_code, today),
        item_code=item.item_code,
        item_name=item.name,
        item_version=item.version_no,
        village_code=principal.org_code,
        current_org=principal.org_code,
        status=CaseStatus.collected,
        applicant_name=submission.applicant.name,
        applicant_id_number=submission.applicant.id_number,
        applicant_phone=submission.applicant.phone,
        applicant_id_number_hash=lookup_hash(submission.applicant.id_number),
        materials=sorted({m.name for m in submission.materials}),
        collected_by=principal.username,
    )
    await insert_row(session, case)
    events.case_collected(session, case)
    return case


async def get_case(session: AsyncSession, principal: Principal, case_id: str) -> AgentCase:
    """A case the caller may see: their village's, or below their unit. Others' are simply not found."""
    case = await session.get(AgentCase, case_id)
    return governed_or_404(case, principal, case.village_code if case else None, what=f"case {case_id}")


async def _own_case(session: AsyncSession, principal: Principal, case_id: str) -> AgentCase:
    _require_village_agent(principal)
    return await get_case(session, principal, case_id)


async def list_cases(
    session: AsyncSession, principal: Principal, *, status: CaseStatus | None, after: str | None, limit: int
) -> Page[AgentCase]:
    # The cursor's bound first: SQLite walks the case numbers from the first lower bound it is given
    # (the subtree's lower bound would make a deep page walk from the subtree's first case).
    start = select(AgentCase).where(col(AgentCase.case_id) > after) if after else select(AgentCase)
    query = visible(start, principal, AgentCase.village_code, case_number=AgentCase.case_id)
    if status:
        query = query.where(AgentCase.status == status)
    return await keyset_page(session, query, AgentCase.case_id, after=after, limit=limit)


async def hand_up(session: AsyncSession, principal: Principal, case_id: str) -> AgentCase:
    """Hand the case up to the village's town hall; the same case number goes up."""
    case = await _own_case(session, principal, case_id)
    if case.status != CaseStatus.collected:
        raise Conflict(
            f"Case {case_id} is {case.status}; only a collected case is handed up", slug="case-not-collected"
        )
    town = ancestor_at(case.village_code, Level.town)
    # Guarded: of two hand-ups at once, one moves the case (and announces it); the other is a 409.
    await guarded_update(session, case, status=CaseStatus.handed_up, current_org=town, updated_at=utcnow())
    events.case_handed_up(session, case, handed_by=principal.username)
    await session.flush()
    return case


async def deliver(session: AsyncSession, principal: Principal, case_id: str, method: str) -> AgentCase:
    """Record that the decision reached the villager (送达)."""
    case = await _own_case(session, principal, case_id)
    if case.status == CaseStatus.delivered:
        raise Conflict(f"Case {case_id} was delivered already", slug="case-already-delivered")
    if case.status != CaseStatus.decided:
        raise Conflict(f"Case {case_id} has no decision to deliver yet", slug="case-not-decided")
    now = utcnow()
    # Guarded: of two deliveries at once, one is recorded (and announced); the other is a 409.
    await guarded_update(
        session,
        case,
        status=CaseStatus.delivered,
        delivered_at=now,
        delivered_by=principal.username,
        delivery_method=method,
        current_org=case.village_code,
        updated_at=now,
    )
    events.case_delivered(session, case)
    await session.flush()
    return case


# ------------------------------------------------------------------------- what other services tell us


async def follow_handoff(session: AsyncSession, case_id: str, *, to_org: str) -> None:
    """A hall handed one of our cases further up: the agent's view follows where it is."""
    case = await session.get(AgentCase, case_id)
    if case is not None and case.status == CaseStatus.handed_up:
        # Guarded like every change: losing to an agent's act fails the event, which is redelivered.
        await guarded_update(session, case, current_org=to_org, updated_at=utcnow())


async def record_decision(session: AsyncSession, case_id: str, *, outcome: str, reason: str | None) -> None:
    """The decision is known: the agent can deliver it to the villager."""
    case = await session.get(AgentCase, case_id)
    if case is not None and case.status in (CaseStatus.collected, CaseStatus.handed_up):
        await guarded_update(
            session,
            case,
            status=CaseStatus.decided,
            outcome=outcome,
            decision_reason=reason,
            updated_at=utcnow(),
        )
