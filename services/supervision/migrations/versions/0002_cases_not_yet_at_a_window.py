"""cases not yet at a window: a case only collected (or handed up) is no longer shown as received

The status column keeps its type (``CaseStatus`` values as VARCHAR(20), no native enum: the same
column as before, so there is no schema change). Until now a case's view started at ``received``, so a
case collected at a village, or handed up but not yet received at a hall, read as received at a window.
The view now starts at the lowest status and only moves forward; this brings the stored views to what
replaying their events gives.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 05:20:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEVER_RECEIVED = (
    "status = 'received' AND NOT EXISTS (SELECT 1 FROM timeline_entry t "
    "WHERE t.case_id = case_view.case_id AND t.type = 'case.received')"
)


def upgrade() -> None:
    op.execute(
        f"UPDATE case_view SET status = 'handed_up' WHERE {_NEVER_RECEIVED} AND EXISTS "
        "(SELECT 1 FROM timeline_entry t WHERE t.case_id = case_view.case_id AND t.type = 'case.handed_up')"
    )
    op.execute(f"UPDATE case_view SET status = 'collected' WHERE {_NEVER_RECEIVED}")


def downgrade() -> None:
    # Nothing to undo: the earlier code reads ``collected`` and ``handed_up`` views as they are.
    pass
