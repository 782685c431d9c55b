"""Catalogue domain logic: the org tree and published items (plain functions, no HTTP)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from services.catalogue.models import Item, Org
from services.catalogue.schemas import ItemUpsert, OrgUpsert
from shared.divisions import level_of, parent_of
from shared.errors import InvalidInput, NotFound
from shared.events import EventType, emit
from shared.events.outbox import utcnow
from shared.events.types import ItemPublishedV1, MaterialRef

SOURCE = "catalogue"


def upsert_org(session: Session, *, code: str, data: OrgUpsert) -> tuple[Org, bool]:
    """Create or update a unit; its level and parent follow from the code."""
    try:
        level = level_of(code)
    except ValueError as exc:
        raise InvalidInput(str(exc), slug="invalid-org-code") from exc
    org = session.get(Org, code)
    created = org is None
    org = org or Org(code=code, name=data.name, level=level.value)
    org.name, org.address, org.phone = data.name, data.address, data.phone
    org.parent_code = parent_of(code) if level.value != "province" else None
    session.add(org)
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


def publish_item(session: Session, *, item_code: str, data: ItemUpsert) -> tuple[Item, bool]:
    """Publish an item; a changed item gets the next version number and an ``item.published`` event."""
    item = session.get(Item, item_code)
    fields = data.model_dump()
    fields["materials"] = [m.model_dump() for m in data.materials]
    if item is not None and all(getattr(item, k) == v for k, v in fields.items()):
        return item, False
    if item is None:
        item = Item(item_code=item_code, **fields)
    else:
        for key, value in fields.items():
            setattr(item, key, value)
        item.version_no += 1
    item.published_at = utcnow()
    session.add(item)
    session.flush()
    emit(
        session,
        source=SOURCE,
        type=EventType.item_published,
        subject=item_code,
        data=ItemPublishedV1(
            item_code=item.item_code,
            version_no=item.version_no,
            name=item.name,
            deciding_level=item.deciding_level,
            agent_may_take=item.agent_may_take,
            immediate=item.immediate,
            promised_days=item.promised_days,
            legal_days=item.legal_days,
            materials=[MaterialRef.model_validate(m) for m in item.materials],
        ),
    )
    return item, True


def get_item(session: Session, item_code: str) -> Item:
    item = session.get(Item, item_code)
    if item is None:
        raise NotFound(f"No service item with code {item_code}", slug="item-not-found")
    return item


def items_offered_at(session: Session, *, org_code: str | None, after: str | None, limit: int) -> list[Item]:
    query = select(Item).order_by(col(Item.item_code))
    if after:
        query = query.where(col(Item.item_code) > after)
    items = list(session.exec(query).all())
    if org_code:
        level = get_org(session, org_code).level
        items = [i for i in items if level in i.offered_at]
    return items[:limit]
