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

from sqlmodel import Session, col, func, select

from services.catalogue import audit, search, service
from services.catalogue.etags import require_match
from services.catalogue.events import emit_directory_published
from services.catalogue.models import DirectoryVersion, Item, ItemVersion, Org, VersionState
from services.catalogue.schemas import DirectoryEntry, DirectoryRead, DirectoryUpsert, HandledBy, UnitOverride
from shared.auth import Principal
from shared.divisions import Level, ancestor_at, in_subtree, level_of
from shared.errors import InvalidInput, NotFound
from shared.events.outbox import utcnow

LEVEL_ABOVE = {"village": Level.town, "town": Level.county}
LEVEL_NAMES = {"town": "乡镇(街道)", "village": "村(社区)"}
TITLES = {"town": "乡镇(街道)为民服务事项目录", "village": "村(社区)为民服务事项指导目录"}


def etag(directory: DirectoryVersion) -> str:
    return f'"{directory.county_code}-{directory.level}-v{directory.version_no}-r{directory.revision}"'


def _county(code: str) -> str:
    try:
        is_county = level_of(code) == Level.county
    except ValueError:
        is_county = False
    if not is_county:
        raise InvalidInput(f"{code} is not a county's code", slug="not-a-county")
    return code


def _in_state(
    session: Session, county_code: str, level: str, state: VersionState, *, lock: bool = False
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
    return session.exec(query.with_for_update() if lock else query).first()


def published(session: Session, county_code: str, level: str) -> DirectoryVersion:
    found = _in_state(session, _county(county_code), level, VersionState.published)
    if found is None:
        raise NotFound(f"{county_code} has published no {level} directory", slug="directory-not-found")
    return found


def draft(session: Session, county_code: str, level: str) -> DirectoryVersion:
    found = _in_state(session, _county(county_code), level, VersionState.draft)
    if found is None:
        raise NotFound(f"{county_code} has no draft {level} directory", slug="draft-not-found")
    return found


def read(directory: DirectoryVersion) -> DirectoryRead:
    return DirectoryRead.model_validate(directory, from_attributes=True)


def _content(data: DirectoryUpsert) -> dict[str, Any]:
    return data.model_dump(mode="json")


def _hash(content: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _check(session: Session, county_code: str, level: str, data: DirectoryUpsert) -> None:
    problems = []
    codes = {e.item_code for e in data.entries} | {o.item_code for o in data.overrides}
    known = set(session.exec(select(Item.item_code).where(col(Item.item_code).in_(codes))).all())
    problems += [f"未知的事项编码 {code}" for code in sorted(codes - known)]
    for override in data.overrides:
        if not in_subtree(county_code, override.org_code) or level_of(override.org_code) != level:
            problems.append(f"{override.org_code} 不是本县的{LEVEL_NAMES[level]}")
    if problems:
        raise InvalidInput("；".join(problems), slug="invalid-directory", problems=problems)


def write_draft(
    session: Session,
    principal: Principal,
    *,
    county_code: str,
    level: str,
    data: DirectoryUpsert,
    if_match: str | None,
) -> tuple[DirectoryVersion, bool]:
    """Write the draft of a county's directory for a level; ``(draft, created)``."""
    service.require_admin_of(principal, _county(county_code))
    current = _in_state(session, county_code, level, VersionState.draft, lock=True)
    base = current or _in_state(session, county_code, level, VersionState.published, lock=True)
    require_match(if_match, etag(base) if base else None, what=f"the {level} directory of {county_code}")
    _check(session, county_code, level, data)
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
        latest = session.exec(
            select(func.max(DirectoryVersion.version_no)).where(
                DirectoryVersion.county_code == county_code, DirectoryVersion.level == level
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
    audit.record(
        session,
        entity="directory",
        key=f"{county_code}-{level}",
        version_no=directory.version_no,
        action=action,
        actor=principal.username,
        via=service.API,
        changes=audit.changed_fields(before, content),
    )
    session.flush()
    return directory, current is None


def publish_draft(
    session: Session, principal: Principal, *, county_code: str, level: str, if_match: str | None
) -> DirectoryVersion:
    """Publish the draft directory; every item it lists must be published (not retired)."""
    service.require_admin_of(principal, _county(county_code))
    new = _in_state(session, county_code, level, VersionState.draft, lock=True)
    if new is None:
        raise NotFound(f"{county_code} has no draft {level} directory", slug="draft-not-found")
    require_match(if_match, etag(new), what=f"the draft {level} directory of {county_code}")
    listed = {e["item_code"] for e in new.entries} | {
        o["item_code"] for o in new.overrides if o["action"] == "add"
    }
    unpublished = sorted(listed - set(service.published_items(session, sorted(listed))))
    if unpublished:
        raise InvalidInput(
            f"目录列出的事项尚未发布或已停止实施: {'、'.join(unpublished)}",
            slug="directory-lists-unpublished-items",
            item_codes=unpublished,
        )
    now = utcnow()
    key = f"{county_code}-{level}"
    old = _in_state(session, county_code, level, VersionState.published)
    if old is not None:
        old.state, old.retired_at, old.superseded_by = VersionState.retired, now, new.version_no
        session.add(old)
        audit.record(
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
    audit.record(
        session,
        entity="directory",
        key=key,
        version_no=new.version_no,
        action="published",
        actor=principal.username,
        via=service.API,
        changes=audit.state_change(VersionState.draft, VersionState.published),
    )
    session.flush()
    emit_directory_published(session, new)
    return new


# -- what a unit offers ----------------------------------------------------------------------------


@dataclass
class Offer:
    version: ItemVersion
    served: bool
    handled_by: HandledBy | None
    listed_by: str


def _handled_by(session: Session, org_code: str, level: str, entry: DirectoryEntry) -> HandledBy:
    code = entry.handled_by_org or ancestor_at(org_code, Level(entry.handled_at or LEVEL_ABOVE[level]))
    org = session.get(Org, code)
    if org is None:
        return HandledBy(org_code=code, name=code)
    return HandledBy(org_code=org.code, name=org.name, address=org.address, phone=org.phone)


def offers_at(session: Session, org_code: str) -> list[Offer]:
    """The unit's effective list: its level's published directory ± its own overrides.

    A county (or city) hall offers every live item it owns."""
    org = service.get_org(session, org_code)
    if org.level not in LEVEL_ABOVE:
        live = service.published_items(session)
        owned = session.exec(
            select(Item.item_code).where(Item.owner_org == org_code, col(Item.item_code).in_(list(live)))
        ).all()
        return [Offer(live[code], True, None, "catalogue") for code in sorted(owned)]
    county = ancestor_at(org_code, Level.county)
    directory = _in_state(session, county, org.level, VersionState.published)
    if directory is None:
        return []
    listing: dict[str, tuple[DirectoryEntry, str]] = {
        e["item_code"]: (DirectoryEntry.model_validate(e), "directory") for e in directory.entries
    }
    for raw in directory.overrides:
        override = UnitOverride.model_validate(raw)
        if override.org_code != org_code:
            continue
        if override.action == "withhold":
            listing.pop(override.item_code, None)
        else:
            listing[override.item_code] = (override, "unit_override")
    live = service.published_items(session, sorted(listing))
    offers = []
    for code in sorted(listing):
        if code in live:
            entry, listed_by = listing[code]
            handled = None if entry.served else _handled_by(session, org_code, org.level, entry)
            offers.append(Offer(live[code], entry.served, handled, listed_by))
    return offers


def find_offers(
    session: Session,
    *,
    org_code: str | None,
    q: str | None,
    item_type: str | None = None,
    deciding_level: str | None = None,
    agent_may_take: bool | None = None,
) -> list[Offer]:
    """Items at a unit (or every live item), filtered, and ranked by the search when ``q`` is given."""
    if org_code:
        offers = offers_at(session, org_code)
    else:
        offers = [
            Offer(v, True, None, "catalogue") for _, v in sorted(service.published_items(session).items())
        ]
    offers = [
        o
        for o in offers
        if (item_type is None or o.version.content["item_type"] == item_type)
        and (deciding_level is None or o.version.content["deciding_level"] == deciding_level)
        and (agent_may_take is None or o.version.content["agent_may_take"] == agent_may_take)
    ]
    if not q:
        return offers
    by_code = {o.version.item_code: o for o in offers}
    ranked = search.rank(q, ((code, service.search_text(o.version.content)) for code, o in by_code.items()))
    return [by_code[code] for code in ranked]
