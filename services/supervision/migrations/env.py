"""Alembic environment of the supervision database: the shared runner (see shared/migrations.py)."""

from shared.migrations import run_env

run_env()
