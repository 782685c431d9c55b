"""Published catalogue answers served from memory: the JSON bytes and the ETag, by generation.

The public reads of a published (or retired) item version, ``GET /items/{code}`` and
``GET /items/{code}/versions/{n}``, are the hottest reads of the network and their answer depends on
one row only. Each replica keeps, per route and key, the answer exactly as FastAPI would have
written it (pydantic's ``dump_json`` of the route's model: the same bytes) and its ETag, tagged with
the catalogue generation (``services.catalogue.generation``) it was loaded under. An entry is served
only while the replica's view of the generation is the same: a publish, retirement or edit committed
on this replica is visible at once, one committed on another replica after at most
``generation.CHECK_SECONDS``. A hit costs no database round trip and no validation.

Drafts are never cached (nor is any answer to a caller with a token on a route whose answer depends
on who asks); errors are not cached either (they go through the ordinary handlers).

``If-None-Match`` on ``GET /items/{code}`` answers 304 when it names the entry's ETag and the version
is published. The tag (``"<code>-v<n>-r<revision>"``, the one writes take as If-Match) does not change
when a version is retired, or when a draft is published, so a retired answer and the
``/versions/{n}`` route (which also shows drafts to admins) always answer in full: a client never
keeps a representation the tag no longer describes.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from services.catalogue import service
from services.catalogue.generation import GenerationClock
from services.catalogue.models import ItemVersion, VersionState
from services.catalogue.schemas import ItemRead
from shared.db import session_scope
from shared.schemas import ITEM_CODE_PATTERN

MAX_ENTRIES = 20_000  # beyond it the cache starts over (a county has a few thousand items)
_ITEM_JSON: TypeAdapter[ItemRead] = TypeAdapter(ItemRead)
_JSON = b"application/json"


@dataclass(slots=True, frozen=True)
class Entry:
    generation: int
    body: bytes
    etag: bytes
    published: bool


class PublishedCache:
    """One replica's entries for one database (the engine), and its view of the generation."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.clock = GenerationClock(engine)
        self.entries: dict[Any, Entry] = {}

    def get(self, key: Any, generation: int) -> Entry | None:
        entry = self.entries.get(key)
        return entry if entry is not None and entry.generation == generation else None

    def put(self, key: Any, entry: Entry) -> None:
        if len(self.entries) >= MAX_ENTRIES:
            self.entries.clear()
        self.entries[key] = entry


_CACHES: weakref.WeakKeyDictionary[Any, PublishedCache] = weakref.WeakKeyDictionary()


def reader(request: Request) -> AsyncEngine:
    """The engine a GET reads with (the read-only one where the app has it, as ``SessionDep``)."""
    state = request.app.state
    engine: AsyncEngine = getattr(state, "read_engine", None) or state.engine
    return engine


def item_entry(version: ItemVersion, generation: int) -> Entry:
    """The answer FastAPI gives for ``ItemRead`` (its fast path: ``dump_json`` by alias), and the tag."""
    return Entry(
        generation=generation,
        body=_ITEM_JSON.dump_json(service.item_read(version), by_alias=True),
        etag=service.etag(version).encode(),
        published=version.state == VersionState.published,
    )


def _answer(entry: Entry, if_none_match: str | None, *, conditional: bool) -> tuple[int, list, bytes]:
    """(status, raw headers, body): the entry, or a 304 when ``If-None-Match`` names it."""
    if conditional and entry.published and if_none_match and _matches(if_none_match, entry.etag):
        return 304, [(b"etag", entry.etag)], b""
    headers = [
        (b"content-length", str(len(entry.body)).encode()),
        (b"content-type", _JSON),
        (b"etag", entry.etag),
    ]
    return 200, headers, entry.body


def _response(entry: Entry, request: Request, *, conditional: bool) -> Response:
    status, headers, body = _answer(entry, request.headers.get("if-none-match"), conditional=conditional)
    response = Response(body, status_code=status)
    response.raw_headers = headers
    return response


def _matches(if_none_match: str, etag: bytes) -> bool:
    """RFC 9110 §13.1.2: ``*``, or any listed tag equal by the weak comparison."""
    tag = etag.decode()
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == tag:
            return True
    return False


async def published_version(
    request: Request,
    key: Any,
    load: Callable[[AsyncSession], Awaitable[ItemVersion]],
    *,
    conditional: bool,
) -> Response:
    """The answer for ``key`` from memory, or ``load``-ed in a read-only transaction of its own
    (a draft is answered, never kept); ``conditional``: honour ``If-None-Match``."""
    database = request.app.state.engine  # one cache per engine (replica and database) of the app
    cache = _CACHES.get(database)
    if cache is None:
        cache = _CACHES[database] = PublishedCache(database)
    engine = reader(request)
    generation = await cache.clock.current(engine)  # before loading: an entry is never older than it
    entry = cache.get(key, generation)
    if entry is None:
        async with session_scope(engine) as session:
            version = await load(session)
        entry = item_entry(version, generation)
        if version.state != VersionState.draft:
            cache.put(key, entry)
    return _response(entry, request, conditional=conditional)


# -- the hits, before FastAPI's routing --------------------------------------------------------------------

_CODE = ITEM_CODE_PATTERN.removeprefix("^").removesuffix("$")
_ITEM_PATH = re.compile(rf"/api/v1/catalogue/items/({_CODE})")
_VERSION_PATH = re.compile(rf"/api/v1/catalogue/items/({_CODE})/versions/([1-9][0-9]{{0,6}})")


class PublishedFastPath:
    """ASGI middleware, the catalogue's innermost: a GET whose answer is in memory for the current
    generation is written from here, past FastAPI's routing, dependencies and exception handling
    (more than half a hit's cost). Anything else (a miss, an error, a caller with a token on the
    version route) goes on to the routes above, which fill the cache."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            answer = await self._hit(scope)
            if answer is not None:
                status, headers, body = answer
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    async def _hit(self, scope: Scope) -> tuple[int, list, bytes] | None:
        path: str = scope["path"]
        if not path.startswith("/api/v1/catalogue/items/"):
            return None
        if (match := _ITEM_PATH.fullmatch(path)) is not None:
            key: Any = ("item", match[1])
        elif (match := _VERSION_PATH.fullmatch(path)) is not None:
            key = ("version", match[1], int(match[2]))
        else:
            return None
        if_none_match: str | None = None
        for name, value in scope["headers"]:
            if name == b"authorization" and key[0] == "version":
                return None  # perhaps an admin, who may see a draft: the route decides
            if name == b"if-none-match":
                if_none_match = value.decode("latin-1")
        state = scope["app"].state
        cache = _CACHES.get(state.engine)
        if cache is None:
            return None
        engine = getattr(state, "read_engine", None) or state.engine
        entry = cache.get(key, await cache.clock.current(engine))
        if entry is None:
            return None
        return _answer(entry, if_none_match, conditional=key[0] == "item")


def install_fast_path(app: Starlette) -> None:
    """Put ``PublishedFastPath`` innermost, inside the request id and body limit middleware."""
    app.user_middleware.append(Middleware(PublishedFastPath))
