"""Settings for every Weimin process: one class, environment variables prefixed ``WEIMIN_``.

Built once per process (``get_settings``); services read what they need from it. Nothing here
holds a URL or a secret that production may keep: production refuses the development defaults.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "weimin-development-secret-change-me-0123456789"  # noqa: S105 - refused in production

SERVICE_NAMES = ("catalogue", "intake", "approval", "agents", "supervision")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WEIMIN_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    var_dir: Path = Path("var")
    # A SQLAlchemy URL. Empty: one SQLite file per service under var_dir. A PostgreSQL URL: one schema
    # per service inside that database.
    database_url: str = ""
    nats_url: str = "nats://127.0.0.1:14222"
    nats_stream: str = "WEIMIN"

    jwt_secret: str = DEV_JWT_SECRET
    jwt_issuer: str = "weimin"
    token_ttl_seconds: int = 3600

    # Personal data (shared/personal_data.py): the data keys that seal names, 身份证号 and phones
    # (a file of "<key id>:<base64>" lines, newest first; or those entries inline) and the key of the
    # lookup hash. Only agents and intake need them; they refuse to start in production without them.
    # Outside production, unset: generated under <var_dir>/keys on first use.
    personal_data_key_file: Path | None = None
    personal_data_keys: SecretStr | None = None
    lookup_hash_key_file: Path | None = None
    lookup_hash_key: SecretStr | None = None

    catalogue_url: str = "http://127.0.0.1:8001"
    intake_url: str = "http://127.0.0.1:8002"
    approval_url: str = "http://127.0.0.1:8003"
    agents_url: str = "http://127.0.0.1:8004"
    supervision_url: str = "http://127.0.0.1:8005"
    # How many requests the gateway keeps in flight to one upstream; more queue in the gateway
    # (measured: httpx's pool degrades badly when 64 requests contend for it).
    gateway_upstream_concurrency: int = 8
    gateway_upstream_timeout: float = 30.0

    # Connections per service process (async: a request waiting for one holds no thread).
    db_pool_size: int = 10
    db_max_overflow: int = 30
    # Each process brings its database to the newest migration at start (idempotent; on PostgreSQL
    # serialised by an advisory lock). Production may run `python -m shared.migrations` first instead.
    auto_migrate: bool = True
    outbox_batch_size: int = 500
    # Published outbox rows are deleted after this many days (the stream keeps the history).
    outbox_retention_days: float = 7
    # The stream keeps events this long (long enough to rebuild supervision's read models); archive
    # older ones to files with `python -m shared.events.archive` before they expire.
    stream_max_age_days: float = 365
    outbox_poll_seconds: float = 0.2

    @model_validator(mode="after")
    def _refuse_development_secrets_in_production(self) -> Settings:
        if self.environment == "production":
            if self.jwt_secret == DEV_JWT_SECRET or len(self.jwt_secret) < 32:
                raise ValueError("WEIMIN_JWT_SECRET must be set to a secret of 32+ characters in production")
            if not self.database_url:
                raise ValueError("WEIMIN_DATABASE_URL must name a PostgreSQL database in production")
        return self

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    def service_url(self, service: str) -> str:
        return str(getattr(self, f"{service}_url")).rstrip("/")


@lru_cache
def get_settings() -> Settings:
    return Settings()
