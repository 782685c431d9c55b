"""Approval: the deciding level decides a case it learned of from intake's events, once, with reasons
for a refusal, and against the promised date."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlmodel import Session, select

from services.agents.models import AgentCase
from services.approval import service as approval_service
from services.approval.models import ApprovalCase
from services.approval.routes import _read
from services.approval.schemas import DecisionIn, Outcome
from services.intake.models import IntakeCase
from services.supervision.models import CaseView
from shared.clock import today_cn
from shared.db import session_scope
from shared.errors import Conflict, Forbidden, NotFound
from shared.events.types import CaseDecidedV1
from tests.case_fixtures import (
    COUNTY,
    DIBAO,
    OTHER_TOWN,
    TEKUN,
    TOWN,
    VILLAGE,
    Network,
    approver,
    case_events,
    case_number,
    clerk,
    feed,
    outbox,
    service_engine,
    supervisor,
)


@pytest.fixture
def net(tmp_path: Path) -> Network:
    return Network.create(tmp_path)


def _decide(engine, principal, case_id, outcome="approved", reason=None):  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        return approval_service.decide(
            session, principal, case_id, DecisionIn(outcome=outcome, reason=reason)
        )


def test_approval_learns_of_case_from_intake_events(net: Network) -> None:
    case_id = net.village_case_at_town(TEKUN)
    # Received at the town but not accepted: approval knows nothing of it yet.
    assert net.get("approval", ApprovalCase, case_id) is None
    receipt, _ = net.accept(case_id, [])
    assert receipt is not None
    case = net.get("approval", ApprovalCase, case_id)
    assert case is not None and case.status == "pending"
    # What the receipt promised is what the deciding level works against.
    assert (case.due, case.due_provisional, case.promised_days) == (
        receipt.due,
        receipt.due_provisional,
        TEKUN.promised_days,
    )
    assert (case.origin_org, case.current_org, case.deciding_org) == (VILLAGE, TOWN, COUNTY)
    assert (case.item_code, case.item_name, case.applicant_name) == (TEKUN.item_code, TEKUN.name, "张三丰")
    # The town's hand-up moves it in the county's queue.
    net.hand_up_from_town(case_id)
    assert net.get("approval", ApprovalCase, case_id).current_org == COUNTY
    with Session(net.approval) as session:
        queue = approval_service.list_cases(
            session, approver(COUNTY), status="pending", after=None, limit=10
        ).items
        assert [c.case_id for c in queue] == [case_id]
        assert (
            approval_service.list_cases(session, approver(TOWN), status=None, after=None, limit=10).items
            == []
        )


def test_approval_learns_of_case_from_events_alone(tmp_path: Path) -> None:
    """A fresh approval database fed nothing but intake's events holds the case."""
    approval = service_engine(tmp_path / "fresh", "approval")
    case_id = case_number(VILLAGE, 1)
    accepted = case_events(case_id, VILLAGE, deciding_org=TOWN)[1]
    feed(approval, "approval", [accepted, accepted])  # a redelivery opens nothing twice
    with Session(approval) as session:
        [case] = session.exec(select(ApprovalCase)).all()
    assert (case.case_id, case.deciding_org, case.status) == (case_id, TOWN, "pending")


def test_only_approver_of_deciding_level_decides(net: Network) -> None:
    case_id, _ = net.accepted_village_case(DIBAO)  # the town decides 低保
    # The county governs the town but does not decide the town's items.
    with pytest.raises(Forbidden) as county:
        _decide(net.approval, approver(COUNTY), case_id)
    assert county.value.slug == "not-the-deciding-unit"
    # A clerk or a supervisor of the very town is not an approver.
    for not_approver in (clerk(TOWN), supervisor(TOWN)):
        with pytest.raises(Forbidden):
            _decide(net.approval, not_approver, case_id)
    # Another town's approver does not even see it.
    with pytest.raises(NotFound):
        _decide(net.approval, approver(OTHER_TOWN), case_id)
    assert net.get("approval", ApprovalCase, case_id).status == "pending"
    assert outbox(net.approval) == []

    decided = net.decide(case_id, "approved", by=approver(TOWN))
    assert (decided.status, decided.outcome, decided.decided_by) == (
        "decided",
        "approved",
        f"approver-{TOWN}",
    )
    # The decision reaches the town hall and the village agent.
    assert net.get("intake", IntakeCase, case_id).status == "decided"
    assert net.get("agents", AgentCase, case_id).status == "decided"


def test_decision_waits_until_case_reaches_deciding_hall(net: Network) -> None:
    case_id, _ = net.accepted_village_case(TEKUN)  # accepted at the town; the county decides
    with pytest.raises(Conflict) as waiting:
        _decide(net.approval, approver(COUNTY), case_id)
    assert waiting.value.slug == "case-not-arrived"
    assert net.get("approval", ApprovalCase, case_id).status == "pending"

    net.hand_up_from_town(case_id)
    decided = net.decide(case_id, "approved", by=approver(COUNTY))
    assert decided.status == "decided" and decided.current_org == COUNTY


def test_rejection_requires_reasons(net: Network) -> None:
    for blank in (None, "", "   \n"):
        with pytest.raises(ValidationError):
            DecisionIn(outcome=Outcome.rejected, reason=blank)
    # Approval needs no reason.
    assert DecisionIn(outcome=Outcome.approved).reason is None

    case_id, _ = net.accepted_village_case(DIBAO)
    refused = net.decide(case_id, "rejected", reason="家庭人均收入高于低保标准", by=approver(TOWN))
    assert (refused.outcome, refused.reason) == ("rejected", "家庭人均收入高于低保标准")
    [event] = outbox(net.approval, "case.decided", case_id)
    decided = CaseDecidedV1.model_validate(event.data)
    assert (decided.outcome, decided.reason) == ("rejected", "家庭人均收入高于低保标准")
    # The villager's agent receives the reasons with the refusal.
    assert net.get("agents", AgentCase, case_id).decision_reason == "家庭人均收入高于低保标准"
    assert _read(refused).reason == "家庭人均收入高于低保标准"


def test_case_decided_once(net: Network) -> None:
    case_id, _ = net.accepted_village_case(DIBAO)
    net.decide(case_id, "approved", by=approver(TOWN))
    for outcome, reason in (("approved", None), ("rejected", "改判")):
        with pytest.raises(Conflict) as again:
            _decide(net.approval, approver(TOWN), case_id, outcome, reason)
        assert again.value.slug == "case-already-decided"
    case = net.get("approval", ApprovalCase, case_id)
    assert (case.outcome, case.reason) == ("approved", None)
    assert len(outbox(net.approval, "case.decided", case_id)) == 1
    # A redelivered acceptance does not reopen the decided case.
    accepted = next(e for e in net.delivered if e.type == "case.accepted" and e.subject == case_id)
    feed(net.approval, "approval", [accepted.model_copy(update={"id": "redelivered-as-new-id"})])
    assert net.get("approval", ApprovalCase, case_id).status == "decided"


def test_on_time_flag_against_promised_date(tmp_path: Path) -> None:
    approval = service_engine(tmp_path, "approval")
    today = today_cn()
    due_today, overdue = case_number(TOWN, 1), case_number(TOWN, 2)
    for case_id, due in ((due_today, today), (overdue, today - timedelta(days=1))):
        feed(approval, "approval", case_events(case_id, TOWN, due=due)[1:])

    on_due_date = _decide(approval, approver(TOWN), due_today)
    late = _decide(approval, approver(TOWN), overdue)
    # Decided on the promised date is on time; a day after it is late.
    assert on_due_date.on_time is True
    assert late.on_time is False
    events = {e.subject: CaseDecidedV1.model_validate(e.data) for e in outbox(approval, "case.decided")}
    assert events[due_today].on_time is True and events[overdue].on_time is False
    assert events[overdue].due == today - timedelta(days=1)


def test_decision_reaches_supervision_with_its_timeliness(net: Network) -> None:
    case_id, receipt = net.decided_village_case()
    view = net.get("supervision", CaseView, case_id)
    assert (view.status, view.outcome, view.on_time, view.due) == ("decided", "approved", True, receipt.due)
