"""W3C trace context carried from a request (or a consumed event) into the events it causes.

A request's ``traceparent`` header, or the envelope a consumer is applying, sets the current trace;
every event emitted meanwhile carries it, so one case's chain of events shares one trace id.
"""

from __future__ import annotations

import os
import re
from contextvars import ContextVar

_TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
current_traceparent: ContextVar[str | None] = ContextVar("current_traceparent", default=None)


def valid_traceparent(value: str | None) -> str | None:
    if value and _TRACEPARENT.match(value) and value[3:35] != "0" * 32:
        return value
    return None


def child_traceparent() -> str:
    """A traceparent for a new event: the current trace with a fresh span id, or a new trace."""
    parent = current_traceparent.get()
    trace_id = parent[3:35] if parent else os.urandom(16).hex()
    return f"00-{trace_id}-{os.urandom(8).hex()}-01"
