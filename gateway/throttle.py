"""Login throttling: failed attempts per account and per client address, with growing lock-outs.

Built on the ``limits`` package (moving windows). Each rule is a list of tiers ("5/minute;10/15
minutes;20/hour"): a tier full of failures locks the key until its oldest failure leaves the window,
so the lock-outs grow as failures pile up (a minute, then up to 15 minutes, then up to an hour).
While a key is locked every attempt is refused with 429 and ``Retry-After``, a correct password too;
a success clears the account's failures (never the address's, or one known account would reset an
address that guesses others).

Failures are counted after the (slow) password check, so attempts still being checked are reserved
here first: a burst of parallel guesses cannot overshoot a tier. The reservations are per process;
the counters live where ``WEIMIN_LOGIN_THROTTLE_STORAGE_URL`` says: ``memory://`` (this gateway
process alone: a restart forgets them, replicas count apart) or ``redis://...`` (shared).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from shared.errors import WeiminError
from shared.settings import Settings


class TooManyAttempts(WeiminError):
    status, slug, title = 429, "too-many-attempts", "Too many failed attempts"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after


def _storage(url: str) -> Storage:
    storage = storage_from_string(url if url.startswith("async+") else f"async+{url}")
    assert isinstance(storage, Storage)
    return storage


@dataclass(frozen=True)
class _Key:
    name: str
    tiers: tuple[RateLimitItem, ...]


class LoginThrottle:
    def __init__(self, settings: Settings) -> None:
        self.storage = _storage(settings.login_throttle_storage_url)
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.account_tiers = tuple(parse_many(settings.login_throttle_per_account))
        self.address_tiers = tuple(parse_many(settings.login_throttle_per_address))
        self._in_flight: Counter[str] = Counter()

    async def aclose(self) -> None:
        timer = getattr(self.storage, "timer", None)  # the memory storage's expiry task
        if timer is not None:
            timer.cancel()

    def _keys(self, account: str, address: str) -> tuple[_Key, _Key]:
        # Hashed: an account name may be anything a caller typed, of any length.
        digest = hashlib.sha256(account.encode()).hexdigest()
        return _Key(f"login-account/{digest}", self.account_tiers), _Key(
            f"login-address/{address}", self.address_tiers
        )

    async def _wait(self, key: _Key) -> int:
        """Seconds until ``key`` may try again (0: now), counting the attempts in flight as failures."""
        wait = 0.0
        now = time.time()
        for tier in key.tiers:
            stats = await self.limiter.get_window_stats(tier, key.name)
            if stats.remaining <= 0:
                wait = max(wait, stats.reset_time - now)
            elif stats.remaining < self._in_flight[key.name]:
                wait = max(wait, 1.0)  # the attempts being checked now may fill the tier
        return math.ceil(wait) if wait > 0 else 0

    @asynccontextmanager
    async def attempt(
        self, account: str, address: str, *, failures: tuple[type[BaseException], ...]
    ) -> AsyncIterator[None]:
        """Guard one credential check: 429 while the account or the address is locked; one of
        ``failures`` raised inside counts against both; no error clears the account's failures."""
        keys = self._keys(account, address)
        for key in keys:
            self._in_flight[key.name] += 1
        try:
            waits = [await self._wait(key) for key in keys]
            if max(waits) > 0:
                what = "account" if waits[0] >= waits[1] else "address"
                raise TooManyAttempts(
                    f"Too many failed sign-in attempts for this {what}; try again in {max(waits)} s",
                    retry_after=max(waits),
                )
            try:
                yield
            except failures:
                for key in keys:
                    for tier in key.tiers:
                        await self.limiter.hit(tier, key.name)
                raise
            for tier in keys[0].tiers:
                await self.limiter.clear(tier, keys[0].name)
        finally:
            for key in keys:
                self._in_flight[key.name] -= 1
                if self._in_flight[key.name] <= 0:
                    del self._in_flight[key.name]
