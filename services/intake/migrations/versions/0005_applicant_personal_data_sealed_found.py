"""applicant personal data sealed, found by keyed hash

The applicant's name, 身份证号 and phone of every existing case are sealed with the installation's
personal-data key (shared/personal_data.py, found exactly as the services find it; generated under
var/keys outside production), and the keyed hash of the 身份证号 is added for lookups. The 身份证号
column widens to hold the sealed value. Downgrading opens them again.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 05:37:11.085609
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from shared.personal_data import open_applicant_rows, seal_applicant_rows

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "intake_case"


def upgrade() -> None:
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "applicant_id_number_hash",
                sqlmodel.sql.sqltypes.AutoString(length=64),
                nullable=False,
                server_default="",
            )
        )
        batch_op.alter_column(
            "applicant_id_number",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=18),
            type_=sa.String(),
            existing_nullable=False,
        )
        batch_op.create_index(
            batch_op.f("ix_intake_case_applicant_id_number_hash"), ["applicant_id_number_hash"], unique=False
        )

    # Data: every case in clear is sealed, with its lookup hash (shared/personal_data.py).
    seal_applicant_rows(op.get_bind(), TABLE)

    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.alter_column(
            "applicant_id_number_hash",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=64),
            existing_nullable=False,
            server_default=None,
        )


def downgrade() -> None:
    open_applicant_rows(op.get_bind(), TABLE)

    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intake_case_applicant_id_number_hash"))
        batch_op.alter_column(
            "applicant_id_number",
            existing_type=sa.String(),
            type_=sqlmodel.sql.sqltypes.AutoString(length=18),
            existing_nullable=False,
        )
        batch_op.drop_column("applicant_id_number_hash")
