"""The outbox, the relay and the inbox against a real nats-server and real SQLite files."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import nats
from sqlalchemy import update
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.catalogue import service as catalogue
from services.catalogue.schemas import ItemUpsert, MaterialSpec
from shared import migrations
from shared.clock import utcnow
from shared.db import make_engine, session_scope
from shared.events import Envelope, OutboxEvent, emit, nats_link
from shared.events.archive import archive_stream, read_archive
from shared.events.consumer import EventConsumer, Subscription
from shared.events.nats_link import NatsLink, ensure_stream
from shared.events.outbox import DeadLetter
from shared.events.relay import OutboxRelay
from tests.support import NatsServer, create_test_tables, settings_for

STREAM = "WEIMIN"


@contextmanager
def _stream_subjects(subjects: list[str]) -> Iterator[None]:
    saved = nats_link.STREAM_SUBJECTS
    nats_link.STREAM_SUBJECTS = subjects
    try:
        yield
    finally:
        nats_link.STREAM_SUBJECTS = saved


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


async def test_an_event_that_never_fits_is_parked_and_the_relay_carries_on(
    tmp_path: Path, nats_url: str
) -> None:
    """A 1.1 MB event is larger than the server's max payload: today it was retried forever (a warning
    every 0.2 s) and the timeline never showed it. It is parked with the reason; the next one goes out."""
    engine = _engine(tmp_path / "parked")
    source = f"test{uuid.uuid4().hex[:8]}"
    async with session_scope(engine) as session:
        emit(session, source=source, type="case.delivered", subject="huge", data={"method": "x" * 1_100_000})
        emit(session, source=source, type="case.delivered", subject="small", data={"method": "agent"})
    link = NatsLink(nats_url, STREAM, name="test-parking")
    link.start()
    relay = OutboxRelay(engine, link)
    try:
        await link.jetstream()
        assert await relay.publish_pending() == 2, "both left the outbox: one published, one parked"
        assert await relay.publish_pending() == 0, "nothing is retried"
        assert relay.parked_total == 1
        assert await relay.backlog() == {"pending": 0, "dead_letters": 1}
    finally:
        await relay.stop()
        await link.close()
    async with AsyncSession(engine) as session:
        [parked] = (await session.exec(select(DeadLetter))).all()
    assert json.loads(parked.envelope)["subject"] == "huge" and "max payload" in parked.reason
    stored = await _stream_messages(nats_url, f"weimin.{source}.case.delivered")
    assert [event["subject"] for _, event in stored] == ["small"]
    await engine.dispose()


async def test_published_outbox_rows_are_purged_after_the_retention_and_unpublished_ones_never(
    tmp_path: Path, nats_url: str
) -> None:
    engine = _engine(tmp_path / "purge")
    source = f"test{uuid.uuid4().hex[:8]}"
    async with session_scope(engine) as session:
        emit(session, source=source, type="case.received", subject="sent", data={})
    link = NatsLink(nats_url, STREAM, name="test-purge")
    link.start()
    relay = OutboxRelay(engine, link, retention_days=7)
    try:
        await link.jetstream()
        await relay.publish_pending()
        async with session_scope(engine) as session:
            emit(session, source=source, type="case.received", subject="waiting", data={})
        assert await relay.purge_published() == 0, "a fresh published row stays for the retention"
        assert await relay.purge_published(now=utcnow() + timedelta(days=8)) == 1
    finally:
        await relay.stop()
        await link.close()
    async with AsyncSession(engine) as session:
        left = [row.envelope for row in (await session.exec(select(OutboxEvent))).all()]
    assert [json.loads(e)["subject"] for e in left] == ["waiting"]
    await engine.dispose()


async def test_the_stream_keeps_events_for_a_deliberate_retention(nats_url: str) -> None:
    stream = f"RETAIN{uuid.uuid4().hex[:6].upper()}"
    client = await nats.connect(nats_url)
    try:
        js = client.jetstream()
        # ensure_stream owns the stream's subjects; give this one subjects of its own.
        with _stream_subjects([f"retain.{stream}.>"]):
            await ensure_stream(js, stream, max_age_days=365)
            assert (await js.stream_info(stream)).config.max_age == 365 * 24 * 3600
            await ensure_stream(js, stream, max_age_days=30)  # a changed setting is applied
            assert (await js.stream_info(stream)).config.max_age == 30 * 24 * 3600
        await js.delete_stream(stream)
    finally:
        await client.close()


async def test_archiving_writes_each_event_once_in_order(tmp_path: Path) -> None:
    server = NatsServer(tmp_path / "nats").start()
    try:
        link = NatsLink(server.url, STREAM, name="test-archive")
        link.start()
        js = await link.jetstream()
        for n in range(3):
            envelope = Envelope(source="intake", type="case.received", subject=f"C-{n}")
            await js.publish(envelope.nats_subject, envelope.model_dump_json().encode())
        first = await archive_stream(server.url, STREAM, tmp_path / "archive")
        assert (first.written, first.first_seq, first.last_seq) == (3, 1, 3)
        again = await archive_stream(server.url, STREAM, tmp_path / "archive")
        assert again.written == 0, "a second run writes nothing twice"
        later = Envelope(source="intake", type="case.accepted", subject="C-3")
        await js.publish(later.nats_subject, later.model_dump_json().encode())
        third = await archive_stream(server.url, STREAM, tmp_path / "archive")
        assert (third.written, third.first_seq) == (1, 4)
        await link.close()
    finally:
        server.stop()
    archived = [
        row for path in sorted((tmp_path / "archive").glob("*.jsonl.gz")) for row in read_archive(path)
    ]
    assert [row["event"]["subject"] for row in archived] == ["C-0", "C-1", "C-2", "C-3"]
    assert [row["seq"] for row in archived] == [1, 2, 3, 4]
