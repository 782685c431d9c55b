"""case status values from CaseStatus: a case waiting for its decision is ``accepted``, not ``pending``

The column becomes the shared status column type (``CaseStatus`` values as VARCHAR(20), no native
enum); the rows waiting for a decision move from approval's own ``pending`` to ``accepted``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 05:05:36.829354
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("approval_case", schema=None) as batch_op:
        batch_op.alter_column(
            "status",
            existing_type=sa.VARCHAR(length=16),
            type_=sa.String(length=20),
            existing_nullable=False,
        )
    op.execute("UPDATE approval_case SET status = 'accepted' WHERE status = 'pending'")


def downgrade() -> None:
    op.execute("UPDATE approval_case SET status = 'pending' WHERE status = 'accepted'")
    with op.batch_alter_table("approval_case", schema=None) as batch_op:
        batch_op.alter_column(
            "status",
            existing_type=sa.String(length=20),
            type_=sa.VARCHAR(length=16),
            existing_nullable=False,
        )
