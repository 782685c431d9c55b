"""The county's directories and what each unit offers.

The directories are 《乡镇为民服务事项目录》 and 《村(社区)为民服务事项指导目录》.

A county publishes one directory per level; every town (or village) inherits its level's directory,
and a county admin may add an item for one unit or withhold one from it (the directory's overrides).
Directories are versioned like items: a draft is edited, publishing supersedes the old version.
An item listed but not served by the unit's own hall names the unit that handles it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.catalogue import audit, events, search, service
from services.catalogue.models import AuditRecord, DirectoryVersion, Item, ItemVersion, Org, VersionState
from services.catalogue.preconditions import BasedOn, require_based_on_current
from services.catalogue.schemas import DirectoryEntry, DirectoryRead, DirectoryUpsert, HandledBy, UnitOverride
from shared.auth import Principal
from shared.clock import utcnow
from shared.divisions import Level, ancestor_at, in_subtree, level_of
from shared.errors import InvalidInput, NotFound
from shared.pagination import Page, keyset_page

LEVEL_ABOVE = {"village": Level.town, "town": Level.county}
LEVEL_NAMES = {"town": "乡镇(街道)", "village": "村(社区)"}
TITLES = {"town": "乡镇(街道)为民服务事项目录", "village": "村(社区)为民服务事项指导目录"}


def etag(directory: DirectoryVersion) -> str:
    """The directory version's tag (its ETag): the county, the level, the version, the revision."""
    return f'"{directory.county_code}-{directory.level}-v{directory.version_no}-r{directory.revision}"'


def _county(code: str) -> str:
    try:
        is_county = level_of(code) == Level.county
    except ValueError:
        is_county = False
    if not is_county:
        raise InvalidInput(f"{code} is not a county's code", slug="not-a-county")
    return code


async def _in_state(
    session: AsyncSession, county_code: str, level: str, state: VersionState, *, lock: bool = False
) -> DirectoryVersion | None:
    query = (
        select(DirectoryVersion)
        .where(
            DirectoryVersion.county_code == county_code,
            DirectoryVersion.level == level,
            DirectoryVersion.state == state,
        )
        .order_by(col(DirectoryVersion.version_no).desc())
    )
    return (await session.exec(query.with_for_update() if lock else query)).first()


async def published(session: AsyncSession, county_code: str, level: str) -> DirectoryVersion:
    found = await _in_state(session, _county(county_code), level, VersionState.published)
    if found is None:
        raise NotFound(f"{county_code} has published no {level} directory", slug="directory-not-found")
    return found


async def draft(session: AsyncSession, county_code: str, level: str) -> DirectoryVersion:
    found = await _in_state(session, _county(county_code), level, VersionState.draft)
    if found is None:
        raise NotFound(f"{county_code} has no draft {level} directory", slug="draft-not-found")
    return found


async def read_draft(
    session: AsyncSession, principal: Principal, *, county_code: str, level: str
) -> DirectoryVersion:
    """The draft directory, for an admin governing the county."""
    service.require_admin_of(principal, _county(county_code))
    return await draft(session, county_code, level)


async def audit_trail(
    session: AsyncSession,
    principal: Principal,
    *,
    county_code: str,
    level: str,
    after: str | None,
    limit: int,
) -> Page[AuditRecord]:
    """One page of the directory's audit trail, for an admin governing the county."""
    service.require_admin_of(principal, _county(county_code))
    key = f"{county_code}-{level}"
    return await audit.trail(session, entity="directory", key=key, after=after, limit=limit)


def read(directory: DirectoryVersion) -> DirectoryRead:
    return DirectoryRead.model_validate(directory, from_attributes=True)


def _content(data: DirectoryUpsert) -> dict[str, Any]:
    return data.model_dump(mode="json")


def _hash(content: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


async def _check(session: AsyncSession, county_code: str, level: str, data: DirectoryUpsert) -> None:
    problems = []
    codes = {e.item_code for e in data.entries} | {o.item_code for o in data.overrides}
    known = set((await session.exec(select(Item.item_code).where(col(Item.item_code).in_(codes)))).all())
    problems += [f"未知的事项编码 {code}" for code in sorted(codes - known)]
    for override in data.overrides:
        if not in_subtree(county_code, override.org_code) or level_of(override.org_code) != level:
            problems.append(f"{override.org_code} 不是本县的{LEVEL_NAMES[level]}")
    if problems:
        raise InvalidInput("；".join(problems), slug="invalid-directory", problems=problems)


async def write_draft(
    session: AsyncSession,
    principal: Principal,
    *,
    county_code: str,
    level: str,
    data: DirectoryUpsert,
    based_on: BasedOn | None,
) -> tuple[DirectoryVersion, bool]:
    """Write the draft of a county's directory for a level; ``(draft, created)``. ``based_on`` names
    the draft, or with no draft the published version; the first version is based on nothing."""
    service.require_admin_of(principal, _county(county_code))
    current = await _in_state(session, county_code, level, VersionState.draft, lock=True)
    base = current or await _in_state(session, county_code, level, VersionState.published, lock=True)
    what = f"the {level} directory of {county_code}"
    require_based_on_current(based_on, etag(base) if base else None, what=what)
    await _check(session, county_code, level, data)
    content = _content(data)
    digest = _hash(content)
    before = {"title": base.title, "entries": base.entries, "overrides": base.overrides} if base else {}
    if current is not None and current.content_hash == digest:
        return current, False
    if current is not None:
        current.title, current.entries, current.overrides = (
            data.title,
            content["entries"],
            content["overrides"],
        )
        current.content_hash, current.revision = digest, current.revision + 1
        directory, action = current, "draft_updated"
    else:
        latest = (
            await session.exec(
                select(func.max(DirectoryVersion.version_no)).where(
                    DirectoryVersion.county_code == county_code, DirectoryVersion.level == level
                )
            )
        ).one()
        directory = DirectoryVersion(
            county_code=county_code,
            level=level,
            version_no=int(latest or 0) + 1,
            title=data.title,
            entries=content["entries"],
            overrides=content["overrides"],
            content_hash=digest,
            created_by=principal.username,
        )
        action = "draft_created" if base else "created"
    session.add(directory)
    await audit.record(
        session,
        entity="directory",
        key=f"{county_code}-{level}",
        version_no=directory.version_no,
        action=action,
        actor=principal.username,
        via=service.API,
        changes=audit.changed_fields(before, content),
    )
    await session.flush()
    return directory, current is None


async def publish_draft(
    session: AsyncSession,
    principal: Principal,
    *,
    county_code: str,
    level: str,
    based_on: BasedOn | None,
) -> DirectoryVersion:
    """Publish the draft directory; every item it lists must be published (not retired)."""
    service.require_admin_of(principal, _county(county_code))
    new = await _in_state(session, county_code, level, VersionState.draft, lock=True)
    if new is None:
        raise NotFound(f"{county_code} has no draft {level} directory", slug="draft-not-found")
    require_based_on_current(based_on, etag(new), what=f"the draft {level} directory of {county_code}")
    listed = {e["item_code"] for e in new.entries} | {
        o["item_code"] for o in new.overrides if o["action"] == "add"
    }
    unpublished = sorted(listed - set(await service.published_items(session, sorted(listed))))
    if unpublished:
        raise InvalidInput(
            f"目录列出的事项尚未发布或已停止实施: {'、'.join(unpublished)}",
            slug="directory-lists-unpublished-items",
            item_codes=unpublished,
        )
    now = utcnow()
    key = f"{county_code}-{level}"
    old = await _in_state(session, county_code, level, VersionState.published)
    if old is not None:
        old.state, old.retired_at, old.superseded_by = VersionState.retired, now, new.version_no
        session.add(old)
        await audit.record(
            session,
            entity="directory",
            key=key,
            version_no=old.version_no,
            action="superseded",
            actor=principal.username,
            via=service.API,
            changes=audit.state_change(VersionState.published, VersionState.retired),
        )
    new.state, new.published_at, new.published_by = VersionState.published, now, principal.username
    session.add(new)
    await audit.record(
        session,
        entity="directory",
        key=key,
        version_no=new.version_no,
        action="published",
        actor=principal.username,
        via=service.API,
        changes=audit.state_change(VersionState.draft, VersionState.published),
    )
    await session.flush()
    await events.directory_published(session, new)
    return new


# -- what a unit offers ----------------------------------------------------------------------------


@dataclass
class Offer:
    version: ItemVersion
    served: bool
    handled_by: HandledBy | None
    listed_by: str


# What a unit's directory lists: item code -> (the entry, ``directory`` or ``unit_override``).
Listing = dict[str, tuple[DirectoryEntry, str]]


async def _handled_by(session: AsyncSession, org_code: str, level: str, entry: DirectoryEntry) -> HandledBy:
    code = entry.handled_by_org or ancestor_at(org_code, Level(entry.handled_at or LEVEL_ABOVE[level]))
    org = await session.get(Org, code)
    if org is None:
        return HandledBy(org_code=code, name=code)
    return HandledBy(org_code=org.code, name=org.name, address=org.address, phone=org.phone)


async def _listing(session: AsyncSession, org: Org) -> Listing | None:
    """The unit's level's published directory ± its own overrides; None for a county (or city) hall,
    which offers every live item it owns."""
    if org.level not in LEVEL_ABOVE:
        return None
    county = ancestor_at(org.code, Level.county)
    directory = await _in_state(session, county, org.level, VersionState.published)
    if directory is None:
        return {}
    listing: Listing = {
        e["item_code"]: (DirectoryEntry.model_validate(e), "directory") for e in directory.entries
    }
    for raw in directory.overrides:
        override = UnitOverride.model_validate(raw)
        if override.org_code != org.code:
            continue
        if override.action == "withhold":
            listing.pop(override.item_code, None)
        else:
            listing[override.item_code] = (override, "unit_override")
    return listing


@dataclass
class _Unit:
    """The unit a list is for (None: the whole catalogue) and what it lists."""

    org: Org | None
    listing: Listing | None

    async def offer(self, session: AsyncSession, version: ItemVersion) -> Offer:
        if self.org is None or self.listing is None:
            return Offer(version, True, None, "catalogue")
        entry, listed_by = self.listing[version.item_code]
        handled = None if entry.served else await _handled_by(session, self.org.code, self.org.level, entry)
        return Offer(version, entry.served, handled, listed_by)


async def _offered(
    session: AsyncSession,
    org_code: str | None,
    item_type: str | None,
    deciding_level: str | None,
    agent_may_take: bool | None,
) -> tuple[_Unit, list[ColumnElement[bool]]]:
    """What a unit (or the whole catalogue) offers, filtered: conditions on live versions' rows."""
    conditions: list[ColumnElement[bool]] = []
    unit = _Unit(None, None)
    if org_code:
        org = await service.get_org(session, org_code)
        unit = _Unit(org, await _listing(session, org))
        if unit.listing is None:
            conditions.append(col(Item.owner_org) == org_code)
        else:
            conditions.append(col(Item.item_code).in_(sorted(unit.listing)))
    content = col(ItemVersion.content)
    if item_type is not None:
        conditions.append(content["item_type"].as_string() == str(item_type))
    if deciding_level is not None:
        conditions.append(content["deciding_level"].as_string() == str(deciding_level))
    if agent_may_take is not None:
        conditions.append(content["agent_may_take"].as_boolean() == agent_may_take)
    return unit, conditions


async def _ranked(session: AsyncSession, q: str, conditions: list[ColumnElement[bool]]) -> list[str]:
    """The codes of the live items that match ``q``, best first. Ranks on ``Item.search_text`` (the
    live version's name, aliases and keywords), so no version's content is read to rank."""
    candidates = await session.exec(
        select(Item.item_code, Item.search_text)
        .join(ItemVersion, col(ItemVersion.item_code) == col(Item.item_code))
        .where(Item.state == VersionState.published, ItemVersion.version_no == Item.published_version)
        .where(*conditions)
    )
    return search.rank(q, candidates.all())


async def offers_at(session: AsyncSession, org_code: str) -> list[Offer]:
    """The unit's effective list: its level's published directory ± its own overrides.

    A county (or city) hall offers every live item it owns."""
    return await find_offers(session, org_code=org_code, q=None)


async def find_offers(
    session: AsyncSession,
    *,
    org_code: str | None,
    q: str | None,
    item_type: str | None = None,
    deciding_level: str | None = None,
    agent_may_take: bool | None = None,
) -> list[Offer]:
    """Items at a unit (or every live item), filtered, by code; ranked by the search when ``q`` is
    given."""
    unit, conditions = await _offered(session, org_code, item_type, deciding_level, agent_may_take)
    if not q:
        query = service.live_versions().where(*conditions).order_by(col(ItemVersion.item_code))
        return [await unit.offer(session, v) for v in (await session.exec(query)).all()]
    ranked = await _ranked(session, q, conditions)
    if not ranked:
        return []
    query = service.live_versions().where(col(Item.item_code).in_(ranked))
    found = {v.item_code: v for v in (await session.exec(query)).all()}
    return [await unit.offer(session, found[code]) for code in ranked]


async def offers_page(
    session: AsyncSession,
    *,
    org_code: str | None,
    q: str | None,
    item_type: str | None = None,
    deciding_level: str | None = None,
    agent_may_take: bool | None = None,
    after: str | None,
    limit: int,
) -> Page[Offer]:
    """One page of ``find_offers``: a keyset page by item code; with ``q``, a page of the ranking,
    which carries on after the cursor's item (and ends if that item no longer matches)."""
    if q:
        offers = await find_offers(
            session,
            org_code=org_code,
            q=q,
            item_type=item_type,
            deciding_level=deciding_level,
            agent_may_take=agent_may_take,
        )
        codes = [o.version.item_code for o in offers]
        start = 0 if not after else codes.index(after) + 1 if after in codes else len(codes)
        chosen = offers[start : start + limit]
        more = start + limit < len(offers)
        return Page(chosen, chosen[-1].version.item_code if more and chosen else None)
    unit, conditions = await _offered(session, org_code, item_type, deciding_level, agent_may_take)
    query = service.live_versions().where(*conditions)
    page = await keyset_page(session, query, col(ItemVersion.item_code), after=after, limit=limit)
    return Page([await unit.offer(session, v) for v in page.items], page.next_cursor)
