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

    jwt_issuer: str = "weimin"
    token_ttl_seconds: int = 3600
    # Tokens are EdDSA (Ed25519) JWTs. Only the gateway holds the private key (PEM, mode 0600); it
    # publishes the public keys as a JWKS file beside the key and at /.well-known/jwks.json. Outside
    # production, unset paths mean <var_dir>/keys/, and the gateway generates the key on first start.
    token_signing_key_file: Path | None = None
    # Where a service reads the public keys: a JWKS file (default: beside the signing key, i.e.
    # <var_dir>/keys/jwks.json), or, when jwks_url is set, the gateway's JWKS URL (fetched, cached).
    token_public_keys_file: Path | None = None
    jwks_url: str = ""
    jwks_cache_seconds: float = 300.0

    # Login throttling at the gateway (the `limits` package, moving windows). Failed attempts per
    # account and per client address; each rule is "N/period", ';' between tiers (a growing lock-out).
    # "memory://" keeps the counters in the gateway process; "redis://host:6379" shares them.
    login_throttle_storage_url: str = "memory://"
    login_throttle_per_account: str = "5/minute;10/15 minutes;20/hour"
    login_throttle_per_address: str = "20/minute;100/hour"

    # Request bodies, in bytes: the gateway refuses larger ones per route with 413 before reading
    # them (JSON by default; catalogue documents; uploads); every service refuses bodies over the
    # document limit (the upload limit for multipart) itself.
    max_body_bytes: int = 64 * 1024
    max_document_bytes: int = 1024 * 1024
    max_upload_bytes: int = 10 * 1024 * 1024

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
    # PostgreSQL: the small autocommitting pool for short steps of their own (minting case numbers).
    db_short_step_pool_size: int = 4
    # PostgreSQL: case numbers a process reserves at once per unit and day (gaps possible, never a
    # duplicate; 1 mints each number on its own).
    case_number_block: int = 8
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
            if not (self.token_signing_key_file or self.token_public_keys_file or self.jwks_url):
                raise ValueError(
                    "Token keys must be configured in production: WEIMIN_TOKEN_SIGNING_KEY_FILE (the "
                    "gateway) and WEIMIN_TOKEN_PUBLIC_KEYS_FILE or WEIMIN_JWKS_URL (the services)"
                )
            if not self.database_url:
                raise ValueError("WEIMIN_DATABASE_URL must name a PostgreSQL database in production")
        return self

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    def service_url(self, service: str) -> str:
        return str(getattr(self, f"{service}_url")).rstrip("/")

    @property
    def signing_key_path(self) -> Path:
        """The gateway's private token key (the development default lives under var_dir)."""
        return self.token_signing_key_file or self.var_dir / "keys" / "token-signing-key.pem"

    @property
    def public_keys_path(self) -> Path:
        """The JWKS file: configured, or the one the gateway writes beside its signing key."""
        return self.token_public_keys_file or self.signing_key_path.with_name("jwks.json")


@lru_cache
def get_settings() -> Settings:
    return Settings()
