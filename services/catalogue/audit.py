"""The catalogue's audit trail: who changed what, when, with the old and the new value of each field."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session, col, select

from services.catalogue.models import AuditRecord
from services.catalogue.schemas import AuditRead


def _text(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def changed_fields(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str | None, Any, Any]]:
    """(field, old, new) for every top-level field whose value differs."""
    return [(k, old.get(k), new.get(k)) for k in sorted(old.keys() | new.keys()) if old.get(k) != new.get(k)]


def record(
    session: Session,
    *,
    entity: str,
    key: str,
    version_no: int | None,
    action: str,
    actor: str,
    via: str,
    changes: list[tuple[str | None, Any, Any]] | None = None,
) -> None:
    """One row per changed field, or one row for an action that changes no field (e.g. publish)."""
    rows = changes or [(None, None, None)]
    for field, old, new in rows:
        session.add(
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
            )
        )


def state_change(old: str | None, new: str) -> list[tuple[str | None, Any, Any]]:
    return [("state", old, new)]


def trail(session: Session, *, entity: str, key: str, after: int | None, limit: int) -> list[AuditRecord]:
    query = select(AuditRecord).where(AuditRecord.entity == entity, AuditRecord.entity_key == key)
    if after is not None:
        query = query.where(col(AuditRecord.id) > after)
    return list(session.exec(query.order_by(col(AuditRecord.id)).limit(limit)).all())


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
