"""The gateway's own tables: the people and systems that may ask it for a token.

They live in the gateway's database alone (``make_engine("gateway", ...)``); no service reads them.
Table names carry the ``gateway_`` prefix because every service shares ``SQLModel.metadata``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from shared.clock import utcnow


class UserAccount(SQLModel, table=True):
    """An officer or a village agent (代办员) who signs in with a password."""

    __tablename__ = "gateway_user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, index=True, max_length=64)
    password_hash: str = Field(max_length=255)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    org_code: str = Field(max_length=12)
    display_name: str = Field(default="", max_length=100)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)


class ApiClient(SQLModel, table=True):
    """Another government system that exchanges its client credentials for a token."""

    __tablename__ = "gateway_client"

    id: int | None = Field(default=None, primary_key=True)
    client_id: str = Field(unique=True, index=True, max_length=64)
    secret_hash: str = Field(max_length=255)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    org_code: str = Field(max_length=12)
    name: str = Field(default="", max_length=100)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)


# The gateway's database (its migrations live in gateway/migrations).
TABLES: list[type[SQLModel]] = [UserAccount, ApiClient]
