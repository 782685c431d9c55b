"""Optimistic concurrency for catalogue writes, as domain rules (no HTTP here).

Every version of an item or a directory has a tag (``service.etag``, ``directories.etag``): it names
the version and its draft revision. A write says which version it was based on; if someone changed
it meanwhile the write is refused (``stale-etag``), never a lost update. A write that names no version
while one exists is refused too (``if-match-required``), so a client cannot forget to say it. The
routes read the tags from ``If-Match`` and send them as ``ETag``.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.errors import PreconditionFailed, WeiminError


class PreconditionRequired(WeiminError):
    """A write on something that exists named no version to base it on (RFC 6585: 428)."""

    status, slug, title = 428, "if-match-required", "Precondition required"


@dataclass(frozen=True)
class BasedOn:
    """The version a write starts from, as the caller read it: any of ``tags``, or whatever version
    is current (``any_version``, what ``If-Match: *`` says)."""

    tags: frozenset[str] = frozenset()
    any_version: bool = False

    @classmethod
    def tag(cls, *tags: str) -> BasedOn:
        return cls(frozenset(tags))

    def accepts(self, current: str) -> bool:
        return self.any_version or current in self.tags


ANY_VERSION = BasedOn(any_version=True)


def require_based_on_current(based_on: BasedOn | None, current: str | None, *, what: str) -> None:
    """Refuse the write unless ``based_on`` names ``current``, the tag of ``what`` now (None: it does
    not exist yet, and the write must name no version)."""
    if current is None:
        if based_on is not None:
            raise PreconditionFailed(
                f"{what} does not exist yet; name no version to create it",
                slug="stale-etag",
            )
        return
    if based_on is None:
        raise PreconditionRequired(
            f"Name the version of {what} this write is based on; it is now {current}",
            current_etag=current,
        )
    if not based_on.accepts(current):
        raise PreconditionFailed(
            f"{what} has changed since you read it: its version is now {current}; read it again",
            slug="stale-etag",
            current_etag=current,
        )
