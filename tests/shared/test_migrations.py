"""Schema changes are Alembic migrations, per service: old databases upgrade, models match head."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from shared import migrations
from tests.support import settings_for


def _head(service: str) -> str:
    config = migrations.alembic_config(service, None)  # type: ignore[arg-type]
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


@pytest.mark.parametrize("service", migrations.DATABASES)
def test_models_match_the_newest_migration(tmp_path: Path, service: str) -> None:
    """A change to models.py without its migration fails here (autogenerate finds a difference)."""
    settings = settings_for(tmp_path)
    migrations.upgrade(service, settings)
    engine = migrations.sync_engine(service, settings)
    try:
        with engine.connect() as conn:
            opts = {**migrations._context_opts(service, engine), "include_object": migrations.include_object}
            context = MigrationContext.configure(conn, opts=opts)
            differences = compare_metadata(context, migrations.target_metadata(service))
    finally:
        engine.dispose()
    assert differences == [], f"{service}: models.py differs from its migrations; add a revision"
    assert migrations.current_revision(service, settings) == _head(service)


def test_a_database_populated_under_the_first_migration_upgrades_and_keeps_its_rows(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    migrations.upgrade("agents", settings, revision="0001")
    engine = migrations.sync_engine("agents", settings)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO idempotency_record (key, username, endpoint, status, body, created_at) "
                    "VALUES ('k-1', 'agent-371424100201', 'POST /api/v1/agents/cases', 201, "
                    '\'{"case_id": "x"}\', CURRENT_TIMESTAMP)'
                )
            )
            conn.execute(
                text(
                    "INSERT INTO case_sequence (org_code, day, last) VALUES ('371424100201', '2026-11-21', 7)"
                )
            )
        migrations.upgrade("agents", settings)
        assert migrations.current_revision("agents", settings) == _head("agents")
        with engine.connect() as conn:
            record = conn.execute(text("SELECT key, status, fingerprint FROM idempotency_record")).one()
            last = conn.execute(text("SELECT last FROM case_sequence")).scalar_one()
        assert tuple(record) == ("k-1", 201, "") and last == 7
    finally:
        engine.dispose()


def test_a_database_made_before_migrations_is_adopted_not_recreated(tmp_path: Path) -> None:
    """`make run` data from before migrations existed: tables but no version row. It is stamped at
    the first revision and upgraded, never dropped."""
    settings = settings_for(tmp_path)
    migrations.upgrade("agents", settings, revision="0001")
    engine = migrations.sync_engine("agents", settings)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO case_sequence (org_code, day, last) VALUES ('371424100201', '2026-11-21', 3)"
                )
            )
            conn.execute(text("DROP TABLE alembic_version"))
        migrations.upgrade("agents", settings)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT last FROM case_sequence")).scalar_one() == 3
        assert "alembic_version" in inspect(engine).get_table_names(
            schema=None if engine.url.get_backend_name() == "sqlite" else "agents"
        )
    finally:
        engine.dispose()
