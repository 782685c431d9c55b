"""What the personal-data tests share: every stored row of a service as text, and an applicant no other
test uses, so that finding it in clear anywhere means it leaked."""

from __future__ import annotations

from datetime import date

from sqlalchemy import MetaData, inspect, select
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.identity_numbers import make_valid_id_number, mask_id_number, mask_name, mask_phone
from shared.schemas import Applicant


def distinctive_applicant(serial: str = "731") -> Applicant:
    return Applicant(
        name="司马懿清",
        id_number=make_valid_id_number("371424", date(1972, 5, 17), serial),
        phone="13607317245",
    )


def masked(applicant: Applicant) -> dict[str, str | None]:
    """The applicant as every API answer shows it."""
    return {
        "name": mask_name(applicant.name),
        "id_number": mask_id_number(applicant.id_number),
        "phone": mask_phone(applicant.phone) if applicant.phone else None,
    }


def in_clear(applicant: Applicant, text: str) -> list[str]:
    """Which of the applicant's name, 身份证号 and phone appear in ``text`` in clear."""
    return [
        value for value in (applicant.name, applicant.id_number, applicant.phone) if value and value in text
    ]


async def stored_text(engine: AsyncEngine) -> str:
    """Every row of every table of a service's database (or schema), as text."""

    def dump(sync_connection) -> str:  # type: ignore[no-untyped-def]
        metadata = MetaData()
        names = inspect(sync_connection).get_table_names()
        metadata.reflect(sync_connection, only=names)
        lines = []
        for table in metadata.sorted_tables:
            for row in sync_connection.execute(select(table)):
                lines.append(f"{table.name}: {tuple(row)!r} {tuple(str(v) for v in row)}")
        return "\n".join(lines)

    async with engine.connect() as connection:
        return await connection.run_sync(dump)
