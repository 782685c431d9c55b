"""Alembic environment of the agents database: the shared runner (see shared/migrations.py)."""

from shared.migrations import run_env

run_env()
