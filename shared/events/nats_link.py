"""One NATS connection per process, made and remade in the background.

A service starts and serves even while NATS is down; the relay and the consumers wait on
``jetstream()`` and carry on when the server answers again.
"""

from __future__ import annotations

import asyncio
import logging

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError

log = logging.getLogger("weimin.nats")

STREAM_SUBJECTS = ["weimin.>"]
DUPLICATE_WINDOW_SECONDS = 24 * 3600  # a relay that crashed between publish and mark may resend a day later
DEFAULT_MAX_PAYLOAD = 1024 * 1024  # nats-server's default, until the server says otherwise


async def ensure_stream(js: JetStreamContext, stream: str, *, max_age_days: float = 365) -> None:
    """The one stream of the network, with a deliberate retention: events older than ``max_age_days``
    are dropped by the server (archive them first: ``python -m shared.events.archive``). A stream made
    with another retention is brought to this one."""
    max_age = int(max_age_days * 24 * 3600)
    try:
        info = await js.stream_info(stream)
    except NotFoundError:
        await js.add_stream(
            StreamConfig(
                name=stream,
                subjects=STREAM_SUBJECTS,
                storage=StorageType.FILE,
                duplicate_window=DUPLICATE_WINDOW_SECONDS,
                max_age=max_age,
            )
        )
        return
    if int(info.config.max_age or 0) != max_age:
        info.config.max_age = max_age
        await js.update_stream(info.config)


class NatsLink:
    def __init__(self, url: str, stream: str, name: str, *, stream_max_age_days: float = 365) -> None:
        self.url = url
        self.stream = stream
        self.name = name
        self.stream_max_age_days = stream_max_age_days
        self._client: Client | None = None
        self._js: JetStreamContext | None = None
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def max_payload(self) -> int:
        """The largest message the server takes (its INFO), so the relay can park what never fits."""
        if self._client is not None and self._client.max_payload:
            return int(self._client.max_payload)
        return DEFAULT_MAX_PAYLOAD

    @property
    def is_connected(self) -> bool:
        return self._client is not None and self._client.is_connected

    def start(self) -> None:
        self._task = asyncio.create_task(self._connect_forever(), name=f"nats-connect-{self.name}")

    async def _connect_forever(self) -> None:
        delay = 0.2
        while True:
            try:
                client = await nats.connect(
                    self.url,
                    name=self.name,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    connect_timeout=2,
                )
                js = client.jetstream()
                await ensure_stream(js, self.stream, max_age_days=self.stream_max_age_days)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure means "not yet"; we retry
                log.info("NATS at %s not ready (%s); retrying", self.url, exc.__class__.__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 3.0)
                continue
            self._client, self._js = client, js
            self._ready.set()
            log.info("connected to NATS at %s", self.url)
            return

    async def jetstream(self) -> JetStreamContext:
        await self._ready.wait()
        assert self._js is not None
        return self._js

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._client is not None and not self._client.is_closed:
            try:
                await asyncio.wait_for(self._client.drain(), timeout=5)
            except Exception:  # noqa: BLE001 - closing anyway
                await self._client.close()
