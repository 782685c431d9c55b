"""Catalogue domain logic for the org tree and the service items' versions (plain functions, no HTTP).

An item's versions go draft → published → retired. Editing writes a draft while the published version
stays live; publishing the draft supersedes (retires) the old version, whose content never changes.
Every change leaves audit rows and every publication an outbox event, in the caller's transaction.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlmodel import Session, col, func, select

from services.catalogue import audit
from services.catalogue.etags import require_match
from services.catalogue.events import emit_item_published, emit_item_retired
from services.catalogue.models import Item, ItemVersion, Org, VersionState
from services.catalogue.schemas import ItemRead, ItemUpsert, OrgUpsert, VersionSummary, labels_of
from shared.auth import Principal, Role, require_roles
from shared.divisions import level_of, parent_of
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.events.outbox import utcnow

API = "api"


# -- the org tree ------------------------------------------------------------------------------------


def upsert_org(session: Session, *, code: str, data: OrgUpsert, actor: str = "system") -> tuple[Org, bool]:
    """Create or update a unit; its level and parent follow from the code."""
    try:
        level = level_of(code)
    except ValueError as exc:
        raise InvalidInput(str(exc), slug="invalid-org-code") from exc
    org = session.get(Org, code)
    created = org is None
    before = {} if org is None else {"name": org.name, "address": org.address, "phone": org.phone}
    org = org or Org(code=code, name=data.name, level=level.value)
    org.name, org.address, org.phone = data.name, data.address, data.phone
    org.parent_code = parent_of(code) if level.value != "province" else None
    session.add(org)
    changes = audit.changed_fields(before, data.model_dump())
    if changes:
        audit.record(
            session,
            entity="org",
            key=code,
            version_no=None,
            action="created" if created else "updated",
            actor=actor,
            via=API,
            changes=changes,
        )
    session.flush()
    return org, created


def get_org(session: Session, code: str) -> Org:
    org = session.get(Org, code)
    if org is None:
        raise NotFound(f"No unit with code {code}", slug="org-not-found")
    return org


def list_orgs(
    session: Session, *, level: str | None, parent_code: str | None, after: str | None, limit: int
) -> list[Org]:
    query = select(Org).order_by(col(Org.code))
    if level:
        query = query.where(Org.level == level)
    if parent_code:
        query = query.where(Org.parent_code == parent_code)
    if after:
        query = query.where(col(Org.code) > after)
    return list(session.exec(query.limit(limit)).all())


# -- items and their versions ----------------------------------------------------------------------


def require_admin_of(principal: Principal, org_code: str) -> None:
    """A catalogue write needs an admin whose jurisdiction holds the unit that owns the record."""
    require_roles(principal, Role.admin)
    if org_code and not principal.governs(org_code):
        raise Forbidden(f"{org_code} is outside your jurisdiction", slug="outside-jurisdiction")


def content_of(data: ItemUpsert) -> dict[str, Any]:
    """What a version stores: every attribute in its exchange form (codes, not labels)."""
    return data.model_dump(mode="json", exclude={"handling_type"})


def content_hash(content: dict[str, Any]) -> str:
    canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def etag(version: ItemVersion) -> str:
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


def get_item(session: Session, item_code: str, *, lock: bool = False) -> Item:
    """The item; ``lock`` holds its row until the transaction ends (writers queue, on PostgreSQL)."""
    item = session.get(Item, item_code, with_for_update=lock)
    if item is None:
        raise NotFound(f"No service item with code {item_code}", slug="item-not-found")
    return item


def get_version(session: Session, item_code: str, version_no: int) -> ItemVersion:
    version = session.get(ItemVersion, (item_code, version_no))
    if version is None:
        raise NotFound(f"Item {item_code} has no version {version_no}", slug="item-version-not-found")
    return version


def current_version(session: Session, item_code: str) -> ItemVersion:
    """The version the public sees: the live one, or the last one of a retired item."""
    item = get_item(session, item_code)
    if item.published_version is None:
        raise NotFound(f"Item {item_code} has not been published yet", slug="item-not-published")
    return get_version(session, item_code, item.published_version)


def draft_of(session: Session, item_code: str) -> ItemVersion:
    item = get_item(session, item_code)
    if item.draft_version is None:
        raise NotFound(f"Item {item_code} has no draft", slug="draft-not-found")
    return get_version(session, item_code, item.draft_version)


def _next_version_no(session: Session, item_code: str) -> int:
    latest = session.exec(
        select(func.max(ItemVersion.version_no)).where(ItemVersion.item_code == item_code)
    ).one()
    return int(latest or 0) + 1


def _write_draft(
    session: Session, item: Item | None, item_code: str, data: ItemUpsert, *, actor: str, owner: str, via: str
) -> tuple[ItemVersion, bool]:
    """Create or replace the draft; ``(draft, changed)``. Callers have checked the If-Match."""
    content = content_of(data)
    digest = content_hash(content)
    if item is None:
        item = Item(item_code=item_code, owner_org=owner, name=data.name, search_text=search_text(content))
        session.add(item)
        session.flush()
    if item.draft_version is not None:
        draft = get_version(session, item_code, item.draft_version)
        if draft.content_hash == digest:
            return draft, False
        changes = audit.changed_fields(draft.content, content)
        draft.content, draft.content_hash, draft.revision = content, digest, draft.revision + 1
        action = "draft_updated"
    else:
        base = session.get(ItemVersion, (item_code, item.published_version or 0))
        changes = audit.changed_fields(base.content if base else {}, content)
        draft = ItemVersion(
            item_code=item_code,
            version_no=_next_version_no(session, item_code),
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
    audit.record(
        session,
        entity="item",
        key=item_code,
        version_no=draft.version_no,
        action=action,
        actor=actor,
        via=via,
        changes=changes,
    )
    session.flush()
    return draft, True


def write_draft(
    session: Session, principal: Principal, *, item_code: str, data: ItemUpsert, if_match: str | None
) -> tuple[ItemVersion, bool]:
    """Write the item's draft (创建/修改草稿); the published version stays live. ``(draft, created)``.

    ``If-Match`` names the draft, or, when there is none, the published version the edit starts from;
    a new item is created without one.
    """
    item = session.get(Item, item_code, with_for_update=True)
    owner = item.owner_org if item else principal.org_code
    require_admin_of(principal, owner)
    base: ItemVersion | None = None
    if item is not None:
        base = session.get(ItemVersion, (item_code, item.draft_version or item.published_version or 0))
    require_match(if_match, etag(base) if base else None, what=f"item {item_code}")
    created = item is None or item.draft_version is None
    draft, _ = _write_draft(session, item, item_code, data, actor=principal.username, owner=owner, via=API)
    return draft, created


def _publish(session: Session, item: Item, draft: ItemVersion, *, actor: str, via: str) -> ItemVersion:
    now = utcnow()
    previous = session.get(ItemVersion, (item.item_code, item.published_version or 0))
    if previous is not None and previous.state == VersionState.published:
        previous.state, previous.retired_at, previous.retired_by = VersionState.retired, now, actor
        previous.superseded_by = draft.version_no
        session.add(previous)
        audit.record(
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
    audit.record(
        session,
        entity="item",
        key=item.item_code,
        version_no=draft.version_no,
        action="published",
        actor=actor,
        via=via,
        changes=audit.state_change(VersionState.draft, VersionState.published),
    )
    session.flush()
    supersedes = previous.version_no if previous is not None else None
    emit_item_published(session, draft, owner_org=item.owner_org, supersedes=supersedes)
    return draft


def publish_draft(
    session: Session, principal: Principal, *, item_code: str, if_match: str | None
) -> ItemVersion:
    """Publish the item's draft (发布): it becomes the live version and supersedes the old one."""
    item = get_item(session, item_code, lock=True)
    require_admin_of(principal, item.owner_org)
    draft = draft_of(session, item_code)
    require_match(if_match, etag(draft), what=f"the draft of item {item_code}")
    return _publish(session, item, draft, actor=principal.username, via=API)


def retire_item(
    session: Session, principal: Principal, *, item_code: str, if_match: str | None, reason: str | None
) -> ItemVersion:
    """Retire the live version (停止实施): no unit offers the item any more; running cases keep theirs."""
    item = get_item(session, item_code, lock=True)
    require_admin_of(principal, item.owner_org)
    version = current_version(session, item_code)
    require_match(if_match, etag(version), what=f"item {item_code}")
    if version.state != VersionState.published:
        raise Conflict(f"Item {item_code} is already retired", slug="item-already-retired")
    now = utcnow()
    version.state, version.retired_at, version.retired_by = VersionState.retired, now, principal.username
    item.state, item.updated_at = VersionState.retired, now
    session.add_all([version, item])
    audit.record(
        session,
        entity="item",
        key=item_code,
        version_no=version.version_no,
        action="retired",
        actor=principal.username,
        via=API,
        changes=[*audit.state_change(VersionState.published, VersionState.retired), ("reason", None, reason)],
    )
    session.flush()
    emit_item_retired(session, version, reason=reason)
    return version


def publish_item(
    session: Session,
    *,
    item_code: str,
    data: ItemUpsert,
    actor: str = "system",
    owner_org: str = "",
    via: str = API,
) -> tuple[ItemVersion, bool]:
    """Write ``data`` as the item's next version and publish it at once (the import's path);
    ``(version, changed)``. The same content as the live version changes nothing and emits nothing."""
    item = session.get(Item, item_code)
    if item is not None and item.published_version is not None and item.draft_version is None:
        live = get_version(session, item_code, item.published_version)
        if live.state == VersionState.published and live.content_hash == content_hash(content_of(data)):
            return live, False
    draft, _ = _write_draft(session, item, item_code, data, actor=actor, owner=owner_org, via=via)
    return _publish(session, get_item(session, item_code), draft, actor=actor, via=via), True


def versions(session: Session, item_code: str, *, include_drafts: bool) -> list[VersionSummary]:
    get_item(session, item_code)
    query = select(ItemVersion).where(ItemVersion.item_code == item_code)
    if not include_drafts:
        query = query.where(ItemVersion.state != VersionState.draft)
    rows = session.exec(query.order_by(col(ItemVersion.version_no))).all()
    return [VersionSummary.model_validate(v, from_attributes=True) for v in rows]


def published_items(session: Session, item_codes: list[str] | None = None) -> dict[str, ItemVersion]:
    """The live version of every published item (or of the given ones), by item code."""
    query = (
        select(ItemVersion)
        .join(Item, col(Item.item_code) == col(ItemVersion.item_code))
        .where(Item.state == VersionState.published, ItemVersion.version_no == Item.published_version)
    )
    if item_codes is not None:
        query = query.where(col(Item.item_code).in_(item_codes))
    return {v.item_code: v for v in session.exec(query).all()}


def import_draft(
    session: Session, principal: Principal, *, item_code: str, data: ItemUpsert, via: str
) -> bool:
    """An imported row as the item's draft, left for review (no If-Match: the import is the edit);
    True when it changed anything."""
    item = session.get(Item, item_code)
    if item is not None and item.draft_version is None and item.published_version is not None:
        live = get_version(session, item_code, item.published_version)
        if live.state == VersionState.published and live.content_hash == content_hash(content_of(data)):
            return False
    _, changed = _write_draft(
        session, item, item_code, data, actor=principal.username, owner=principal.org_code, via=via
    )
    return changed
