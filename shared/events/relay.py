"""The outbox relay: publishes a service's committed events to JetStream, then marks them sent.

``Nats-Msg-Id`` is the event id, so a batch republished after a crash (published, not yet marked)
is dropped by JetStream's duplicate window: each event is stored in the stream once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from shared.clock import utcnow
from shared.db import session_scope
from shared.events.nats_link import NatsLink
from shared.events.outbox import OutboxEvent

log = logging.getLogger("weimin.relay")

MAX_IN_FLIGHT = 128


class OutboxRelay:
    def __init__(
        self, engine: AsyncEngine, link: NatsLink, *, batch_size: int = 500, poll_seconds: float = 0.2
    ):
        self.engine = engine
        self.link = link
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

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

    async def _pending(self) -> list[tuple[int, str, str, str]]:
        async with session_scope(self.engine) as session:
            rows = (
                await session.exec(
                    select(OutboxEvent)
                    .where(col(OutboxEvent.published_at).is_(None))
                    .order_by(col(OutboxEvent.seq))
                    .limit(self.batch_size)
                )
            ).all()
            return [(r.seq or 0, r.event_id, r.nats_subject, r.envelope) for r in rows]

    async def _mark_published(self, seqs: list[int]) -> None:
        async with session_scope(self.engine) as session:
            await session.exec(  # type: ignore[call-overload]
                update(OutboxEvent).where(col(OutboxEvent.seq).in_(seqs)).values(published_at=utcnow())
            )

    async def publish_pending(self) -> int:
        """Publish one batch; returns how many were published (and marked)."""
        js = await self.link.jetstream()
        rows = await self._pending()
        if not rows:
            return 0
        gate = asyncio.Semaphore(MAX_IN_FLIGHT)

        async def publish(row: tuple[int, str, str, str]) -> Any:
            _, event_id, subject, body = row
            async with gate:
                return await js.publish(subject, body.encode(), headers={"Nats-Msg-Id": event_id}, timeout=5)

        results = await asyncio.gather(*(publish(r) for r in rows), return_exceptions=True)
        done = [
            row[0] for row, result in zip(rows, results, strict=True) if not isinstance(result, BaseException)
        ]
        if done:
            await self._mark_published(done)
        failed = len(rows) - len(done)
        if failed:
            first = next(r for r in results if isinstance(r, BaseException))
            log.warning("%d of %d events not published yet (%r); will retry", failed, len(rows), first)
        return len(done)

    async def run(self) -> None:
        while True:
            try:
                published = await self.publish_pending()
                if published == self.batch_size:
                    continue
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
                except TimeoutError:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the relay must outlive any one failure
                log.exception("outbox relay failed; retrying")
                await asyncio.sleep(1)
