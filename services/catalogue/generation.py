"""The catalogue generation: one counter that says "what the public reads has changed".

``catalogue_generation`` is a single row. Every transaction that writes an item, an item version, a
directory version or a unit bumps it (``UPDATE … SET value = value + 1``) in the same transaction, as
its last statement before the commit, from a session hook, so no write path can forget it: the API's
edits, publishes and retirements, the spreadsheet import, the demo loader. On PostgreSQL the row lock
is held only for the commit itself, which serialises the catalogue's (rare) writers for a moment and
nothing else; on SQLite writers are serial anyway.

Readers compare it: a replica's cache of serialised published answers
(``services.catalogue.routes.cache``) keeps the generation it last read and drops every entry of an
older one. Because a commit on this replica also expires its own view at once (``after_commit``), a
change is visible immediately where it was made, and on every other replica after at most
``CHECK_SECONDS`` (the longest a replica trusts the generation it read without reading it again).

A reader reads the generation *before* it loads anything, so an entry tagged with generation g is
never older than g: it may only be newer (and is then dropped early, which costs a reload, never a
stale answer).
"""

from __future__ import annotations

import asyncio
import math
import time
import weakref
from itertools import chain
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session

from services.catalogue.models import DirectoryVersion, Item, ItemVersion, Org

# The longest another replica may serve what it cached before a change committed elsewhere.
CHECK_SECONDS = 0.25

_WATCHED = (Item, ItemVersion, DirectoryVersion, Org)
_CHANGED = "catalogue_public_changed"
_BUMPED = "catalogue_generation_bumped"
_BUMP = text("UPDATE catalogue_generation SET value = value + 1 WHERE id = 1")
_FIRST = text("INSERT INTO catalogue_generation (id, value) VALUES (1, 1)")
_READ = text("SELECT value FROM catalogue_generation WHERE id = 1")


class GenerationClock:
    """A replica's view of the generation: re-read at most every ``CHECK_SECONDS``, at once after a
    local commit bumped it (``expire``)."""

    def __init__(self, engine: AsyncEngine, check_seconds: float = CHECK_SECONDS) -> None:
        self.check_seconds = check_seconds
        self.pool = engine.sync_engine.pool  # the database (shared by the engine's option views)
        self.value = -1
        self._checked_at = -math.inf
        self._epoch = 0  # moves on every expire(): a read that started before it proves nothing
        self._reading: tuple[int, asyncio.Future[int]] | None = None  # the read in flight, by epoch
        _CLOCKS.add(self)

    def expire(self) -> None:
        self._epoch += 1
        self._checked_at = -math.inf

    async def current(self, engine: AsyncEngine) -> int:
        """The generation as of at most ``check_seconds`` ago (one primary-key read when older;
        the requests that find it old together share that one read)."""
        if time.monotonic() - self._checked_at < self.check_seconds:
            return self.value
        reading = self._reading
        if reading is None or reading[0] != self._epoch or reading[1].done():
            reading = (self._epoch, asyncio.ensure_future(self._read(engine, self._epoch)))
            self._reading = reading
        return await asyncio.shield(reading[1])

    async def _read(self, engine: AsyncEngine, epoch: int) -> int:
        started = time.monotonic()
        async with engine.connect() as conn:
            value = int((await conn.execute(_READ)).scalar_one_or_none() or 0)
        self.value = max(self.value, value)  # the counter only grows; reads may finish out of order
        if epoch == self._epoch:
            self._checked_at = started
        return self.value


_CLOCKS: weakref.WeakSet[GenerationClock] = weakref.WeakSet()


def _touches_catalogue(session: Session) -> bool:
    return any(isinstance(obj, _WATCHED) for obj in chain(session.new, session.dirty, session.deleted))


@event.listens_for(Session, "before_flush")
def _note_change(session: Session, _context: Any, _instances: Any) -> None:
    if _CHANGED not in session.info and _touches_catalogue(session):
        session.info[_CHANGED] = True


@event.listens_for(Session, "before_commit")
def _bump(session: Session) -> None:
    if _CHANGED not in session.info and not _touches_catalogue(session):
        return
    # Flush first, so the bump is the transaction's last statement: it holds the row lock only while
    # committing and takes no other lock after it (no lock-order cycle between two writers).
    session.flush()
    session.info.pop(_CHANGED, None)
    if session.execute(_BUMP).rowcount == 0:  # type: ignore[attr-defined]
        session.execute(_FIRST)  # a database whose tables were made without the migration's row
    session.info[_BUMPED] = True


@event.listens_for(Session, "after_commit")
def _expire_local(session: Session) -> None:
    # This replica's views of that database see the change at once; other replicas within CHECK_SECONDS.
    if session.info.pop(_BUMPED, False):
        bind = session.get_bind()
        pool = bind.engine.pool  # an Engine's engine is itself; a Connection's, the one it came from
        for clock in list(_CLOCKS):
            if clock.pool is pool:
                clock.expire()


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_CHANGED, None)
    session.info.pop(_BUMPED, None)
