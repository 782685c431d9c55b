"""Helpers for the case services' tests (agents, intake, approval, supervision).

Each service gets a real SQLite file with its own tables and the outbox/inbox, exactly as its
``main.py`` creates them. ``Network`` plays the bus: it reads what each service wrote into its outbox
(the relay's job) and feeds those envelopes, as the bytes JetStream would carry, to every service's
real subscription through ``apply_once`` (the consumer's job). Tests call the services' plain
functions and watch what a user would see.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.agents import service as agents_service
from services.agents.events import SUBSCRIPTION as AGENTS_SUBSCRIPTION
from services.agents.models import AgentCase
from services.approval import service as approval_service
from services.approval.events import SUBSCRIPTION as APPROVAL_SUBSCRIPTION
from services.approval.models import ApprovalCase
from services.approval.schemas import DecisionIn, Outcome
from services.intake import service as intake_service
from services.intake.events import SUBSCRIPTION as INTAKE_SUBSCRIPTION
from services.intake.models import IntakeCase, OneTimeNotice, Receipt
from services.supervision.events import SUBSCRIPTION as SUPERVISION_SUBSCRIPTION
from shared import migrations
from shared.auth import Principal
from shared.case_numbers import mint_case_number
from shared.clock import today_cn
from shared.db import make_engine, session_scope
from shared.events import Envelope, EventType, OutboxEvent
from shared.events.consumer import Subscription, apply_once
from shared.events.types import (
    CaseAcceptedV1,
    CaseCollectedV1,
    CaseDecidedV1,
    CaseEvaluatedV1,
    ItemPublishedV1,
    ItemRetiredV1,
    MaterialRef,
)
from shared.item_copies import apply_item_published
from shared.schemas import Applicant, CaseSubmission, MaterialIn
from shared.settings import get_settings
from tests.support import PROBLEM_JSON, assert_problem, bearer, database_url_for, settings_for, villager

# Re-exported: the case services' tests import these from here.
__reexported__ = (PROBLEM_JSON, assert_problem, bearer, villager)

# The demo county: 山东省德州市临邑县, two of its towns and their (illustrative) villages.
COUNTY = "371424000000"
TOWN = "371424100000"  # 临邑镇
OTHER_TOWN = "371424202000"  # 宿安乡
VILLAGE = "371424100201"  # 临邑镇示例东村
NEIGHBOUR_VILLAGE = "371424100202"  # 临邑镇示例西村, same town
FAR_VILLAGE = "371424202201"  # 宿安乡示例南村, the other town
# Another county altogether (云南省昆明市嵩明县 小街镇), for what must never be counted or seen.
FOREIGN_COUNTY = "530127000000"
FOREIGN_TOWN = "530127102000"
FOREIGN_VILLAGE = "530127102201"


def agent(org_code: str, name: str = "") -> Principal:
    return Principal(name or f"agent-{org_code}", ("agent",), org_code)


def clerk(org_code: str, name: str = "") -> Principal:
    return Principal(name or f"clerk-{org_code}", ("clerk",), org_code)


def approver(org_code: str, name: str = "") -> Principal:
    return Principal(name or f"approver-{org_code}", ("approver",), org_code)


def supervisor(org_code: str, name: str = "") -> Principal:
    return Principal(name or f"supervisor-{org_code}", ("supervisor",), org_code)


# ---------------------------------------------------------------------------------------------- items

DIBAO = ItemPublishedV1(
    item_code="LY-MZ-001",
    name="最低生活保障(低保)认定",
    deciding_level="town",
    agent_may_take=True,
    promised_days=10,
    legal_days=30,
    materials=[
        MaterialRef(name="低保申请书"),
        MaterialRef(name="居民身份证"),
        MaterialRef(name="户口簿"),
        MaterialRef(name="家庭收入情况声明"),
        MaterialRef(name="残疾证或病历", required=False),
    ],
)
TEKUN = ItemPublishedV1(
    item_code="LY-MZ-002",
    name="特困人员救助供养认定",
    deciding_level="county",
    agent_may_take=True,
    promised_days=15,
    legal_days=20,
    materials=[
        MaterialRef(name="特困人员救助供养申请书"),
        MaterialRef(name="居民身份证"),
        MaterialRef(name="户口簿"),
        MaterialRef(name="财产状况声明", required=False),
    ],
)
LICENCE = ItemPublishedV1(
    item_code="LY-SC-001",
    name="个体工商户设立登记(营业执照)",
    deciding_level="county",
    agent_may_take=False,
    promised_days=3,
    legal_days=15,
    materials=[
        MaterialRef(name="个体工商户登记申请书"),
        MaterialRef(name="经营者身份证明"),
        MaterialRef(name="经营场所使用证明"),
    ],
)
ITEMS = (DIBAO, TEKUN, LICENCE)


def required(item: ItemPublishedV1) -> list[str]:
    return [m.name for m in item.materials if m.required]


def item_published(item: ItemPublishedV1) -> Envelope:
    """The envelope the catalogue emits when it publishes an item."""
    return Envelope(
        source="catalogue",
        type=str(EventType.item_published),
        subject=item.item_code,
        data=item.model_dump(mode="json"),
    )


def item_retired(item: ItemPublishedV1) -> Envelope:
    return Envelope(
        source="catalogue",
        type=str(EventType.item_retired),
        subject=item.item_code,
        data=ItemRetiredV1(item_code=item.item_code, version_no=item.version_no).model_dump(mode="json"),
    )


def submission(
    item: ItemPublishedV1, materials: list[str], applicant: Applicant | None = None
) -> CaseSubmission:
    return CaseSubmission(
        item_code=item.item_code,
        applicant=applicant or villager(),
        materials=[MaterialIn(name=m) for m in materials],
    )


# ------------------------------------------------------------------------------------------ databases

SUBSCRIPTIONS: dict[str, Subscription] = {
    "agents": AGENTS_SUBSCRIPTION,
    "intake": INTAKE_SUBSCRIPTION,
    "approval": APPROVAL_SUBSCRIPTION,
    "supervision": SUPERVISION_SUBSCRIPTION,
}


def service_engine(directory: Path, service: str) -> AsyncEngine:
    """The service's real database (SQLite file, or a PostgreSQL schema on the postgres test backend),
    brought to head by its migrations exactly as its app does at start."""
    settings = settings_for(directory)
    migrations.upgrade(service, settings)
    return make_engine(service, settings)


async def outbox(engine: AsyncEngine, type_: str | None = None, subject: str | None = None) -> list[Envelope]:
    """Every event a service wrote into its outbox (oldest first), optionally of one type / case."""
    async with AsyncSession(engine) as session:
        rows = (await session.exec(select(OutboxEvent).order_by(col(OutboxEvent.seq)))).all()
    envelopes = [Envelope.model_validate_json(r.envelope) for r in rows]
    return [
        e
        for e in envelopes
        if (type_ is None or e.type == type_) and (subject is None or e.subject == subject)
    ]


class DeliveryFailed(AssertionError):
    pass


@dataclass
class Network:
    """The four case services, each with its own database, chained by their outboxes like the bus."""

    engines: dict[str, AsyncEngine]
    delivered: list[Envelope] = field(default_factory=list)

    @classmethod
    async def create(cls, directory: Path, items: tuple[ItemPublishedV1, ...] = ITEMS) -> Network:
        net = cls({name: service_engine(directory, name) for name in SUBSCRIPTIONS})
        for item in items:
            await net.broadcast(item_published(item))
        return net

    async def close(self) -> None:
        for engine in self.engines.values():
            await engine.dispose()

    @property
    def agents(self) -> AsyncEngine:
        return self.engines["agents"]

    @property
    def intake(self) -> AsyncEngine:
        return self.engines["intake"]

    @property
    def approval(self) -> AsyncEngine:
        return self.engines["approval"]

    @property
    def supervision(self) -> AsyncEngine:
        return self.engines["supervision"]

    # -- the bus ----------------------------------------------------------------------------------

    async def broadcast(self, envelope: Envelope, *, strict: bool = True) -> dict[str, bool]:
        """Deliver one envelope to every service subscribed to its subject, as JetStream would."""
        body = envelope.model_dump_json().encode()
        results = {}
        for name, subscription in SUBSCRIPTIONS.items():
            if subscription.handler_for(envelope.nats_subject) is None:
                continue
            results[name] = await apply_once(self.engines[name], subscription, envelope.nats_subject, body)
            if strict and not results[name]:
                raise DeliveryFailed(f"{name} could not apply {envelope.type} for {envelope.subject}")
        self.delivered.append(envelope)
        return results

    async def pump(self, *, strict: bool = True) -> list[Envelope]:
        """Relay every unpublished outbox event of every service, until no service writes any more."""
        relayed: list[Envelope] = []
        while True:
            batch: list[tuple[str, int, Envelope]] = []
            for name, engine in self.engines.items():
                async with session_scope(engine) as session:
                    rows = (
                        await session.exec(
                            select(OutboxEvent)
                            .where(col(OutboxEvent.published_at).is_(None))
                            .order_by(col(OutboxEvent.seq))
                        )
                    ).all()
                    batch += [(name, r.seq or 0, Envelope.model_validate_json(r.envelope)) for r in rows]
                    if rows:
                        await session.exec(  # type: ignore[call-overload]
                            update(OutboxEvent)
                            .where(col(OutboxEvent.seq).in_([r.seq for r in rows]))
                            .values(published_at=datetime.now(UTC))
                        )
            if not batch:
                return relayed
            for _, _, envelope in sorted(batch, key=lambda b: (b[2].time, b[1])):
                await self.broadcast(envelope, strict=strict)
                relayed.append(envelope)

    # -- what people do -----------------------------------------------------------------------------

    async def collect(
        self,
        item: ItemPublishedV1,
        materials: list[str],
        *,
        by: Principal | None = None,
        applicant: Applicant | None = None,
        today: date | None = None,
    ) -> str:
        async with session_scope(self.agents) as session:
            case = await agents_service.collect_case(
                session, by or agent(VILLAGE), submission(item, materials, applicant), today or today_cn()
            )
            case_id = case.case_id
        await self.pump()
        return case_id

    async def hand_up_from_village(self, case_id: str, *, by: Principal | None = None) -> AgentCase:
        async with session_scope(self.agents) as session:
            case = await agents_service.hand_up(session, by or agent(VILLAGE), case_id)
        await self.pump()
        return case

    async def walk_in(
        self,
        item: ItemPublishedV1,
        materials: list[str],
        *,
        by: Principal | None = None,
        applicant: Applicant | None = None,
        today: date | None = None,
    ) -> str:
        async with session_scope(self.intake) as session:
            case = await intake_service.receive_walk_in(
                session, by or clerk(TOWN), submission(item, materials, applicant), today or today_cn()
            )
            case_id = case.case_id
        await self.pump()
        return case_id

    async def accept(
        self, case_id: str, materials: list[str], *, by: Principal | None = None, today: date | None = None
    ) -> tuple[Receipt | None, OneTimeNotice | None]:
        async with session_scope(self.intake) as session:
            result = await intake_service.accept(
                session, by or clerk(TOWN), case_id, materials, today or today_cn()
            )
        await self.pump()
        return result

    async def hand_up_from_town(self, case_id: str, *, by: Principal | None = None) -> IntakeCase:
        async with session_scope(self.intake) as session:
            case = await intake_service.hand_up(session, by or clerk(TOWN), case_id)
        await self.pump()
        return case

    async def hand_up_from_hall(self, case_id: str, *, by: Principal) -> IntakeCase:
        """A hall's clerk hands the case up to the hall directly above (town → county → city)."""
        async with session_scope(self.intake) as session:
            case = await intake_service.hand_up(session, by, case_id)
        await self.pump()
        return case

    async def decide(
        self, case_id: str, outcome: str = "approved", reason: str | None = None, *, by: Principal
    ) -> ApprovalCase:
        async with session_scope(self.approval) as session:
            case = await approval_service.decide(
                session, by, case_id, DecisionIn(outcome=Outcome(outcome), reason=reason)
            )
        await self.pump()
        return case

    async def deliver(self, case_id: str, *, by: Principal | None = None, method: str = "agent") -> AgentCase:
        async with session_scope(self.agents) as session:
            case = await agents_service.deliver(session, by or agent(VILLAGE), case_id, method)
        await self.pump()
        return case

    # -- whole journeys -----------------------------------------------------------------------------

    async def village_case_at_town(self, item: ItemPublishedV1 = TEKUN, *, village: str = VILLAGE) -> str:
        """A villager's case collected with every material and handed up to the village's town."""
        case_id = await self.collect(item, required(item), by=agent(village))
        await self.hand_up_from_village(case_id, by=agent(village))
        return case_id

    async def accepted_village_case(self, item: ItemPublishedV1 = TEKUN) -> tuple[str, Receipt]:
        case_id = await self.village_case_at_town(item)
        receipt, _ = await self.accept(case_id, [])
        assert receipt is not None
        return case_id, receipt

    async def decided_village_case(self, outcome: str = "approved") -> tuple[str, Receipt]:
        """A county-decided case carried village → town → county, and decided by the county."""
        case_id, receipt = await self.accepted_village_case(TEKUN)
        await self.hand_up_from_town(case_id)
        await self.decide(case_id, outcome, reason="符合特困供养条件", by=approver(COUNTY))
        return case_id, receipt

    async def get(self, service: str, model: type, key: Any) -> Any:
        async with AsyncSession(self.engines[service], expire_on_commit=False) as session:
            return await session.get(model, key)


# -------------------------------------------------------------------- hand-built events for one service

_T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def case_number(org_code: str, sequence: int, day: date = date(2026, 11, 2)) -> str:
    """A well-formed case number minted at ``org_code``, for cases fed to a service as events."""
    return mint_case_number(org_code, day, sequence)


def case_events(
    case_id: str,
    origin: str,
    *,
    deciding_org: str | None = None,
    item_code: str = TEKUN.item_code,
    accepted: bool = True,
    due: date | None = None,
    decided: bool = False,
    on_time: bool = True,
    evaluation_code: str = "C0DE0001",
    start: datetime = _T0,
) -> list[Envelope]:
    """The events a case's life produces (collected, accepted, decided), one hour apart, as services emit."""
    deciding = deciding_org or origin
    due = due or date(2026, 11, 20)
    events = [
        Envelope(
            source="agents",
            type=str(EventType.case_collected),
            subject=case_id,
            time=start,
            data=CaseCollectedV1(
                case_id=case_id,
                org_code=origin,
                item_code=item_code,
                applicant={"name": "张三丰", "id_number": str(villager().id_number)},
                materials=[],
                collected_by=f"agent-{origin}",
            ).model_dump(mode="json"),
        )
    ]
    if accepted:
        events.append(
            Envelope(
                source="intake",
                type=str(EventType.case_accepted),
                subject=case_id,
                time=start + timedelta(hours=1),
                data=CaseAcceptedV1(
                    case_id=case_id,
                    org_code=deciding,
                    item_code=item_code,
                    receipt_no="R" + case_id.replace("-", ""),
                    accepted_by=f"clerk-{deciding}",
                    accepted_at=start + timedelta(hours=1),
                    deciding_org=deciding,
                    promised_days=15,
                    due=due,
                    due_provisional=False,
                    applicant_name="张三丰",
                    origin_org=origin,
                    evaluation_code=evaluation_code,
                ).model_dump(mode="json"),
            )
        )
    if decided:
        events.append(
            Envelope(
                source="approval",
                type=str(EventType.case_decided),
                subject=case_id,
                time=start + timedelta(hours=2),
                data=CaseDecidedV1(
                    case_id=case_id,
                    org_code=deciding,
                    item_code=item_code,
                    outcome="approved",
                    decided_by=f"approver-{deciding}",
                    due=due,
                    on_time=on_time,
                ).model_dump(mode="json"),
            )
        )
    return events


def rating_event(case_id: str, origin: str, rating: int, item_code: str = TEKUN.item_code) -> Envelope:
    return Envelope(
        source="supervision",
        type=str(EventType.case_evaluated),
        subject=case_id,
        time=_T0 + timedelta(hours=3),
        data=CaseEvaluatedV1(
            case_id=case_id,
            org_code=origin,
            item_code=item_code,
            rating=rating,
            rated_by=f"agent-{origin}",
            bad=rating <= 2,
        ).model_dump(mode="json"),
    )


async def feed(engine: AsyncEngine, service: str, envelopes: list[Envelope]) -> None:
    """Feed envelopes to one service's consumer, as the bytes the bus carries."""
    subscription = SUBSCRIPTIONS[service]
    for envelope in envelopes:
        ok = await apply_once(
            engine, subscription, envelope.nats_subject, envelope.model_dump_json().encode()
        )
        if not ok:
            raise DeliveryFailed(f"{service} could not apply {envelope.type} for {envelope.subject}")


# ------------------------------------------------------------------------------------------------ HTTP


@contextmanager
def service_client(
    service: str,
    var_dir: Path,
    nats_url: str,
    *,
    caller: Principal | None = None,
    items: tuple[ItemPublishedV1, ...] = (),
) -> Iterator[TestClient]:
    """The service's real app (lifespan included) on a fresh var dir and the test NATS, with the
    given items in its local copy and the caller's token on every request.

    The app reads its settings when ``main`` is imported, so the module is (re)loaded after the
    environment is set.
    """
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("WEIMIN_VAR_DIR", str(var_dir))
        monkeypatch.setenv("WEIMIN_NATS_URL", nats_url)
        monkeypatch.setenv("WEIMIN_ENVIRONMENT", "test")
        monkeypatch.setenv("WEIMIN_DATABASE_URL", database_url_for(var_dir))
        get_settings.cache_clear()
        module = importlib.reload(importlib.import_module(f"services.{service}.main"))
        try:
            with TestClient(module.app) as client:

                async def seed() -> None:
                    async with session_scope(client.app.state.engine) as session:  # type: ignore[attr-defined]
                        for item in items:
                            await apply_item_published(session, item_published(item))

                client.portal.call(seed)  # type: ignore[union-attr]
                if caller is not None:
                    client.headers.update(bearer(caller))
                yield client
        finally:
            get_settings.cache_clear()


def wait_healthy(client: TestClient, timeout: float = 10.0) -> Any:
    """``/healthz`` once NATS is connected (the link connects in the background)."""
    deadline = time.monotonic() + timeout
    reply = client.get("/healthz")
    while reply.json().get("status") != "ok" and time.monotonic() < deadline:
        time.sleep(0.05)
        reply = client.get("/healthz")
    return reply


def mistyped(case_id: str) -> str:
    """The case number with its last character mistyped: the check character catches it."""
    return case_id[:-1] + ("0" if case_id[-1] != "0" else "1")


MALFORMED_CASE_NUMBER = "urn:weimin:problem:malformed-case-number"


# ------------------------------------------------------------------------- the city above the demo county

CITY = "371400000000"  # 山东省德州市, the city above COUNTY
# A city-decided item (illustrative): a county hands such a case up to its city, hall by hall.
CITY_ITEM = ItemPublishedV1(
    item_code="DZ-YB-001",
    name="大病专项医疗救助审批",
    deciding_level="city",
    agent_may_take=True,
    promised_days=15,
    legal_days=20,
    materials=[
        MaterialRef(name="医疗救助申请书"),
        MaterialRef(name="居民身份证"),
        MaterialRef(name="医疗费用票据"),
        MaterialRef(name="诊断证明", required=False),
    ],
)
