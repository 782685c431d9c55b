"""The CloudEvents 1.0 JSON envelope every Weimin event travels in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.tracing import child_traceparent


class Envelope(BaseModel):
    specversion: Literal["1.0"] = "1.0"
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    source: str = Field(description="The service that emitted the event, e.g. `intake`")
    type: str = Field(description="Dotted past-tense event type, e.g. `case.handed_up`")
    subject: str | None = Field(default=None, description="The case number (or item code) it concerns")
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str | None = None
    traceparent: str = Field(default_factory=child_traceparent)
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def nats_subject(self) -> str:
        return f"weimin.{self.source}.{self.type}"
