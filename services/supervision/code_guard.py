"""Wrong rating codes, counted per case, so that guessing an applicant's code is hopeless.

The applicant rates a case with the code printed on their receipt (12 characters of an alphabet of
31, about 59 bits). After ``MAX_WRONG`` wrong codes for one case within ``WINDOW_SECONDS``, every code
sent for that case, the right one included, is refused (429 with ``Retry-After``) until the oldest
wrong attempt leaves the window: a moving window, kept by the ``limits`` library.

The counts live in this process's memory. A restart forgets them, and N replicas of supervision
allow N × ``MAX_WRONG`` guesses per window: still nothing against 31**12 codes. ``limits`` keeps the
same counts in Redis or Memcached by a storage URI, which makes the limit exact across replicas.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

MAX_WRONG = 5
WINDOW_SECONDS = 15 * 60
_NAMESPACE = "rating-code"


class WrongCodeGuard:
    """Counts wrong codes per case and says when a case's codes are locked, and for how long."""

    def __init__(
        self,
        limit: RateLimitItem | None = None,
        storage_uri: str = "memory://",
    ) -> None:
        self.limit = limit or RateLimitItemPerMinute(MAX_WRONG, WINDOW_SECONDS // 60)
        storage = storage_from_string(storage_uri)
        assert isinstance(storage, Storage), "a synchronous storage (memory://, redis://, ...)"
        self._storage = storage
        self._limiter = MovingWindowRateLimiter(self._storage)

    def retry_after(self, case_id: str) -> int | None:
        """Seconds until a code for this case is heard again; None when it is heard now."""
        if self._limiter.test(self.limit, _NAMESPACE, case_id):
            return None
        stats = self._limiter.get_window_stats(self.limit, _NAMESPACE, case_id)
        return max(1, math.ceil(stats.reset_time - time.time()))

    def remaining(self, case_id: str) -> int:
        """Wrong codes this case may still take before it is locked."""
        return self._limiter.get_window_stats(self.limit, _NAMESPACE, case_id).remaining

    def wrong(self, case_id: str) -> None:
        """A wrong code was sent for this case (or for a case that does not exist: the same)."""
        self._limiter.hit(self.limit, _NAMESPACE, case_id)

    def reset(self) -> None:
        """Forget every count (tests; an operator after a false alarm)."""
        self._storage.reset()


# The process's guard: supervision's evaluations route uses it unless told otherwise.
GUARD = WrongCodeGuard()
