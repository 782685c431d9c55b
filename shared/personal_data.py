"""Personal data (PIPL) at rest and on the bus: sealed with the installation's key, found by a keyed hash.

An applicant's name, 身份证号 and phone are never stored or sent in clear:

- **Sealed** (authenticated encryption, AES-256-GCM from ``cryptography``) with a per-installation
  *data key*. A sealed value reads ``pd1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>``; the key id
  names the key that sealed it, so after a rotation the old keys still open what they sealed while
  the newest key seals everything new. Each value is bound to where it belongs (its *context*, e.g.
  ``agent_case.applicant_id_number`` or ``event.applicant:<case id>``): a sealed value copied into
  another column or another case's event does not open.
- **Found** by a keyed hash (HMAC-SHA256 with a separate per-installation *lookup key*) of the
  normalised 身份证号: equal numbers hash equal, so cases can be looked up by number, but the hash
  says nothing without the key (an 18-digit number with a check digit is easy to guess; a plain hash
  of it would not be).

Keys. The data keys are a small text file (one ``<key id>:<base64 of 32 bytes>`` per line, newest
first) and the lookup key a file holding one base64 key. Production names them
(``WEIMIN_PERSONAL_DATA_KEY_FILE`` and ``WEIMIN_LOOKUP_HASH_KEY_FILE``, or the keys themselves in
``WEIMIN_PERSONAL_DATA_KEYS`` and ``WEIMIN_LOOKUP_HASH_KEY``); a service that needs them (agents,
intake) refuses to start in production without them. In development and tests they are generated on
first use under ``<var dir>/keys/`` (mode 0600). Lose the data keys and the sealed data is lost.

    python -m shared.personal_data rotate [--key-file PATH]   # a new data key on top; old ones kept
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import sys
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from shared.events.types import ApplicantData, ApplicantMaskedData, CarriesApplicant
from shared.identity_numbers import mask_id_number, mask_name, mask_phone
from shared.settings import Settings, get_settings

log = logging.getLogger("weimin.personal_data")

SEALED_PREFIX = "pd1"
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12
DATA_KEYS_FILE = "personal_data.keys"
LOOKUP_KEY_FILE = "lookup_hash.key"

_DATA_KEYS_HEADER = """\
# Weimin personal-data keys (AES-256-GCM). One "<key id>:<base64 key>" per line, NEWEST FIRST:
# the first line seals everything new, every line still opens what it sealed.
# Rotate: put a new key on top (python -m shared.personal_data rotate) and keep the old lines.
# Keep a copy somewhere safe: lose these keys and every sealed name, 身份证号 and phone is lost.
"""
_LOOKUP_KEY_HEADER = """\
# Weimin lookup-hash key (HMAC-SHA256 of 身份证号 for lookups). One base64 key.
# Never change it on a running installation: every stored lookup hash was made with it.
"""


class PersonalDataKeyError(RuntimeError):
    """The keys are missing (production names none), unreadable or malformed."""


class SealedValueError(ValueError):
    """A sealed value that does not open: another installation's key, a retired key, another
    context, or altered bytes."""


def _b64decode(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(padded.encode("ascii"))


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


@dataclass(frozen=True)
class Keyring:
    """The installation's data keys (newest first) and its lookup key."""

    data_keys: tuple[tuple[str, bytes], ...]
    lookup_key: bytes

    def __post_init__(self) -> None:
        if not self.data_keys:
            raise PersonalDataKeyError("no personal-data key")
        for kid, key in self.data_keys:
            if len(key) != KEY_BYTES or not kid or not kid.isalnum():
                raise PersonalDataKeyError(f"personal-data key {kid!r} is not a 32-byte key with an id")
        if len(self.lookup_key) < KEY_BYTES:
            raise PersonalDataKeyError("the lookup-hash key must have at least 32 bytes")

    @property
    def current_key_id(self) -> str:
        return self.data_keys[0][0]

    def seal(self, value: str, *, context: str) -> str:
        """``value`` sealed with the newest data key, bound to ``context``."""
        kid, key = self.data_keys[0]
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = AESGCM(key).encrypt(nonce, value.encode("utf-8"), context.encode("utf-8"))
        return f"{SEALED_PREFIX}.{kid}.{_b64encode(nonce + sealed)}"

    def open(self, token: str, *, context: str) -> str:
        """The clear value of a sealed ``token``; ``SealedValueError`` if it does not open here."""
        prefix, _, rest = token.partition(".")
        kid, _, body = rest.partition(".")
        if prefix != SEALED_PREFIX or not kid or not body:
            raise SealedValueError("not a sealed personal-data value")
        key = dict(self.data_keys).get(kid)
        if key is None:
            raise SealedValueError(f"sealed with key {kid}, which this installation does not hold")
        try:
            raw = _b64decode(body)
            clear = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode("utf-8"))
        except (InvalidTag, ValueError, binascii.Error) as exc:
            raise SealedValueError(f"a value sealed with key {kid} does not open in {context}") from exc
        return clear.decode("utf-8")

    def lookup_hash(self, id_number: str) -> str:
        """The keyed hash (hex) of a 身份证号, normalised (no spaces, upper-case X): equal numbers hash
        equal."""
        normalised = "".join(id_number.split()).upper()
        return hmac.new(self.lookup_key, normalised.encode("ascii", "replace"), hashlib.sha256).hexdigest()


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(SEALED_PREFIX + ".") and value.count(".") == 2


# ------------------------------------------------------------------------------------------ the keys


def _parse_data_keys(text: str, where: str) -> tuple[tuple[str, bytes], ...]:
    keys: list[tuple[str, bytes]] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        for entry in line.replace(",", " ").split():
            kid, sep, encoded = entry.partition(":")
            if not sep:
                raise PersonalDataKeyError(f"{where}: an entry is not '<key id>:<base64 key>'")
            try:
                key = _b64decode(encoded)
            except (ValueError, binascii.Error) as exc:
                raise PersonalDataKeyError(f"{where}: key {kid!r} is not base64") from exc
            keys.append((kid, key))
    if not keys:
        raise PersonalDataKeyError(f"{where} holds no personal-data key")
    if len({kid for kid, _ in keys}) != len(keys):
        raise PersonalDataKeyError(f"{where}: two keys have the same id")
    return tuple(keys)


def _parse_lookup_key(text: str, where: str) -> bytes:
    tokens = [t for line in text.splitlines() for t in line.split("#", 1)[0].split()]
    if len(tokens) != 1:
        raise PersonalDataKeyError(f"{where} must hold exactly one base64 key")
    try:
        return _b64decode(tokens[0])
    except (ValueError, binascii.Error) as exc:
        raise PersonalDataKeyError(f"{where}: the lookup-hash key is not base64") from exc


def new_data_key_line() -> str:
    return f"{secrets.token_hex(4)}:{_b64encode(secrets.token_bytes(KEY_BYTES))}"


def _create_private_file(path: Path, content: str) -> None:
    """Write ``content`` to ``path`` (mode 0600) unless it exists; two processes starting together
    both end up reading the same file (the loser of the race reads the winner's)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, scratch = tempfile.mkstemp(dir=path.parent, prefix=".new-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(scratch, 0o600)
        try:
            os.link(scratch, path)  # atomic, and refuses to replace a key someone else wrote first
            log.warning(
                "generated %s (development keys; keep a copy, or the data sealed with it is lost)", path
            )
        except FileExistsError:
            pass
    finally:
        os.unlink(scratch)


def _read_private_file(path: Path, what: str) -> str:
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PersonalDataKeyError(f"cannot read the {what} at {path}: {exc.strerror}") from exc
    if mode & 0o077:
        log.warning("%s at %s is readable by others than its owner; chmod 600 it", what, path)
    return text


def _dev_key_dir(settings: Settings) -> Path:
    return Path(settings.var_dir).resolve() / "keys"


def _data_source(settings: Settings) -> tuple[str, str]:
    if settings.personal_data_keys is not None:
        return ("inline", settings.personal_data_keys.get_secret_value())
    if settings.personal_data_key_file is not None:
        return ("file", str(Path(settings.personal_data_key_file).resolve()))
    if settings.is_production:
        raise PersonalDataKeyError(
            "production needs the personal-data keys: set WEIMIN_PERSONAL_DATA_KEY_FILE (or "
            "WEIMIN_PERSONAL_DATA_KEYS); see README, 'Security and personal data'"
        )
    return ("generate", str(_dev_key_dir(settings) / DATA_KEYS_FILE))


def _lookup_source(settings: Settings) -> tuple[str, str]:
    if settings.lookup_hash_key is not None:
        return ("inline", settings.lookup_hash_key.get_secret_value())
    if settings.lookup_hash_key_file is not None:
        return ("file", str(Path(settings.lookup_hash_key_file).resolve()))
    if settings.is_production:
        raise PersonalDataKeyError(
            "production needs the lookup-hash key: set WEIMIN_LOOKUP_HASH_KEY_FILE (or "
            "WEIMIN_LOOKUP_HASH_KEY); see README, 'Security and personal data'"
        )
    return ("generate", str(_dev_key_dir(settings) / LOOKUP_KEY_FILE))


@lru_cache(maxsize=32)
def _load(data: tuple[str, str], lookup: tuple[str, str]) -> Keyring:
    kind, value = data
    if kind == "inline":
        data_keys = _parse_data_keys(value, "WEIMIN_PERSONAL_DATA_KEYS")
    else:
        path = Path(value)
        if kind == "generate" and not path.exists():
            _create_private_file(path, _DATA_KEYS_HEADER + new_data_key_line() + "\n")
        data_keys = _parse_data_keys(_read_private_file(path, "personal-data key file"), str(path))
    kind, value = lookup
    if kind == "inline":
        lookup_key = _parse_lookup_key(value, "WEIMIN_LOOKUP_HASH_KEY")
    else:
        path = Path(value)
        if kind == "generate" and not path.exists():
            _create_private_file(path, _LOOKUP_KEY_HEADER + _b64encode(secrets.token_bytes(KEY_BYTES)) + "\n")
        lookup_key = _parse_lookup_key(_read_private_file(path, "lookup-hash key file"), str(path))
    return Keyring(data_keys=data_keys, lookup_key=lookup_key)


def keyring_for(settings: Settings) -> Keyring:
    """The keys these settings name (generated under ``var/keys`` outside production); read once per
    process (a rotation takes effect when the services restart)."""
    return _load(_data_source(settings), _lookup_source(settings))


_current: tuple[Settings, Keyring] | None = None


def keyring() -> Keyring:
    """The keys of this process's settings: what the services seal and open with. Remembered for
    the settings object it was found for (each seal and open asks; finding the source every time
    cost more than the sealing)."""
    global _current
    settings = get_settings()
    if _current is None or _current[0] is not settings:
        _current = (settings, keyring_for(settings))
    return _current[1]


async def require_keys(app: Any = None) -> None:
    """A service that seals personal data (agents, intake) loads its keys at start: in production a
    missing or unreadable key stops the start; elsewhere they are generated on first start."""
    keys = keyring()
    log.info("personal data sealed with key %s (%d key(s) open)", keys.current_key_id, len(keys.data_keys))


def keyring_for_migration(connection: Any) -> Keyring:
    """The keys a data migration seals existing rows with: found exactly as the services find them.

    The settings ``shared.migrations.upgrade`` was given, when it hands them to Alembic; otherwise the
    process's settings, with the var dir of the SQLite file being migrated (the launcher migrates
    another var dir than its own environment names)."""
    from alembic import context

    settings = context.config.attributes.get("settings")
    if settings is None:
        settings = get_settings()
        url = connection.engine.url
        if url.get_backend_name() == "sqlite" and url.database:
            settings = settings.model_copy(update={"var_dir": Path(url.database).resolve().parent})
    return keyring_for(settings)


# --------------------------------------------------------------------------- columns and the applicant


APPLICANT_COLUMNS = ("applicant_name", "applicant_id_number", "applicant_phone")


def _applicant_rows(table: str) -> Any:
    import sqlalchemy as sa

    return sa.table(
        table,
        sa.column("case_id"),
        *(sa.column(c) for c in APPLICANT_COLUMNS),
        sa.column("applicant_id_number_hash"),
    )


def seal_applicant_rows(connection: Any, table: str) -> None:
    """Data migration: seal the applicant columns of every row of ``table`` still in clear, and fill
    its ``applicant_id_number_hash`` (agents' and intake's case tables share these column names)."""
    import sqlalchemy as sa

    cases = _applicant_rows(table)
    rows = connection.execute(sa.select(cases)).mappings().all()
    if not rows:
        return
    keys = keyring_for_migration(connection)
    for row in rows:
        values = {
            column: keys.seal(row[column], context=f"{table}.{column}")
            for column in APPLICANT_COLUMNS
            if row[column] is not None and not is_sealed(row[column])
        }
        id_number = row["applicant_id_number"]
        if is_sealed(id_number):
            id_number = keys.open(id_number, context=f"{table}.applicant_id_number")
        values["applicant_id_number_hash"] = keys.lookup_hash(id_number)
        connection.execute(cases.update().where(cases.c.case_id == row["case_id"]).values(**values))


def open_applicant_rows(connection: Any, table: str) -> None:
    """Data migration, downgrade: open the sealed applicant columns of every row of ``table``."""
    import sqlalchemy as sa

    cases = _applicant_rows(table)
    rows = connection.execute(sa.select(cases)).mappings().all()
    if not rows:
        return
    keys = keyring_for_migration(connection)
    for row in rows:
        values = {
            column: keys.open(row[column], context=f"{table}.{column}")
            for column in APPLICANT_COLUMNS
            if is_sealed(row[column])
        }
        if values:
            connection.execute(cases.update().where(cases.c.case_id == row["case_id"]).values(**values))


class SealedString(TypeDecorator[str]):
    """A column whose value is sealed in the database and clear in Python (for its own ``context``).

    Writing seals with the newest data key; reading opens with whichever key sealed it. Never compare
    such a column in a query (each sealing differs): look up by the keyed hash column beside it.
    """

    impl = String
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return keyring().seal(value, context=self.context)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return keyring().open(value, context=self.context)

    def copy(self, **kw: Any) -> SealedString:
        return SealedString(self.context)


def lookup_hash(id_number: str) -> str:
    """The keyed hash of a 身份证号 under this installation's lookup key (``*_id_number_hash`` columns)."""
    return keyring().lookup_hash(id_number)


def _applicant_context(case_id: str) -> str:
    return f"event.applicant:{case_id}"


def seal_applicant(case_id: str, *, name: str, id_number: str, phone: str | None) -> str:
    """An applicant sealed for an event about ``case_id`` (``applicant_sealed``): only a holder of the
    data key (agents, intake) opens it; supervision and the stream see ciphertext."""
    clear = json.dumps({"name": name, "id_number": id_number, "phone": phone}, ensure_ascii=False)
    return keyring().seal(clear, context=_applicant_context(case_id))


def open_applicant(case_id: str, sealed: str) -> ApplicantData:
    """The applicant sealed in an event about ``case_id``."""
    return ApplicantData.model_validate_json(keyring().open(sealed, context=_applicant_context(case_id)))


def applicant_fields(case_id: str, *, name: str, id_number: str, phone: str | None) -> dict[str, Any]:
    """What an event carries of its applicant (``CarriesApplicant``): sealed, and masked for display."""
    return {
        "applicant_sealed": seal_applicant(case_id, name=name, id_number=id_number, phone=phone),
        "applicant_masked": ApplicantMaskedData(
            name=mask_name(name),
            id_number=mask_id_number(id_number),
            phone=mask_phone(phone) if phone else None,
        ),
    }


def applicant_of(case_id: str, payload: CarriesApplicant) -> ApplicantData:
    """The clear applicant of an event: opened from ``applicant_sealed``, or the clear ``applicant`` of
    an event emitted before sealing (still in the stream)."""
    if payload.applicant_sealed is not None:
        return open_applicant(case_id, payload.applicant_sealed)
    if payload.applicant is not None:
        return payload.applicant
    raise SealedValueError(f"the event about {case_id} carries no applicant")


# ------------------------------------------------------------------------------------------------ logs

# An 18-character 身份证号 and an 11-digit mainland mobile number, not inside a longer run of digits
# (nor, for the shorter mobile number, of letters and digits: a hex trace id keeps its digits).
_ID_NUMBER_IN_TEXT = re.compile(r"(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9])")
_MOBILE_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])1[3-9][0-9]{9}(?![0-9A-Za-z])")


def mask_personal_numbers(text: str) -> str:
    """``text`` with every 身份证号 and mobile number in it masked as the API masks them."""
    text = _ID_NUMBER_IN_TEXT.sub(lambda m: mask_id_number(m.group()), text)
    return _MOBILE_IN_TEXT.sub(lambda m: mask_phone(m.group()), text)


def _masked_record(record: logging.LogRecord) -> logging.LogRecord:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a malformed call is the handler's to report, as logging does
        return record
    if mask_personal_numbers(message) != message:
        # Masked argument by argument where that suffices, so that formatters which read the arguments
        # (uvicorn's access log unpacks them) still work; otherwise the whole message, flattened.
        msg, args = record.msg, record.args
        if isinstance(msg, str) and isinstance(args, tuple):
            record.msg = mask_personal_numbers(msg)
            record.args = tuple(mask_personal_numbers(a) if isinstance(a, str) else a for a in args)
            try:
                still = record.getMessage()
            except Exception:  # noqa: BLE001 - masking broke the format: flatten instead
                still = message
            if mask_personal_numbers(still) == still:
                message = ""
        if message:
            record.msg, record.args = mask_personal_numbers(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = mask_personal_numbers(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_personal_numbers(record.stack_info)
    return record


def install_log_masking() -> None:
    """Mask 身份证号 and mobile numbers in every log record of this process, whichever logger and
    handler (uvicorn's own included) writes it: a safety net behind never logging personal data.
    Idempotent."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "masks_personal_data", False):
        return

    def masking_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return _masked_record(factory(*args, **kwargs))

    masking_factory.masks_personal_data = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(masking_factory)


# ---------------------------------------------------------------------------------------------- rotate


def rotate(key_file: Path) -> str:
    """Put a new data key on top of ``key_file`` (created if absent), keeping the old ones; its id."""
    line = new_data_key_line()
    old = key_file.read_text(encoding="utf-8") if key_file.exists() else ""
    kept = "".join(
        f"{entry}\n" for raw in old.splitlines() for entry in raw.split("#", 1)[0].replace(",", " ").split()
    )
    _parse_data_keys(line + "\n" + kept, str(key_file))  # refuse to write a file that would not load
    key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, scratch = tempfile.mkstemp(dir=key_file.parent, prefix=".rotate-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(_DATA_KEYS_HEADER + line + "\n" + kept)
    os.chmod(scratch, 0o600)
    os.replace(scratch, key_file)
    return line.split(":", 1)[0]


def main(argv: list[str]) -> int:
    if argv[:1] != ["rotate"] or len(argv) not in (1, 3) or (len(argv) == 3 and argv[1] != "--key-file"):
        print("usage: python -m shared.personal_data rotate [--key-file PATH]", file=sys.stderr)
        return 2
    settings = get_settings()
    if len(argv) == 3:
        key_file = Path(argv[2])
    elif settings.personal_data_key_file is not None:
        key_file = Path(settings.personal_data_key_file)
    elif settings.personal_data_keys is not None or settings.is_production:
        print(
            "name the key file: --key-file PATH (inline keys are rotated where they are kept)",
            file=sys.stderr,
        )
        return 2
    else:
        key_file = _dev_key_dir(settings) / DATA_KEYS_FILE
    kid = rotate(key_file)
    print(
        f"{key_file}: new data key {kid} seals from the next start on; the older keys still open their data"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
