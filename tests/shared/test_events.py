"""The outbox, the relay and the inbox against a real nats-server and real SQLite files."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import nats
from sqlalchemy import update
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.catalogue import service as catalogue
from services.catalogue.schemas import ItemUpsert, MaterialSpec
from shared import migrations
from shared.db import make_engine, session_scope
from shared.events import Envelope, OutboxEvent, emit
from shared.events.consumer import EventConsumer, Subscription
from shared.events.nats_link import NatsLink
from shared.events.relay import OutboxRelay
from tests.support import NatsServer, create_test_tables, settings_for

STREAM = "WEIMIN"


def _engine(directory: Path):  # type: ignore[no-untyped-def]
    """The catalogue's real database (its migrations), in the test's own directory."""
    settings = settings_for(directory)
    migrations.upgrade("catalogue", settings)
    return make_engine("catalogue", settings)


async def _stream_messages(url: str, subject: str) -> list[tuple[str, dict]]:
    """Every message stored in the stream on ``subject``: (Nats-Msg-Id, envelope)."""
    client = await nats.connect(url)
    try:
        js = client.jetstream()
        info = await js.stream_info(STREAM)
        found = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            try:
                msg = await js.get_msg(STREAM, seq)
            except Exception:  # noqa: BLE001 - deleted sequence
                continue
            if msg.subject == subject:
                found.append(((msg.headers or {}).get("Nats-Msg-Id", ""), json.loads(msg.data or b"{}")))
        return found
    finally:
        await client.close()


async def _wait_until(predicate, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.1)
    return False


async def _unpublished(engine) -> int:  # type: ignore[no-untyped-def]
    async with AsyncSession(engine) as session:
        rows = await session.exec(select(OutboxEvent).where(OutboxEvent.published_at == None))  # noqa: E711
        return len(rows.all())


async def test_event_committed_while_nats_is_down_is_published_exactly_once_after_it_returns(
    tmp_path: Path,
) -> None:
    server = NatsServer(tmp_path / "nats").start()
    engine = _engine(tmp_path / "catalogue")

    async def scenario() -> list[tuple[str, dict]]:
        link = NatsLink(server.url, STREAM, name="test-relay")
        link.start()
        await link.jetstream()
        relay = OutboxRelay(engine, link, poll_seconds=0.1)
        relay.start()
        try:
            await asyncio.to_thread(server.stop)
            # The state change and its event commit together while NATS is down.
            async with session_scope(engine) as session:
                await catalogue.publish_item(
                    session,
                    item_code="T-1",
                    data=ItemUpsert(
                        name="临时救助", deciding_level="town", materials=[MaterialSpec(name="申请书")]
                    ),
                )
            await asyncio.sleep(1.5)
            assert await _unpublished(engine) == 1, "nothing may be marked sent while NATS is down"
            await asyncio.to_thread(server.start)

            async def drained() -> bool:
                return await _unpublished(engine) == 0

            assert await _wait_until(drained), "the event waited, then went out"
            # A relay that crashed after publishing but before marking sends the batch again:
            async with session_scope(engine) as session:
                await session.exec(update(OutboxEvent).values(published_at=None))  # type: ignore[call-overload]
            await relay.publish_pending()
            return await _stream_messages(server.url, "weimin.catalogue.item.published")
        finally:
            await relay.stop()
            await link.close()

    try:
        stored = await scenario()
    finally:
        server.stop()
    async with AsyncSession(engine) as session:
        event_id = (await session.exec(select(OutboxEvent))).one().event_id
    await engine.dispose()
    assert [msg_id for msg_id, _ in stored] == [event_id]
    assert stored[0][1]["type"] == "item.published" and stored[0][1]["subject"] == "T-1"
    assert stored[0][1]["specversion"] == "1.0" and stored[0][1]["traceparent"].startswith("00-")


class Tally(SQLModel, table=True):
    """A deliberately non-idempotent effect: the count of times a handler ran."""

    __tablename__ = "test_tally"
    name: str = Field(primary_key=True)
    count: int = 0


async def _count(session: AsyncSession, envelope: Envelope) -> None:
    row = await session.get(Tally, envelope.subject) or Tally(name=envelope.subject or "")
    row.count += 1
    session.add(row)


async def test_consumer_that_receives_the_same_event_twice_applies_it_once(
    tmp_path: Path, nats_url: str
) -> None:
    engine = _engine(tmp_path / "consumer")
    await create_test_tables(engine, Tally)
    source = f"test{uuid.uuid4().hex[:8]}"
    subject = f"weimin.{source}.thing.happened"
    envelope = Envelope(source=source, type="thing.happened", subject="once")
    other = Envelope(source=source, type="thing.happened", subject="other")

    async def scenario() -> None:
        link = NatsLink(nats_url, STREAM, name="test-consumer")
        link.start()
        js = await link.jetstream()
        # The same event delivered twice (e.g. republished after the duplicate window), then another.
        for env in (envelope, envelope, other):
            await js.publish(subject, env.model_dump_json().encode())
        consumer = EventConsumer(
            engine, link, Subscription(durable=f"tally-{source}", handlers={subject: _count})
        )
        consumer.start()
        try:

            async def applied() -> bool:
                async with AsyncSession(engine) as session:
                    return await session.get(Tally, "other") is not None

            assert await _wait_until(applied)
        finally:
            await consumer.stop()
            await link.close()

    await scenario()
    async with AsyncSession(engine) as session:
        assert (await session.get(Tally, "once")).count == 1  # type: ignore[union-attr]
        assert (await session.get(Tally, "other")).count == 1  # type: ignore[union-attr]
    await engine.dispose()


async def test_emit_writes_the_event_in_the_callers_transaction(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "tx")
    try:
        async with session_scope(engine) as session:
            emit(session, source="catalogue", type="item.published", subject="X", data={"item_code": "X"})
            raise RuntimeError("the state change fails")
    except RuntimeError:
        pass
    assert await _unpublished(engine) == 0, "a rolled-back change leaves no event behind"
    await engine.dispose()
