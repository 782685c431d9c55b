"""``Idempotency-Key`` on writes, as one dependency: a repeated request gets the first answer again.

A route takes ``Idempotent`` and ends with ``return idempotent.answer(result)``. When the key was
seen before with the same body, the route never runs: the stored answer is sent back with
``Idempotent-Replayed: true``. The same key with another body or on another endpoint is a 422.
The record is written in the request's transaction, with the effect it answers for.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlmodel import Field, SQLModel

from shared.auth import CurrentPrincipal
from shared.clock import utcnow
from shared.db import SessionDep
from shared.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Repeat a write safely: the same key and body return the first answer; "
        "the same key with another body is 422",
    ),
]


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_record"

    key: str = Field(primary_key=True, max_length=200)
    username: str = Field(primary_key=True, max_length=100)
    endpoint: str = Field(max_length=200)
    fingerprint: str = Field(default="", max_length=64)
    status: int
    body: str
    created_at: datetime = Field(default_factory=utcnow)


class Replayed(Exception):  # noqa: N818 - not an error: the control flow of a replay
    """Raised by the dependency when the answer is already known; rendered as that answer."""

    def __init__(self, record: IdempotencyRecord) -> None:
        self.response = JSONResponse(
            json.loads(record.body), status_code=record.status, headers={"Idempotent-Replayed": "true"}
        )


class IdempotentWrite:
    def __init__(self, record: IdempotencyRecord | None, session: Any) -> None:
        self._record, self._session = record, session

    def answer(self, result: M, status: int = 200) -> M:
        """Remember ``result`` as the answer to this key (no-op without a key) and return it."""
        if self._record is not None:
            self._record.status = status
            self._record.body = json.dumps(jsonable_encoder(result), ensure_ascii=False)
            self._session.add(self._record)
        return result


async def _idempotent(
    request: Request, session: SessionDep, principal: CurrentPrincipal, key: IdempotencyKey = None
) -> IdempotentWrite:
    if not key:
        return IdempotentWrite(None, session)
    route = request.scope.get("route")
    endpoint = f"{request.method} {getattr(route, 'path', request.url.path)}"
    fingerprint = hashlib.sha256(request.url.path.encode() + b"\0" + await request.body()).hexdigest()
    record = await session.get(IdempotencyRecord, (key, principal.username))
    if record is not None:
        if record.endpoint != endpoint or (record.fingerprint and record.fingerprint != fingerprint):
            raise InvalidInput(
                "This Idempotency-Key was used for a different request; use a new key for a new request",
                slug="idempotency-key-reused",
            )
        raise Replayed(record)
    pending = IdempotencyRecord(
        key=key, username=principal.username, endpoint=endpoint, fingerprint=fingerprint, status=0, body=""
    )
    return IdempotentWrite(pending, session)


Idempotent = Annotated[IdempotentWrite, Depends(_idempotent)]
