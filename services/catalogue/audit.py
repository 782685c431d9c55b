"""The catalogue's audit trail: who changed what, when, with the old and the new value of each field."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.catalogue.models import AuditRecord
from services.catalogue.schemas import AuditRead
from shared.pagination import Page, keyset_page


def _text(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def changed_fields(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str | None, Any, Any]]:
    """(field, old, new) for every top-level field whose value differs."""
    return [(k, old.get(k), new.get(k)) for k in sorted(old.keys() | new.keys()) if old.get(k) != new.get(k)]


async def record(
    session: AsyncSession,
    *,
    entity: str,
    key: str,
    version_no: int | None,
    action: str,
    actor: str,
    via: str,
    changes: list[tuple[str | None, Any, Any]] | None = None,
) -> None:
    """One row per changed field, or one row for an action that changes no field (e.g. publish).

    The rows go in as one bulk INSERT (an item's first version changes every field: a row-by-row
    insert would be a round trip each), in the caller's transaction."""
    rows = [
        AuditRecord(
            entity=entity,
            entity_key=key,
            version_no=version_no,
            action=action,
            field=field,
            old_value=_text(old),
            new_value=_text(new),
            actor=actor,
            via=via,
        ).model_dump(exclude={"id"})
        for field, old, new in changes or [(None, None, None)]
    ]
    await session.exec(insert(AuditRecord), params=rows)


def state_change(old: str | None, new: str) -> list[tuple[str | None, Any, Any]]:
    return [("state", old, new)]


async def trail(
    session: AsyncSession, *, entity: str, key: str, after: str | None, limit: int
) -> Page[AuditRecord]:
    """One page of the record's changes, oldest first; ``after`` is the previous page's cursor."""
    query = select(AuditRecord).where(AuditRecord.entity == entity, AuditRecord.entity_key == key)
    return await keyset_page(session, query, col(AuditRecord.id), after=after, limit=limit)


def read(row: AuditRecord) -> AuditRead:
    return AuditRead(
        entity=row.entity,
        entity_key=row.entity_key,
        version_no=row.version_no,
        action=row.action,
        field=row.field,
        old_value=None if row.old_value is None else json.loads(row.old_value),
        new_value=None if row.new_value is None else json.loads(row.new_value),
        actor=row.actor,
        via=row.via,
        at=row.at,
    )
