"""One case's chain of events shares one W3C trace: request → event → consumer → next event."""

from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared import migrations
from shared.db import make_engine
from shared.events import Envelope, OutboxEvent, emit
from shared.events.consumer import Subscription, apply_once
from shared.tracing import current_traceparent
from tests.support import settings_for

INCOMING = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_events_continue_the_callers_trace() -> None:
    token = current_traceparent.set(INCOMING)
    try:
        envelope = Envelope(source="intake", type="case.accepted")
    finally:
        current_traceparent.reset(token)
    assert envelope.traceparent[3:35] == INCOMING[3:35]
    assert envelope.traceparent != INCOMING, "each event is a span of its own"
    assert Envelope(source="intake", type="case.accepted").traceparent[3:35] != INCOMING[3:35]


async def test_events_a_consumer_causes_continue_the_consumed_events_trace(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    migrations.upgrade("approval", settings)
    engine = make_engine("approval", settings)

    async def react(session: AsyncSession, envelope: Envelope) -> None:
        emit(session, source="approval", type="case.decided", subject=envelope.subject, data={})

    incoming = Envelope(source="intake", type="case.accepted", subject="C", traceparent=INCOMING)
    subscription = Subscription(durable="approval", handlers={"weimin.intake.case.accepted": react})
    assert await apply_once(
        engine, subscription, "weimin.intake.case.accepted", incoming.model_dump_json().encode()
    )
    async with AsyncSession(engine) as session:
        caused = json.loads((await session.exec(select(OutboxEvent))).one().envelope)
    await engine.dispose()
    assert caused["traceparent"][3:35] == INCOMING[3:35]
