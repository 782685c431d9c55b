"""idempotency fingerprint: the same Idempotency-Key with another body is told apart

The shared ``IdempotencyRecord`` gained ``fingerprint`` (a hash of the request's path and body).
Records written before it keep an empty fingerprint, which the dependency treats as "any body".

The case status column becomes ``CaseStatus`` (shared/case_status.py) in the model only: it is a
VARCHAR(20) with the same values as before, so the database needs no change for it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 05:05:25.897346
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        # Existing rows need a value for the NOT NULL column: the empty fingerprint of old records.
        batch_op.add_column(
            sa.Column(
                "fingerprint",
                sqlmodel.sql.sqltypes.AutoString(length=64),
                nullable=False,
                server_default="",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.drop_column("fingerprint")
