"""Supervision consumes every event in the network."""

from __future__ import annotations

from services.supervision.service import record_event
from shared.events.consumer import Subscription

SUBSCRIPTION = Subscription(durable="supervision", handlers={}, catch_all=record_event, subjects=["weimin.>"])
