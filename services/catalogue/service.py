"""Catalogue domain logic for the org tree and the service items' versions (async, no HTTP).

An item's versions go draft → published → retired. Editing writes a draft while the published version
stays live; publishing the draft supersedes (retires) the old version, whose content never changes.
Every change leaves audit rows and every publication an outbox event, in the caller's transaction.

Who may do what: reads of live versions are public (政务公开); drafts, audit trails and every write
need an admin whose jurisdiction holds the unit that owns the record (``require_admin_of``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from services.catalogue import audit, events
from services.catalogue.models import AuditRecord, Item, ItemVersion, Org, VersionState
from services.catalogue.preconditions import BasedOn, require_based_on_current
from services.catalogue.schemas import ItemRead, ItemUpsert, OrgUpsert, VersionSummary, labels_of
from shared.auth import Principal, Role, require_roles
from shared.clock import utcnow
from shared.divisions import level_of, parent_of
from shared.errors import Conflict, InvalidInput, NotFound
from shared.jurisdiction import require_governs
from shared.pagination import Page, keyset_page

API = "api"


# -- who may write ------------------------------------------------------------------------------------


def require_admin_of(principal: Principal, org_code: str, *, what: str = "unit") -> None:
    """A catalogue write (or a look at drafts and audit trails) needs an admin whose jurisdiction
    holds the unit concerned: 403 ``role-required``, else 403 ``outside-jurisdiction``."""
    require_roles(principal, Role.admin)
    require_governs(principal, org_code, what=what)


def is_admin_of(principal: Principal | None, org_code: str) -> bool:
    """True when the (optional) caller is an admin governing ``org_code``: they see its drafts."""
    return principal is not None and principal.has(Role.admin) and principal.governs(org_code)


# -- the org tree ------------------------------------------------------------------------------------


async def upsert_org(
    session: AsyncSession, *, code: str, data: OrgUpsert, actor: str = "system"
) -> tuple[Org, bool]:
    """Create or update a unit; its level and parent follow from the code. No jurisdiction check:
    callers on behalf of a person use ``put_org``."""
    try:
        level = level_of(code)
    except ValueError as exc:
        raise InvalidInput(str(exc), slug="invalid-org-code") from exc
    org = await session.get(Org, code)
    created = org is None
    before = {} if org is None else {"name": org.name, "address": org.address, "phone": org.phone}
    org = org or Org(code=code, name=data.name, level=level.value)
    org.name, org.address, org.phone = data.name, data.address, data.phone
    org.parent_code = parent_of(code) if level.value != "province" else None
    session.add(org)
    changes = audit.changed_fields(before, data.model_dump())
    if changes:
        await audit.record(
            session,
            entity="org",
            key=code,
            version_no=None,
            action="created" if created else "updated",
            actor=actor,
            via=API,
            changes=changes,
        )
    await session.flush()
    return org, created


async def put_org(
    session: AsyncSession, principal: Principal, *, code: str, data: OrgUpsert
) -> tuple[Org, bool]:
    """An admin creates or edits a unit of their own subtree (never one above or beside it)."""
    require_admin_of(principal, code)
    return await upsert_org(session, code=code, data=data, actor=principal.username)


async def get_org(session: AsyncSession, code: str) -> Org:
    org = await session.get(Org, code)
    if org is None:
        raise NotFound(f"No unit with code {code}", slug="org-not-found")
    return org


async def list_orgs(
    session: AsyncSession, *, level: str | None, parent_code: str | None, after: str | None, limit: int
) -> Page[Org]:
    """One page of the public org directory, by code."""
    query = select(Org)
    if level:
        query = query.where(Org.level == level)
    if parent_code:
        query = query.where(Org.parent_code == parent_code)
    return await keyset_page(session, query, col(Org.code), after=after, limit=limit)


# -- items and their versions ----------------------------------------------------------------------


def content_of(data: ItemUpsert) -> dict[str, Any]:
    """What a version stores: every attribute in its exchange form (codes, not labels)."""
    return data.model_dump(mode="json", exclude={"handling_type"})


def content_hash(content: dict[str, Any]) -> str:
    canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def etag(version: ItemVersion) -> str:
    """The version's tag (its ETag): the item, the version and the draft's revision."""
    return f'"{version.item_code}-v{version.version_no}-r{version.revision}"'


def search_text(content: dict[str, Any]) -> str:
    return "\n".join([content["name"], *content.get("aliases", []), *content.get("keywords", [])])


def item_read(version: ItemVersion) -> ItemRead:
    data = ItemUpsert.model_validate(version.content)
    return ItemRead(
        **data.model_dump(exclude={"handling_type"}),
        item_code=version.item_code,
        version_no=version.version_no,
        state=version.state,
        revision=version.revision,
        published_at=version.published_at,
        retired_at=version.retired_at,
        superseded_by=version.superseded_by,
        labels=labels_of(data),
    )


async def get_item(session: AsyncSession, item_code: str, *, lock: bool = False) -> Item:
    """The item; ``lock`` holds its row until the transaction ends (writers queue, on PostgreSQL)."""
    item = await session.get(Item, item_code, with_for_update=lock)
    if item is None:
        raise NotFound(f"No service item with code {item_code}", slug="item-not-found")
    return item


async def get_version(session: AsyncSession, item_code: str, version_no: int) -> ItemVersion:
    version = await session.get(ItemVersion, (item_code, version_no))
    if version is None:
        raise NotFound(f"Item {item_code} has no version {version_no}", slug="item-version-not-found")
    return version


async def visible_version(
    session: AsyncSession, principal: Principal | None, item_code: str, version_no: int
) -> ItemVersion:
    """One version as the caller may see it: a draft only by an admin governing the item's owner;
    to anyone else a draft does not exist (404, as for an unknown version)."""
    version = await get_version(session, item_code, version_no)
    if version.state == VersionState.draft:
        item = await get_item(session, item_code)
        if not is_admin_of(principal, item.owner_org):
            raise NotFound(f"Item {item_code} has no version {version_no}", slug="item-version-not-found")
    return version


async def current_version(session: AsyncSession, item_code: str) -> ItemVersion:
    """The version the public sees: the live one, or the last one of a retired item."""
    item = await get_item(session, item_code)
    if item.published_version is None:
        raise NotFound(f"Item {item_code} has not been published yet", slug="item-not-published")
    return await get_version(session, item_code, item.published_version)


async def draft_of(session: AsyncSession, item_code: str) -> ItemVersion:
    item = await get_item(session, item_code)
    if item.draft_version is None:
        raise NotFound(f"Item {item_code} has no draft", slug="draft-not-found")
    return await get_version(session, item_code, item.draft_version)


async def read_draft(session: AsyncSession, principal: Principal, item_code: str) -> ItemVersion:
    """The item's draft, for an admin governing the unit that owns the item."""
    item = await get_item(session, item_code)
    require_admin_of(principal, item.owner_org, what=f"Item {item_code}'s unit")
    return await draft_of(session, item_code)


async def item_audit(
    session: AsyncSession, principal: Principal, item_code: str, *, after: str | None, limit: int
) -> Page[AuditRecord]:
    """One page of the item's audit trail, for an admin governing the unit that owns the item."""
    item = await get_item(session, item_code)
    require_admin_of(principal, item.owner_org, what=f"Item {item_code}'s unit")
    return await audit.trail(session, entity="item", key=item_code, after=after, limit=limit)


async def _next_version_no(session: AsyncSession, item_code: str) -> int:
    latest = (
        await session.exec(select(func.max(ItemVersion.version_no)).where(ItemVersion.item_code == item_code))
    ).one()
    return int(latest or 0) + 1


async def _write_draft(
    session: AsyncSession,
    item: Item | None,
    item_code: str,
    data: ItemUpsert,
    *,
    actor: str,
    owner: str,
    via: str,
) -> tuple[ItemVersion, bool]:
    """Create or replace the draft; ``(draft, changed)``. Callers have checked the version."""
    content = content_of(data)
    digest = content_hash(content)
    if item is None:
        item = Item(item_code=item_code, owner_org=owner, name=data.name, search_text=search_text(content))
        session.add(item)
        await session.flush()
    if item.draft_version is not None:
        draft = await get_version(session, item_code, item.draft_version)
        if draft.content_hash == digest:
            return draft, False
        changes = audit.changed_fields(draft.content, content)
        draft.content, draft.content_hash, draft.revision = content, digest, draft.revision + 1
        action = "draft_updated"
    else:
        base = await session.get(ItemVersion, (item_code, item.published_version or 0))
        changes = audit.changed_fields(base.content if base else {}, content)
        draft = ItemVersion(
            item_code=item_code,
            version_no=await _next_version_no(session, item_code),
            content=content,
            content_hash=digest,
            created_by=actor,
        )
        item.draft_version = draft.version_no
        action = "draft_created" if base else "created"
    if item.published_version is None:
        item.name = data.name
    item.updated_at = utcnow()
    session.add_all([item, draft])
    await audit.record(
        session,
        entity="item",
        key=item_code,
        version_no=draft.version_no,
        action=action,
        actor=actor,
        via=via,
        changes=changes,
    )
    await session.flush()
    return draft, True


async def write_draft(
    session: AsyncSession,
    principal: Principal,
    *,
    item_code: str,
    data: ItemUpsert,
    based_on: BasedOn | None,
) -> tuple[ItemVersion, bool]:
    """Write the item's draft (创建/修改草稿); the published version stays live. ``(draft, created)``.

    ``based_on`` names the draft, or, when there is none, the published version the edit starts from;
    a new item is created from nothing (None), and belongs to the admin's unit.
    """
    item = await session.get(Item, item_code, with_for_update=True)
    owner = item.owner_org if item else principal.org_code
    require_admin_of(principal, owner, what=f"Item {item_code}'s unit")
    base: ItemVersion | None = None
    if item is not None:
        base = await session.get(ItemVersion, (item_code, item.draft_version or item.published_version or 0))
    require_based_on_current(based_on, etag(base) if base else None, what=f"item {item_code}")
    created = item is None or item.draft_version is None
    draft, _ = await _write_draft(
        session, item, item_code, data, actor=principal.username, owner=owner, via=API
    )
    return draft, created


async def _publish(
    session: AsyncSession, item: Item, draft: ItemVersion, *, actor: str, via: str
) -> ItemVersion:
    now = utcnow()
    previous = await session.get(ItemVersion, (item.item_code, item.published_version or 0))
    if previous is not None and previous.state == VersionState.published:
        previous.state, previous.retired_at, previous.retired_by = VersionState.retired, now, actor
        previous.superseded_by = draft.version_no
        session.add(previous)
        await audit.record(
            session,
            entity="item",
            key=item.item_code,
            version_no=previous.version_no,
            action="superseded",
            actor=actor,
            via=via,
            changes=audit.state_change(VersionState.published, VersionState.retired),
        )
    draft.state, draft.published_at, draft.published_by = VersionState.published, now, actor
    item.state, item.published_version, item.draft_version = VersionState.published, draft.version_no, None
    item.name, item.search_text, item.updated_at = draft.content["name"], search_text(draft.content), now
    session.add_all([draft, item])
    await audit.record(
        session,
        entity="item",
        key=item.item_code,
        version_no=draft.version_no,
        action="published",
        actor=actor,
        via=via,
        changes=audit.state_change(VersionState.draft, VersionState.published),
    )
    await session.flush()
    supersedes = previous.version_no if previous is not None else None
    await events.item_published(session, draft, owner_org=item.owner_org, supersedes=supersedes)
    return draft


async def publish_draft(
    session: AsyncSession, principal: Principal, *, item_code: str, based_on: BasedOn | None
) -> ItemVersion:
    """Publish the item's draft (发布): it becomes the live version and supersedes the old one."""
    item = await get_item(session, item_code, lock=True)
    require_admin_of(principal, item.owner_org, what=f"Item {item_code}'s unit")
    draft = await draft_of(session, item_code)
    require_based_on_current(based_on, etag(draft), what=f"the draft of item {item_code}")
    return await _publish(session, item, draft, actor=principal.username, via=API)


async def retire_item(
    session: AsyncSession,
    principal: Principal,
    *,
    item_code: str,
    based_on: BasedOn | None,
    reason: str | None,
) -> ItemVersion:
    """Retire the live version (停止实施): no unit offers the item any more; running cases keep theirs."""
    item = await get_item(session, item_code, lock=True)
    require_admin_of(principal, item.owner_org, what=f"Item {item_code}'s unit")
    version = await current_version(session, item_code)
    require_based_on_current(based_on, etag(version), what=f"item {item_code}")
    if version.state != VersionState.published:
        raise Conflict(f"Item {item_code} is already retired", slug="item-already-retired")
    now = utcnow()
    version.state, version.retired_at, version.retired_by = VersionState.retired, now, principal.username
    item.state, item.updated_at = VersionState.retired, now
    session.add_all([version, item])
    await audit.record(
        session,
        entity="item",
        key=item_code,
        version_no=version.version_no,
        action="retired",
        actor=principal.username,
        via=API,
        changes=[*audit.state_change(VersionState.published, VersionState.retired), ("reason", None, reason)],
    )
    await session.flush()
    await events.item_retired(session, version, reason=reason)
    return version


async def publish_item(
    session: AsyncSession,
    *,
    item_code: str,
    data: ItemUpsert,
    actor: str = "system",
    owner_org: str = "",
    via: str = API,
) -> tuple[ItemVersion, bool]:
    """Write ``data`` as the item's next version and publish it at once (the import's path, whose
    job has checked the jurisdiction); ``(version, changed)``. The same content as the live version
    changes nothing and emits nothing."""
    item = await session.get(Item, item_code)
    if item is not None and item.published_version is not None and item.draft_version is None:
        live = await get_version(session, item_code, item.published_version)
        if live.state == VersionState.published and live.content_hash == content_hash(content_of(data)):
            return live, False
    draft, _ = await _write_draft(session, item, item_code, data, actor=actor, owner=owner_org, via=via)
    published = await _publish(session, await get_item(session, item_code), draft, actor=actor, via=via)
    return published, True


async def versions(session: AsyncSession, item_code: str, *, include_drafts: bool) -> list[VersionSummary]:
    await get_item(session, item_code)
    query = select(ItemVersion).where(ItemVersion.item_code == item_code)
    if not include_drafts:
        query = query.where(ItemVersion.state != VersionState.draft)
    rows = (await session.exec(query.order_by(col(ItemVersion.version_no)))).all()
    return [VersionSummary.model_validate(v, from_attributes=True) for v in rows]


async def visible_versions(
    session: AsyncSession, principal: Principal | None, item_code: str
) -> list[VersionSummary]:
    """The item's versions as the caller may see them: with the draft for an admin of its owner."""
    item = await get_item(session, item_code)
    return await versions(session, item_code, include_drafts=is_admin_of(principal, item.owner_org))


def live_versions() -> SelectOfScalar[ItemVersion]:
    """A query of the live version of every published item."""
    return (
        select(ItemVersion)
        .join(Item, col(Item.item_code) == col(ItemVersion.item_code))
        .where(Item.state == VersionState.published, ItemVersion.version_no == Item.published_version)
    )


async def published_items(
    session: AsyncSession, item_codes: list[str] | None = None
) -> dict[str, ItemVersion]:
    """The live version of every published item (or of the given ones), by item code."""
    query = live_versions()
    if item_codes is not None:
        query = query.where(col(Item.item_code).in_(item_codes))
    return {v.item_code: v for v in (await session.exec(query)).all()}


async def import_draft(
    session: AsyncSession, principal: Principal, *, item_code: str, data: ItemUpsert, via: str
) -> bool:
    """An imported row as the item's draft, left for review (no version named: the import is the
    edit, and its job has checked the jurisdiction); True when it changed anything."""
    item = await session.get(Item, item_code)
    if item is not None and item.draft_version is None and item.published_version is not None:
        live = await get_version(session, item_code, item.published_version)
        if live.state == VersionState.published and live.content_hash == content_hash(content_of(data)):
            return False
    _, changed = await _write_draft(
        session, item, item_code, data, actor=principal.username, owner=principal.org_code, via=via
    )
    return changed
