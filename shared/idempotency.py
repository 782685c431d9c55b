"""``Idempotency-Key`` on writes: a repeated request with the same key gets the first answer again."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import Header
from fastapi.responses import JSONResponse
from sqlmodel import Field, Session, SQLModel

from shared.errors import Conflict
from shared.events.outbox import utcnow

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Repeat a write safely: the same key returns the first answer",
    ),
]


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_record"

    key: str = Field(primary_key=True, max_length=200)
    username: str = Field(primary_key=True, max_length=100)
    endpoint: str = Field(max_length=200)
    status: int
    body: str
    created_at: datetime = Field(default_factory=utcnow)


def replay(session: Session, key: str | None, username: str, endpoint: str) -> JSONResponse | None:
    if not key:
        return None
    record = session.get(IdempotencyRecord, (key, username))
    if record is None:
        return None
    if record.endpoint != endpoint:
        raise Conflict("This Idempotency-Key was used for another request", slug="idempotency-key-reused")
    return JSONResponse(
        json.loads(record.body), status_code=record.status, headers={"Idempotent-Replayed": "true"}
    )


def remember(session: Session, key: str | None, username: str, endpoint: str, status: int, body: Any) -> None:
    if key:
        session.add(
            IdempotencyRecord(
                key=key,
                username=username,
                endpoint=endpoint,
                status=status,
                body=json.dumps(body, default=str, ensure_ascii=False),
            )
        )
