"""The transactional outbox and the consumers' inbox, tables every service keeps in its own database.

``emit`` writes the event in the caller's transaction: the state change and its event commit
together or not at all. The relay publishes later; the inbox records what a consumer has applied.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import event, insert
from sqlalchemy.orm import Session
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.clock import utcnow
from shared.events.envelope import Envelope
from shared.events.types import EventType, Payload


class OutboxEvent(SQLModel, table=True):
    __tablename__ = "outbox"

    seq: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(unique=True, max_length=64)
    nats_subject: str = Field(max_length=200)
    envelope: str
    created_at: datetime = Field(default_factory=utcnow)
    published_at: datetime | None = Field(default=None, index=True)


class InboxEvent(SQLModel, table=True):
    __tablename__ = "inbox"

    consumer: str = Field(primary_key=True, max_length=64)
    event_id: str = Field(primary_key=True, max_length=64)
    type: str = Field(max_length=100)
    applied_at: datetime = Field(default_factory=utcnow)


class DeadLetter(SQLModel, table=True):
    """An event the relay can never publish (e.g. larger than the server's max payload), parked with
    the reason so that the relay carries on and an operator can see, fix and replay it."""

    __tablename__ = "outbox_dead_letter"

    seq: int = Field(primary_key=True)
    event_id: str = Field(unique=True, max_length=64)
    nats_subject: str = Field(max_length=200)
    envelope: str
    created_at: datetime
    reason: str = Field(max_length=500)
    parked_at: datetime = Field(default_factory=utcnow)


# Every service keeps these in its own database (its migrations create them).
OUTBOX_TABLES = [OutboxEvent, InboxEvent, DeadLetter]


def emit(
    session: AsyncSession, *, source: str, type: EventType | str, subject: str | None, data: BaseModel | dict
) -> Envelope:
    """Write an event into the outbox in the session's transaction (never publishes directly)."""
    if isinstance(data, BaseModel):
        payload = data.model_dump(mode="json")
        version = data.version if isinstance(data, Payload) else 1
    else:
        payload, version = dict(data), 1
    envelope = Envelope(
        source=source,
        type=str(type),
        subject=subject,
        dataschema=f"urn:weimin:event:{type}:v{version}",
        data=payload,
    )
    session.info.setdefault(_PENDING_ROWS, []).append(
        {
            "event_id": envelope.id,
            "nats_subject": envelope.nats_subject,
            "envelope": envelope.model_dump_json(),
            "created_at": envelope.time,
        }
    )
    session.info["outbox_written"] = True
    return envelope


# Emitted events wait in the session and are written just before it commits, all in one INSERT (no
# unit of work for the outbox: it is written at every create): still in the same transaction as the
# state change they announce, in the order they were emitted.
_PENDING_ROWS = "weimin_outbox_rows"


@event.listens_for(Session, "before_commit")
def _write_outbox(session: Session) -> None:
    rows = session.info.pop(_PENDING_ROWS, None)
    if rows:
        session.execute(insert(OutboxEvent.__table__), rows)  # type: ignore[attr-defined]


@event.listens_for(Session, "after_rollback")
def _forget_outbox(session: Session) -> None:
    session.info.pop(_PENDING_ROWS, None)


def emit_event(
    session: AsyncSession, source: str, payload: Payload, *, subject: str | None = None
) -> Envelope:
    """Emit a typed payload: the event type is the payload's own, the subject its case number."""
    return emit(
        session,
        source=source,
        type=payload.event_type,
        subject=subject or getattr(payload, "case_id", None),
        data=payload,
    )
