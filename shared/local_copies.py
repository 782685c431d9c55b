"""Copies held in memory: what a service reads on every create (an item copy, a directory copy)
without a database round trip.

The database keeps the copy (``shared.item_copies``, ``shared.directory_copies``); this keeps a
detached snapshot of each row per engine (so two databases in one process never share one), read
from memory while it is younger than ``ttl`` seconds. The process that applies an event changing a
copy drops the snapshot when that transaction commits, so it sees the change at once; another replica
of the service sees it within ``ttl``, as late as if the event had reached it that much later.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel.ext.asyncio.session import AsyncSession

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

DEFAULT_TTL_SECONDS = 2.0


class LocalCopies(Generic[K, V]):
    """Snapshots by key for each engine; ``None`` (no such row) is remembered too."""

    def __init__(self, ttl: float = DEFAULT_TTL_SECONDS) -> None:
        self.ttl = ttl
        self._by_engine: WeakKeyDictionary[Engine, dict[K, tuple[float, V | None]]] = WeakKeyDictionary()
        self._generation = 0

    async def get(self, session: AsyncSession, key: K, load: Callable[[], Awaitable[V | None]]) -> V | None:
        entries = self._entries(session)
        now = time.monotonic()
        entry = entries.get(key)
        if entry is not None and now - entry[0] < self.ttl:
            return entry[1]
        generation = self._generation
        value = await load()
        # A load that raced an invalidation may hold the old row: it is used once, never kept.
        if generation == self._generation:
            entries[key] = (now, value)
        return value

    async def row(self, session: AsyncSession, model: type[V], key: K) -> V | None:
        """The row of ``model`` with primary key ``key``, as a detached snapshot (requests share it,
        no session owns it)."""

        async def load() -> V | None:
            found = await session.get(model, key)
            return model.model_validate(found.model_dump()) if found is not None else None  # type: ignore[attr-defined]

        return await self.get(session, key, load)

    def drop_on_commit(self, session: AsyncSession, key: K) -> None:
        """Forget ``key`` now and again when the session's transaction commits (the applying
        process reads the new row from then on)."""
        entries = self._entries(session)
        self._forget(entries, key)

        def _after_commit(_session: object) -> None:
            self._forget(entries, key)

        event.listen(session.sync_session, "after_commit", _after_commit, once=True)

    def _forget(self, entries: dict[K, tuple[float, V | None]], key: K) -> None:
        self._generation += 1
        entries.pop(key, None)

    def _entries(self, session: AsyncSession) -> dict[K, tuple[float, V | None]]:
        bind = session.sync_session.get_bind()
        engine = bind.engine
        entries = self._by_engine.get(engine)
        if entries is None:
            entries = self._by_engine[engine] = {}
        return entries
