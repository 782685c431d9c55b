"""The applicant's name, 身份证号 and phone at the village: sealed in the agents database, found by a keyed
hash, carried on the bus sealed (for intake) and masked (for everyone else), shown masked."""

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

from services.agents import service as agents_service
from services.agents.models import AgentCase
from services.agents.routes import _read as agent_case_read
from services.intake.models import IntakeCase
from shared import migrations
from shared.db import make_engine
from shared.events import EventType
from shared.events.types import CaseCollectedV1, CaseHandedUpV1
from shared.personal_data import applicant_of, is_sealed, keyring, lookup_hash
from shared.settings import get_settings
from tests.case_fixtures import DIBAO, VILLAGE, Network, agent, outbox, required
from tests.personal_data_support import distinctive_applicant, in_clear, masked, stored_text


@pytest.fixture
async def net(weimin_env: Path) -> AsyncIterator[Network]:
    # The var dir the settings name: the services' keys are generated there, as in a real start.
    network = await Network.create(weimin_env)
    yield network
    await network.close()


async def test_the_applicant_is_sealed_in_the_agents_database_and_found_by_its_keyed_hash(
    net: Network,
) -> None:
    applicant = distinctive_applicant()
    case_id = await net.collect(DIBAO, required(DIBAO), applicant=applicant)

    async with net.agents.connect() as connection:
        row = (
            await connection.execute(
                text(
                    "SELECT applicant_name, applicant_id_number, applicant_phone, applicant_id_number_hash "
                    "FROM agent_case WHERE case_id = :c"
                ),
                {"c": case_id},
            )
        ).one()
    assert all(is_sealed(value) for value in row[:3]), row
    keys = keyring()
    assert [
        keys.open(v, context=f"agent_case.{c}")
        for v, c in zip(row[:3], ("applicant_name", "applicant_id_number", "applicant_phone"), strict=True)
    ] == [applicant.name, applicant.id_number, applicant.phone]
    assert row[3] == lookup_hash(applicant.id_number)
    assert in_clear(applicant, await stored_text(net.agents)) == []

    async with AsyncSession(net.agents, expire_on_commit=False) as session:
        found = (
            await session.exec(
                select(AgentCase).where(
                    AgentCase.applicant_id_number_hash == lookup_hash(applicant.id_number)
                )
            )
        ).all()
        assert [c.case_id for c in found] == [case_id]
        case = await agents_service.get_case(session, agent(VILLAGE), case_id)
    # The service works with the clear values; every answer shows them masked, as before.
    assert (case.applicant_name, case.applicant_id_number) == (applicant.name, applicant.id_number)
    assert agent_case_read(case).applicant.model_dump() == masked(applicant)


async def test_collected_and_handed_up_events_carry_the_applicant_sealed_and_masked_never_in_clear(
    net: Network,
) -> None:
    applicant = distinctive_applicant("732")
    case_id = await net.collect(DIBAO, required(DIBAO), applicant=applicant)
    await net.hand_up_from_village(case_id)

    envelopes = await outbox(net.agents, subject=case_id)
    assert [e.type for e in envelopes] == [EventType.case_collected, EventType.case_handed_up]
    for envelope in envelopes:
        assert in_clear(applicant, envelope.model_dump_json()) == [], envelope.type
        assert "applicant" not in envelope.data, "the clear field is no longer written"
        payload = (
            CaseCollectedV1 if envelope.type == EventType.case_collected else CaseHandedUpV1
        ).model_validate(envelope.data)
        assert payload.applicant_masked is not None and payload.applicant_masked.model_dump() == masked(
            applicant
        )
        assert applicant_of(case_id, payload).model_dump() == applicant.model_dump()

    # Intake, which prints it, opened it at the town; supervision keeps nothing of it.
    town_case = await net.get("intake", IntakeCase, case_id)
    assert (town_case.applicant_name, town_case.applicant_id_number, town_case.applicant_phone) == (
        applicant.name,
        applicant.id_number,
        applicant.phone,
    )
    for service in ("agents", "intake", "approval", "supervision"):
        assert in_clear(applicant, await stored_text(net.engines[service])) == [], service


async def test_cases_collected_before_sealing_are_sealed_by_the_migration_with_the_services_keys(
    weimin_env: Path,
) -> None:
    """A database with cases in clear (as every installation before this change has them) upgrades:
    the migration seals them with the keys the service then opens them with."""
    settings = get_settings()
    script = ScriptDirectory.from_config(migrations.alembic_config("agents", None))  # type: ignore[arg-type]
    sealing = next(r for r in script.walk_revisions() if "sealed" in (r.doc or ""))
    migrations.upgrade("agents", settings, revision=str(sealing.down_revision))
    applicant = distinctive_applicant("733")
    engine = migrations.sync_engine("agents", settings)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO agent_case (case_id, item_code, item_name, item_version, village_code, "
                    "current_org, status, applicant_name, applicant_id_number, applicant_phone, materials, "
                    "collected_by, collected_at, updated_at) VALUES ('371424100201-20261121-000001-5', "
                    "'LY-MZ-001', '低保', 1, :v, :v, 'collected', :name, :id, :phone, '[]', 'agent', :t, :t)"
                ),
                {
                    "v": VILLAGE,
                    "name": applicant.name,
                    "id": applicant.id_number,
                    "phone": applicant.phone,
                    "t": datetime(2026, 11, 21, tzinfo=UTC),
                },
            )
        migrations.upgrade("agents", settings)
        with engine.connect() as conn:
            stored = conn.execute(
                text("SELECT applicant_name, applicant_id_number, applicant_phone FROM agent_case")
            ).one()
        assert all(is_sealed(v) for v in stored) and in_clear(applicant, repr(tuple(stored))) == []
    finally:
        engine.dispose()

    service_engine = make_engine("agents", settings)
    try:
        async with AsyncSession(service_engine) as session:
            case = (
                await session.exec(
                    select(AgentCase).where(
                        AgentCase.applicant_id_number_hash == lookup_hash(applicant.id_number)
                    )
                )
            ).one()
        assert (case.applicant_name, case.applicant_id_number, case.applicant_phone) == (
            applicant.name,
            applicant.id_number,
            applicant.phone,
        )
    finally:
        await service_engine.dispose()

    # And back: a downgrade opens them again.
    engine = migrations.sync_engine("agents", settings)
    try:
        command.downgrade(migrations.alembic_config("agents", engine), str(sealing.down_revision))
        with engine.connect() as conn:
            stored = conn.execute(
                text("SELECT applicant_name, applicant_id_number, applicant_phone FROM agent_case")
            ).one()
        assert tuple(stored) == (applicant.name, applicant.id_number, applicant.phone)
    finally:
        engine.dispose()
