"""The outbox relay: publishes a service's committed events to JetStream, then marks them sent.

``Nats-Msg-Id`` is the event id, so a batch republished after a crash (published, not yet marked)
is dropped by JetStream's duplicate window: each event is stored in the stream once.

An event that can never be published (larger than the server's max payload) is parked in the
``outbox_dead_letter`` table with the reason, logged once, and counted; the relay carries on with the
rest. Published rows are purged after ``outbox_retention_days``: the stream keeps the history, and
the outbox keeps no personal data longer than it must.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from nats.errors import MaxPayloadError
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from shared.clock import utcnow
from shared.db import reader, session_scope, writer_turn
from shared.events.nats_link import NatsLink
from shared.events.outbox import DeadLetter, OutboxEvent

log = logging.getLogger("weimin.relay")

MAX_IN_FLIGHT = 128
# After a wake-up the relay waits this long before reading the outbox, so the commits of a burst of
# requests go out in one read, one batch of publishes and one update instead of one each.
COALESCE_SECONDS = 0.004
HEADER_ALLOWANCE = 256  # the Nats-Msg-Id header and protocol framing, beside the body
PURGE_EVERY_SECONDS = 600


_OUTBOX = OutboxEvent.__table__  # type: ignore[attr-defined]
_PENDING = (
    select(
        _OUTBOX.c.seq, _OUTBOX.c.event_id, _OUTBOX.c.nats_subject, _OUTBOX.c.envelope, _OUTBOX.c.created_at
    )
    .where(_OUTBOX.c.published_at.is_(None))
    .order_by(_OUTBOX.c.seq)
    .limit(bindparam("limit"))
)


@dataclass(frozen=True)
class _Row:
    seq: int
    event_id: str
    subject: str
    body: str
    created_at: datetime


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        link: NatsLink,
        *,
        batch_size: int = 500,
        poll_seconds: float = 0.2,
        retention_days: float = 7,
    ):
        self.engine = engine
        self._reader = reader(engine)
        self.link = link
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.retention = timedelta(days=retention_days)
        self.parked_total = 0  # dead letters this process parked (also counted in the table)
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._last_purge = 0.0

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self.run(), name="outbox-relay")

    def notify(self) -> None:
        """Wake the relay now (callable from any thread, e.g. after a request's commit)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass

    async def _pending(self) -> list[_Row]:
        # Plain rows, no ORM objects: the relay reads every event once, at the create rate.
        async with self._reader.connect() as conn:
            rows = (await conn.execute(_PENDING, {"limit": self.batch_size})).all()
            await conn.rollback()
        return [_Row(*row) for row in rows]

    async def _mark_published(self, seqs: list[int]) -> None:
        async with writer_turn(self.engine), self.engine.begin() as conn:
            await conn.execute(
                update(OutboxEvent).where(col(OutboxEvent.seq).in_(seqs)).values(published_at=utcnow())
            )

    async def _park(self, parked: list[tuple[_Row, str]]) -> None:
        """Move events that can never be published to the dead-letter table, in one transaction."""
        async with session_scope(self.engine) as session:
            for row, reason in parked:
                session.add(
                    DeadLetter(
                        seq=row.seq,
                        event_id=row.event_id,
                        nats_subject=row.subject,
                        envelope=row.body,
                        created_at=row.created_at,
                        reason=reason[:500],
                    )
                )
            await session.exec(  # type: ignore[call-overload]
                delete(OutboxEvent).where(col(OutboxEvent.seq).in_([row.seq for row, _ in parked]))
            )
        for row, reason in parked:
            # One line, no payload: the envelope may hold personal data.
            log.error("parked event %s on %s in the dead-letter table: %s", row.event_id, row.subject, reason)
        self.parked_total += len(parked)

    async def publish_pending(self) -> int:
        """Publish one batch; returns how many were published or parked (and so left the outbox)."""
        js = await self.link.jetstream()
        rows = await self._pending()
        if not rows:
            return 0
        limit = self.link.max_payload - HEADER_ALLOWANCE
        parked = [
            (r, f"{len(r.body.encode())} bytes exceed the server's max payload of {limit}")
            for r in rows
            if len(r.body.encode()) > limit
        ]
        sendable = [r for r in rows if len(r.body.encode()) <= limit]
        gate = asyncio.Semaphore(MAX_IN_FLIGHT)

        async def publish(row: _Row) -> Any:
            async with gate:
                return await js.publish(
                    row.subject, row.body.encode(), headers={"Nats-Msg-Id": row.event_id}, timeout=5
                )

        results = await asyncio.gather(*(publish(r) for r in sendable), return_exceptions=True)
        done = [
            row.seq
            for row, result in zip(sendable, results, strict=True)
            if not isinstance(result, BaseException)
        ]
        refused = [
            (row, f"the server refused it: {result!r}")
            for row, result in zip(sendable, results, strict=True)
            if isinstance(result, MaxPayloadError)
        ]
        parked += refused
        if done:
            await self._mark_published(done)
        if parked:
            await self._park(parked)
        failed = len(sendable) - len(done) - len(refused)
        if failed:
            first = next(
                r for r in results if isinstance(r, BaseException) and not isinstance(r, MaxPayloadError)
            )
            log.warning("%d of %d events not published yet (%r); will retry", failed, len(rows), first)
        return len(done) + len(parked)

    async def purge_published(self, *, now: datetime | None = None) -> int:
        """Delete published rows older than the retention; returns how many went."""
        cutoff = (now or utcnow()) - self.retention
        async with session_scope(self.engine) as session:
            result = await session.exec(  # type: ignore[call-overload]
                delete(OutboxEvent).where(
                    col(OutboxEvent.published_at).is_not(None), col(OutboxEvent.published_at) < cutoff
                )
            )
            return int(result.rowcount or 0)

    async def backlog(self) -> dict[str, int]:
        """What health and metrics show: events waiting to be published, and dead letters."""
        async with self._reader.connect() as conn:
            pending = (
                await conn.execute(
                    select(func.count()).select_from(_OUTBOX).where(_OUTBOX.c.published_at.is_(None))
                )
            ).scalar_one()
            dead = (
                await conn.execute(select(func.count()).select_from(DeadLetter.__table__))  # type: ignore[attr-defined]
            ).scalar_one()
            await conn.rollback()
        return {"pending": int(pending), "dead_letters": int(dead)}

    async def _purge_now_and_then(self) -> None:
        if time.monotonic() - self._last_purge < PURGE_EVERY_SECONDS:
            return
        self._last_purge = time.monotonic()
        purged = await self.purge_published()
        if purged:
            log.info("purged %d published outbox rows older than %s", purged, self.retention)

    async def run(self) -> None:
        while True:
            try:
                published = await self.publish_pending()
                if published == self.batch_size:
                    continue
                await self._purge_now_and_then()
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
                    await asyncio.sleep(COALESCE_SECONDS)
                except TimeoutError:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the relay must outlive any one failure
                log.exception("outbox relay failed; retrying")
                await asyncio.sleep(1)
