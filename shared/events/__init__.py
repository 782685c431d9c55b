"""Events between services: CloudEvents envelopes, the transactional outbox, the relay to JetStream
and durable consumers with an inbox. See ``types`` for every event and its payload."""

from shared.events.envelope import Envelope
from shared.events.outbox import InboxEvent, OutboxEvent, emit, emit_event
from shared.events.types import EventType

__all__ = ["Envelope", "EventType", "InboxEvent", "OutboxEvent", "emit", "emit_event"]
