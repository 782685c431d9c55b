"""Durable JetStream consumers that apply each event once.

The handler's effect and the inbox row commit in one transaction, then the message is acked. A
redelivered or duplicated event finds its id in the inbox and is acked without a second effect.

A fetched batch is applied in one transaction (one inbox read, the handlers in order, one commit),
so a consumer keeps up with a burst of creates; when anything in it fails, the batch is rolled back
and applied again one event per transaction, so one bad event never holds back the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import session_scope
from shared.events.envelope import Envelope
from shared.events.nats_link import NatsLink
from shared.events.outbox import InboxEvent
from shared.tracing import current_traceparent, valid_traceparent

log = logging.getLogger("weimin.consumer")

WAIT_SECONDS = 5.0  # one long poll for the next event
COALESCE_SECONDS = 0.005  # then a moment for the rest of a burst
DRAIN_SECONDS = 0.02  # and what has arrived meanwhile

# A handler only delegates to a ``service.py`` function; it runs in the consumer's transaction.
Handler = Callable[[AsyncSession, Envelope], Awaitable[None]]


@dataclass
class Subscription:
    """What one service consumes: a durable name, NATS subjects, and a handler per event type."""

    durable: str
    handlers: dict[str, Handler]  # NATS subject (exact, e.g. weimin.intake.case.accepted) -> handler
    catch_all: Handler | None = None  # with subjects=["weimin.>"]: every event goes here
    subjects: list[str] | None = None

    def filter_subjects(self) -> list[str]:
        return self.subjects or sorted(self.handlers)

    def handler_for(self, subject: str) -> Handler | None:
        return self.handlers.get(subject) or self.catch_all


async def apply_once(engine: AsyncEngine, subscription: Subscription, subject: str, body: bytes) -> bool:
    """Apply one message; True when it may be acked (applied now, before, or unreadable)."""
    try:
        envelope = Envelope.model_validate_json(body)
    except ValidationError:
        log.error("dropping unreadable event on %s", subject)
        return True
    handler = subscription.handler_for(subject)
    if handler is None:
        return True
    # Events this one causes continue its trace.
    current_traceparent.set(valid_traceparent(envelope.traceparent))
    try:
        async with session_scope(engine) as session:
            if await session.get(InboxEvent, (subscription.durable, envelope.id)) is not None:
                return True
            await handler(session, envelope)
            session.add(InboxEvent(consumer=subscription.durable, event_id=envelope.id, type=envelope.type))
    except IntegrityError:
        # Another replica applied it in the meantime (the inbox key is taken): already applied.
        return True
    except Exception:  # noqa: BLE001
        log.exception("applying %s %s failed; it will be redelivered", envelope.type, envelope.id)
        return False
    return True


async def apply_batch(
    engine: AsyncEngine, subscription: Subscription, messages: list[tuple[str, bytes]]
) -> list[bool]:
    """Apply messages in order, all in one transaction when they all succeed; otherwise one by one.
    Returns, per message, whether it may be acked."""
    if len(messages) == 1:
        return [await apply_once(engine, subscription, *messages[0])]
    work: list[tuple[Envelope, Handler]] = []
    for subject, body in messages:
        try:
            envelope = Envelope.model_validate_json(body)
        except ValidationError:
            continue  # apply_once logs and drops it below, if the batch falls back; else skipped
        handler = subscription.handler_for(subject)
        if handler is not None:
            work.append((envelope, handler))
    try:
        async with session_scope(engine) as session:
            inbox = InboxEvent.__table__  # type: ignore[attr-defined]
            applied = set(
                (
                    await session.exec(  # type: ignore[call-overload]
                        select(inbox.c.event_id).where(
                            inbox.c.consumer == subscription.durable,
                            inbox.c.event_id.in_([envelope.id for envelope, _ in work]),
                        )
                    )
                ).scalars()
            )
            for envelope, handler in work:
                if envelope.id in applied:
                    continue
                applied.add(envelope.id)
                current_traceparent.set(valid_traceparent(envelope.traceparent))
                await handler(session, envelope)
                session.add(
                    InboxEvent(consumer=subscription.durable, event_id=envelope.id, type=envelope.type)
                )
    except Exception as exc:  # noqa: BLE001 - each event again on its own: the failing one is logged
        log.warning(
            "%s: a batch of %d events failed together (%s); applying them one by one",
            subscription.durable,
            len(messages),
            type(exc).__name__,
        )
        return [await apply_once(engine, subscription, subject, body) for subject, body in messages]
    return [True] * len(messages)


class EventConsumer:
    def __init__(self, engine: AsyncEngine, link: NatsLink, subscription: Subscription, batch: int = 100):
        self.engine = engine
        self.link = link
        self.subscription = subscription
        self.batch = batch
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=f"consumer-{self.subscription.durable}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass

    async def _subscribe(self):  # type: ignore[no-untyped-def]
        js = await self.link.jetstream()
        config = ConsumerConfig(
            durable_name=self.subscription.durable,
            filter_subjects=self.subscription.filter_subjects(),
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=30,
            max_ack_pending=1000,
        )
        await js.add_consumer(self.link.stream, config)
        return await js.pull_subscribe_bind(durable=self.subscription.durable, stream=self.link.stream)

    async def _next_batch(self, pull: Any) -> list[Msg]:
        """Wait for the next event, then take what else is already there (a burst's events, after
        a moment to let them arrive), up to ``batch``. A pull of many at once would hold its first
        event until the rest came or its timeout passed: at a quiet time, a second late."""
        messages: list[Msg] = await pull.fetch(1, timeout=WAIT_SECONDS)
        await asyncio.sleep(COALESCE_SECONDS)
        try:
            messages += await pull.fetch(self.batch - 1, timeout=DRAIN_SECONDS)
        except (NatsTimeout, TimeoutError):
            pass
        return messages

    async def run(self) -> None:
        while True:
            try:
                pull = await self._subscribe()
                while True:
                    try:
                        messages = await self._next_batch(pull)
                    except (NatsTimeout, TimeoutError):
                        continue
                    results = await apply_batch(
                        self.engine, self.subscription, [(msg.subject, msg.data) for msg in messages]
                    )
                    for msg, ok in zip(messages, results, strict=True):
                        if ok:
                            await msg.ack()
                        else:
                            await msg.nak(delay=2)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - NATS gone or consumer lost: subscribe again
                log.warning("consumer %s interrupted (%r); resubscribing", self.subscription.durable, exc)
                await asyncio.sleep(1)
