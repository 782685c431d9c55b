"""One-window acceptance (一窗受理): receive, check materials, accept with a receipt or list every gap
at once (一次性告知), and hand a case up, hall by hall (town → county → city), to the level that
decides it."""

from __future__ import annotations

import logging
import uuid
from datetime import date

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.intake import events, receipts
from services.intake.models import IntakeCase, OneTimeNotice, Receipt, ReceiptPrint
from shared.auth import Principal, Role, require_roles
from shared.case_sequences import next_case_number
from shared.case_status import STATUS_ORDER, CaseStatus
from shared.clock import utcnow
from shared.db import insert_row
from shared.divisions import Level, ancestor_at, in_subtree, level_of, parent_of
from shared.errors import Conflict, Forbidden, NotFound
from shared.events.types import CaseHandedUpV1
from shared.item_copies import ensure_offered_at, published_item
from shared.jurisdiction import governed_or_404, visible
from shared.pagination import Page, keyset_page
from shared.personal_data import applicant_of, lookup_hash
from shared.schemas import CaseSubmission
from shared.transitions import guarded_update
from shared.workdays import add_working_days

log = logging.getLogger("weimin.intake")

# The levels that run a service hall with windows (the village has a station and an agent instead).
HALL_LEVELS = (Level.town, Level.county, Level.city)
# Lowest first: an item decided at a level at or below the hall's is decided at the hall itself.
_LEVEL_ORDER = [Level.village, Level.town, Level.county, Level.city, Level.province]


def _require_hall_clerk(principal: Principal) -> None:
    require_roles(principal, Role.clerk)
    if level_of(principal.org_code) not in HALL_LEVELS:
        raise Forbidden("Only a clerk of a town, county or city hall works a window", slug="not-a-hall-clerk")


async def receive_walk_in(
    session: AsyncSession, principal: Principal, submission: CaseSubmission, today: date
) -> IntakeCase:
    """A citizen at the window: the case number is minted at this hall."""
    _require_hall_clerk(principal)
    item = await published_item(session, submission.item_code)
    ensure_offered_at(item, principal.org_code)
    case = IntakeCase(
        case_id=await next_case_number(session, principal.org_code, today),
        item_code=item.item_code,
        item_name=item.name,
        item_version=item.version_no,
        required_materials=item.required_materials(),
        deciding_level=item.deciding_level,
        promised_days=item.promised_days,
        origin_org=principal.org_code,
        current_org=principal.org_code,
        channel="walk_in",
        status=CaseStatus.received,
        applicant_name=submission.applicant.name,
        applicant_id_number=submission.applicant.id_number,
        applicant_phone=submission.applicant.phone,
        applicant_id_number_hash=lookup_hash(submission.applicant.id_number),
        materials=sorted({m.name for m in submission.materials}),
        first_officer=principal.username,
    )
    await insert_row(session, case)
    events.case_received(session, case)
    return case


async def receive_handoff(session: AsyncSession, payload: CaseHandedUpV1) -> IntakeCase | None:
    """A case handed up from a village station arrives at the town hall with its case number (and its
    applicant, sealed in the event: opened here to be sealed again in this service's own columns)."""
    if await session.get(IntakeCase, payload.case_id) is not None:
        return None
    applicant = applicant_of(payload.case_id, payload)
    # The agent took it while the item was live: a retirement since then does not strand the case.
    item = await published_item(session, payload.item_code, allow_retired=True)
    case = IntakeCase(
        case_id=payload.case_id,
        item_code=item.item_code,
        item_name=item.name,
        item_version=item.version_no,
        required_materials=item.required_materials(),
        deciding_level=item.deciding_level,
        promised_days=item.promised_days,
        origin_org=payload.origin_org,
        current_org=payload.to_org,
        channel="handoff",
        status=CaseStatus.received,
        applicant_name=applicant.name,
        applicant_id_number=applicant.id_number,
        applicant_phone=applicant.phone,
        applicant_id_number_hash=lookup_hash(applicant.id_number),
        materials=sorted(set(payload.materials)),
    )
    session.add(case)
    events.case_received(session, case)
    await session.flush()
    return case


async def get_case(
    session: AsyncSession, principal: Principal, case_id: str, *, for_update: bool = False
) -> IntakeCase:
    """A case the caller may see: it is or was at a unit of their subtree; otherwise not found.

    Every hall a case passed through is an ancestor of the unit that first received it, so the
    origin and the current hall between them name every unit it has been at. ``for_update`` locks
    the row (PostgreSQL) for an act on it; SQLite's ``BEGIN IMMEDIATE`` serialises writers anyway.
    """
    case = await session.get(IntakeCase, case_id, with_for_update=for_update or None)
    units = (case.current_org, case.origin_org) if case else ()
    return governed_or_404(case, principal, *units, what=f"case {case_id}")


async def list_cases(
    session: AsyncSession, principal: Principal, *, status: CaseStatus | None, after: str | None, limit: int
) -> Page[IntakeCase]:
    # The cursor's bound first: SQLite walks the case numbers from the first lower bound it is given
    # (the subtree's lower bound would make a deep page walk from the subtree's first case).
    start = select(IntakeCase).where(col(IntakeCase.case_id) > after) if after else select(IntakeCase)
    query = visible(
        start,
        principal,
        IntakeCase.current_org,
        IntakeCase.origin_org,
        case_number=IntakeCase.case_id,
    )
    if status:
        query = query.where(IntakeCase.status == status)
    return await keyset_page(session, query, IntakeCase.case_id, after=after, limit=limit)


async def _case_at_my_hall(session: AsyncSession, principal: Principal, case_id: str) -> IntakeCase:
    _require_hall_clerk(principal)
    # Locked (PostgreSQL; SQLite has one writer): a second clerk acting at once waits, then sees what
    # the first did. Every act still writes through a guarded update, which holds whatever the read did.
    case = await get_case(session, principal, case_id, for_update=True)
    if case.current_org != principal.org_code:
        raise Conflict(
            f"Case {case_id} is at {case.current_org}, not at your hall", slug="case-not-at-your-hall"
        )
    if case.first_officer is None:
        case.first_officer = principal.username  # 首问负责: the first officer to act owns it
    return case


async def open_notice(session: AsyncSession, case_id: str) -> OneTimeNotice | None:
    query = select(OneTimeNotice).where(
        OneTimeNotice.case_id == case_id, col(OneTimeNotice.resolved_at).is_(None)
    )
    return (await session.exec(query)).first()


async def accept(
    session: AsyncSession, principal: Principal, case_id: str, presented: list[str], today: date
) -> tuple[Receipt | None, OneTimeNotice | None]:
    """Check the materials: complete → accepted with a receipt; otherwise ONE notice listing every gap.

    A supplement that still leaves gaps gets the same notice back, never a second list.
    """
    case = await _case_at_my_hall(session, principal, case_id)
    if case.status not in (CaseStatus.received, CaseStatus.incomplete):
        raise Conflict(
            f"Case {case_id} is {case.status}; it cannot be accepted again", slug="case-not-pending"
        )
    materials = sorted(set(case.materials) | set(presented))
    missing = [name for name in case.required_materials if name not in materials]
    notice = await open_notice(session, case_id)
    if missing:
        # Guarded: of two checks at once one notes the gaps; the other waited for the row (PostgreSQL's
        # lock, SQLite's single writer) and gets the same notice back, or a 409 if it slipped past.
        await guarded_update(session, case, status=CaseStatus.incomplete, materials=materials)
        if notice is None:
            notice = OneTimeNotice(
                notice_id=uuid.uuid4().hex[:16],
                case_id=case_id,
                missing=missing,
                issued_by=principal.username,
            )
            session.add(notice)
            events.case_notice_issued(session, case, notice)
        await session.flush()
        return None, notice
    if notice is not None:
        notice.resolved_at = utcnow()
        session.add(notice)
    return await _accept_complete(session, principal, case, today, materials), None


def _deciding_org(hall: str, deciding_level: str) -> str:
    """The unit whose hall decides an item accepted at ``hall``: the hall itself when the item is
    decided at its level or below, otherwise its ancestor at the deciding level (county, city)."""
    level, here = Level(deciding_level), level_of(hall)
    if _LEVEL_ORDER.index(level) <= _LEVEL_ORDER.index(here):
        return hall
    return ancestor_at(hall, level)


async def _accept_complete(
    session: AsyncSession, principal: Principal, case: IntakeCase, today: date, materials: list[str]
) -> Receipt:
    # The promised date counts from the acceptance date printed on the receipt (the day after it is day 1).
    now = utcnow()
    deadline = add_working_days(today, case.promised_days)
    deciding_org = _deciding_org(case.current_org, case.deciding_level)
    # Guarded: of two clerks accepting at once, one issues the receipt (and announces it); the other
    # is a 409, never a second receipt.
    await guarded_update(
        session,
        case,
        status=CaseStatus.accepted,
        materials=materials,
        accepted_at=now,
        deciding_org=deciding_org,
        due=deadline.due,
        due_provisional=deadline.provisional,
    )
    receipt = Receipt(
        receipt_no="R" + case.case_id.replace("-", ""),
        case_id=case.case_id,
        item_code=case.item_code,
        item_name=case.item_name,
        org_code=case.current_org,
        accepted_on=today,
        due=deadline.due,
        due_provisional=deadline.provisional,
        officer=principal.username,
        evaluation_code=receipts.new_evaluation_code(),
    )
    session.add(receipt)
    events.case_accepted(session, case, receipt, deciding_org=deciding_org, accepted_at=now)
    await session.flush()
    return receipt


async def hand_up(session: AsyncSession, principal: Principal, case_id: str) -> IntakeCase:
    """Send an accepted case to the hall directly above this one (town → county → city), never past
    the level that decides it. The upper hall receives the same case number and, when the item is
    decided higher still, hands it up again in turn."""
    case = await _case_at_my_hall(session, principal, case_id)
    if case.status != CaseStatus.accepted:
        raise Conflict(
            f"Case {case_id} is {case.status}; accept it before handing it up", slug="case-not-accepted"
        )
    here, deciding = case.current_org, case.deciding_org or case.current_org
    above = parent_of(here)
    # The hall above must still lie within the deciding unit (at it or below): never past it.
    if deciding == here or above is None or not in_subtree(deciding, above):
        raise Conflict(
            f"Case {case_id} is decided at {deciding}; it does not go up from {here}", slug="decided-here"
        )
    # Guarded: of two hand-ups at once, one moves the case (and announces it); the other is a 409.
    await guarded_update(session, case, current_org=above)
    events.case_handed_up(session, case, from_org=here, handed_by=principal.username)
    events.case_received(session, case, channel="handoff")
    await session.flush()
    return case


async def receipt_of(session: AsyncSession, case_id: str) -> Receipt | None:
    return (await session.exec(select(Receipt).where(Receipt.case_id == case_id))).first()


async def get_receipt(session: AsyncSession, principal: Principal, case_id: str) -> Receipt:
    """The receipt (受理凭证) of a case the caller may see; none before acceptance."""
    await get_case(session, principal, case_id)
    receipt = await receipt_of(session, case_id)
    if receipt is None:
        raise NotFound(f"Case {case_id} has not been accepted", slug="receipt-not-found")
    return receipt


async def print_receipt(
    session: AsyncSession, principal: Principal, case_id: str
) -> tuple[Receipt, ReceiptPrint, int]:
    """The receipt to print for the applicant, with its rating code: only a clerk of the hall that
    accepted the case prints it. Each printing is recorded (who, where, when) and logged; the answer
    holds the receipt, the record and which printing this is (1 = the first, more = a reprint)."""
    receipt = await get_receipt(session, principal, case_id)
    _require_hall_clerk(principal)
    if principal.org_code != receipt.org_code:
        raise Forbidden(
            f"Case {case_id} was accepted at {receipt.org_code}; its receipt is printed there",
            slug="not-the-accepting-hall",
        )
    printed = ReceiptPrint(
        case_id=case_id,
        receipt_no=receipt.receipt_no,
        printed_by=principal.username,
        org_code=principal.org_code,
    )
    session.add(printed)
    await session.flush()
    printings = select(func.count()).select_from(ReceiptPrint).where(ReceiptPrint.case_id == case_id)
    copy_no = int((await session.exec(printings)).one())
    log.info(
        "receipt.printed case_id=%s receipt_no=%s copy=%d by=%s org_code=%s",
        case_id,
        receipt.receipt_no,
        copy_no,
        principal.username,
        principal.org_code,
    )
    return receipt, printed, copy_no


# ------------------------------------------------------------------------- what other services tell us


async def record_decision(session: AsyncSession, case_id: str, *, outcome: str) -> None:
    """The deciding hall decided the case: the windows show it decided. A late or redelivered
    decision never moves a case back (a delivered case stays delivered)."""
    case = await session.get(IntakeCase, case_id)
    if case is None or STATUS_ORDER.index(case.status) >= STATUS_ORDER.index(CaseStatus.decided):
        return
    # Guarded like every change: if a clerk's act wins the row meanwhile, this event fails and is
    # redelivered, and applied to the case as that act left it.
    await guarded_update(session, case, status=CaseStatus.decided, outcome=outcome)
