"""Optimistic concurrency for catalogue writes: ETags on reads, ``If-Match`` required on writes.

A write names the version it was based on; if someone changed it meanwhile the write is a 412, never
a lost update. A write with no ``If-Match`` at all is a 428 (RFC 6585), so a client cannot forget it.
"""

from __future__ import annotations

from shared.errors import PreconditionFailed, WeiminError


class PreconditionRequired(WeiminError):
    status, slug, title = 428, "if-match-required", "Precondition required"


def matches(if_match: str, current: str) -> bool:
    """RFC 9110 strong comparison of an ``If-Match`` list against the current ETag."""
    tags = [tag.strip() for tag in if_match.split(",")]
    return "*" in tags or current in tags


def require_match(if_match: str | None, current: str | None, *, what: str) -> None:
    """Refuse the write unless ``If-Match`` names the current version of ``what``."""
    if current is None:
        if if_match:
            raise PreconditionFailed(
                f"{what} does not exist yet; send no If-Match to create it", slug="stale-etag"
            )
        return
    if not if_match:
        raise PreconditionRequired(f"Send If-Match with the ETag of {what} you based this on ({current})")
    if not matches(if_match, current):
        raise PreconditionFailed(
            f"{what} has changed since you read it: its ETag is now {current}; read it again",
            slug="stale-etag",
            current_etag=current,
        )
