"""The applicant at the halls' windows: sealed in the intake database, found by a keyed hash, opened from
the sealed hand-up of a village agent (or read from one emitted before sealing), never sent on in clear."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.intake import service as intake_service
from services.intake.models import IntakeCase
from services.intake.routes import _read as intake_case_read
from shared import migrations
from shared.db import make_engine
from shared.events import Envelope, EventType
from shared.events.types import CaseAcceptedV1, CaseHandedUpV1
from shared.identity_numbers import mask_name
from shared.personal_data import applicant_of, is_sealed, keyring, lookup_hash, seal_applicant
from shared.settings import get_settings
from tests.case_fixtures import (
    COUNTY,
    DIBAO,
    TEKUN,
    TOWN,
    VILLAGE,
    DeliveryFailed,
    Network,
    case_number,
    clerk,
    outbox,
    required,
)
from tests.personal_data_support import distinctive_applicant, in_clear, masked, stored_text


@pytest.fixture
async def net(weimin_env: Path) -> AsyncIterator[Network]:
    # The var dir the settings name: the services' keys are generated there, as in a real start.
    network = await Network.create(weimin_env)
    yield network
    await network.close()


async def test_a_walk_in_applicant_is_sealed_in_the_intake_database_and_found_by_its_keyed_hash(
    net: Network,
) -> None:
    applicant = distinctive_applicant("741")
    case_id = await net.walk_in(TEKUN, required(TEKUN), applicant=applicant)
    await net.accept(case_id, [])
    await net.hand_up_from_town(case_id)

    async with net.intake.connect() as connection:
        row = (
            await connection.execute(
                text(
                    "SELECT applicant_name, applicant_id_number, applicant_phone, applicant_id_number_hash "
                    "FROM intake_case WHERE case_id = :c"
                ),
                {"c": case_id},
            )
        ).one()
    columns = ("applicant_name", "applicant_id_number", "applicant_phone")
    assert all(is_sealed(value) for value in row[:3]), row
    opened = [keyring().open(v, context=f"intake_case.{c}") for v, c in zip(row[:3], columns, strict=True)]
    assert opened == [applicant.name, applicant.id_number, applicant.phone]
    assert row[3] == lookup_hash(applicant.id_number)

    async with AsyncSession(net.intake, expire_on_commit=False) as session:
        by_hash = select(IntakeCase).where(
            IntakeCase.applicant_id_number_hash == lookup_hash(applicant.id_number)
        )
        assert [c.case_id for c in (await session.exec(by_hash)).all()] == [case_id]
        case = await intake_service.get_case(session, clerk(COUNTY), case_id)
    assert intake_case_read(case).applicant.model_dump() == masked(applicant)

    # On the bus: the hall-to-hall hand-up seals it; approval learns only the masked name.
    for envelope in await outbox(net.intake, subject=case_id):
        assert in_clear(applicant, envelope.model_dump_json()) == [], envelope.type
    handed = CaseHandedUpV1.model_validate((await outbox(net.intake, "case.handed_up", case_id))[0].data)
    assert applicant_of(case_id, handed).id_number == applicant.id_number
    accepted = CaseAcceptedV1.model_validate((await outbox(net.intake, "case.accepted", case_id))[0].data)
    assert accepted.applicant_name == mask_name(applicant.name)
    for service in ("intake", "approval", "supervision"):
        assert in_clear(applicant, await stored_text(net.engines[service])) == [], service


def _legacy_handoff(case_id: str, **applicant_fields: object) -> Envelope:
    return Envelope(
        source="agents",
        type=str(EventType.case_handed_up),
        subject=case_id,
        data={
            "version": 1,
            "case_id": case_id,
            "org_code": VILLAGE,
            "item_code": DIBAO.item_code,
            "to_org": TOWN,
            "handed_by": f"agent-{VILLAGE}",
            "materials": required(DIBAO),
            "origin_org": VILLAGE,
            **applicant_fields,
        },
    )


async def test_a_case_handed_up_in_clear_before_sealing_still_arrives_and_is_stored_sealed(
    net: Network,
) -> None:
    """Events already in the stream carry the applicant in clear: intake still reads them."""
    applicant = distinctive_applicant("742")
    case_id = case_number(VILLAGE, 1)
    await net.broadcast(_legacy_handoff(case_id, applicant=applicant.model_dump()))
    case = await net.get("intake", IntakeCase, case_id)
    assert (case.status, case.applicant_name, case.applicant_id_number) == (
        "received",
        applicant.name,
        applicant.id_number,
    )
    assert case.applicant_id_number_hash == lookup_hash(applicant.id_number)
    assert in_clear(applicant, await stored_text(net.intake)) == []


async def test_a_sealed_applicant_copied_into_another_cases_event_does_not_open(net: Network) -> None:
    applicant = distinctive_applicant("743")
    sealed = seal_applicant(case_number(VILLAGE, 1), **applicant.model_dump())
    with pytest.raises(DeliveryFailed):
        await net.broadcast(_legacy_handoff(case_number(VILLAGE, 2), applicant_sealed=sealed))
    assert await net.get("intake", IntakeCase, case_number(VILLAGE, 2)) is None


async def test_cases_received_before_sealing_are_sealed_by_the_migration_with_the_services_keys(
    weimin_env: Path,
) -> None:
    settings = get_settings()
    script = ScriptDirectory.from_config(migrations.alembic_config("intake", None))  # type: ignore[arg-type]
    sealing = next(r for r in script.walk_revisions() if "sealed" in (r.doc or ""))
    migrations.upgrade("intake", settings, revision=str(sealing.down_revision))
    applicant = distinctive_applicant("744")
    engine = migrations.sync_engine("intake", settings)
    select_applicant = text("SELECT applicant_name, applicant_id_number, applicant_phone FROM intake_case")
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO intake_case (case_id, item_code, item_name, item_version, "
                    "required_materials, deciding_level, promised_days, origin_org, current_org, channel, "
                    "status, applicant_name, applicant_id_number, applicant_phone, materials, received_at, "
                    "due_provisional) VALUES "
                    "('371424100000-20261121-000001-9', 'LY-MZ-002', '特困', 1, '[]', 'county', 15, :t, :t, "
                    "'walk_in', 'received', :name, :id, NULL, '[]', :at, false)"
                ),
                {
                    "t": TOWN,
                    "name": applicant.name,
                    "id": applicant.id_number,
                    "at": datetime(2026, 11, 21, tzinfo=UTC),
                },
            )
        migrations.upgrade("intake", settings)
        with engine.connect() as conn:
            stored = conn.execute(select_applicant).one()
        assert is_sealed(stored[0]) and is_sealed(stored[1]) and stored[2] is None
        assert in_clear(applicant, repr(tuple(stored))) == []
    finally:
        engine.dispose()

    service_engine = make_engine("intake", settings)
    try:
        async with AsyncSession(service_engine) as session:
            by_hash = select(IntakeCase).where(
                IntakeCase.applicant_id_number_hash == lookup_hash(applicant.id_number)
            )
            case = (await session.exec(by_hash)).one()
        assert (case.applicant_name, case.applicant_id_number, case.applicant_phone) == (
            applicant.name,
            applicant.id_number,
            None,
        )
    finally:
        await service_engine.dispose()

    engine = migrations.sync_engine("intake", settings)
    try:
        command.downgrade(migrations.alembic_config("intake", engine), str(sealing.down_revision))
        with engine.connect() as conn:
            assert tuple(conn.execute(select_applicant).one()) == (applicant.name, applicant.id_number, None)
    finally:
        engine.dispose()
