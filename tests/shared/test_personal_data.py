"""Personal data sealed with the installation's keys, found by a keyed hash, masked in every log line."""

from __future__ import annotations

import logging
import stat
import sys
import threading
from datetime import date
from pathlib import Path

import pytest
from uvicorn.logging import AccessFormatter

from shared import personal_data
from shared.identity_numbers import make_valid_id_number
from shared.personal_data import (
    DATA_KEYS_FILE,
    LOOKUP_KEY_FILE,
    Keyring,
    PersonalDataKeyError,
    SealedValueError,
    install_log_masking,
    keyring_for,
    mask_personal_numbers,
    require_keys,
    rotate,
)
from shared.settings import Settings, get_settings

ID_NUMBER = make_valid_id_number("371424", date(1961, 7, 9), "418")
PHONE = "13912345678"


def _settings(var_dir: Path, **values: object) -> Settings:
    # Constructed without validation: only the personal-data fields matter here.
    return Settings.model_construct(var_dir=var_dir, **values)


def test_a_sealed_value_opens_only_with_its_key_and_in_its_own_context(tmp_path: Path) -> None:
    keys = keyring_for(_settings(tmp_path / "a"))
    sealed = keys.seal(ID_NUMBER, context="agent_case.applicant_id_number")
    assert ID_NUMBER not in sealed and sealed.startswith(f"pd1.{keys.current_key_id}.")
    assert sealed != keys.seal(ID_NUMBER, context="agent_case.applicant_id_number"), "a fresh nonce each time"
    assert keys.open(sealed, context="agent_case.applicant_id_number") == ID_NUMBER
    with pytest.raises(SealedValueError):
        keys.open(sealed, context="agent_case.applicant_name")  # copied into another column
    with pytest.raises(SealedValueError):
        keyring_for(_settings(tmp_path / "b")).open(sealed, context="agent_case.applicant_id_number")
    tampered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(SealedValueError):
        keys.open(tampered, context="agent_case.applicant_id_number")


def test_a_rotated_key_seals_what_is_new_and_the_old_keys_still_open_what_they_sealed(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "data.keys"
    first_id = rotate(key_file)
    lookup = tmp_path / "keys" / "lookup.key"
    lookup.write_text(personal_data._b64encode(b"k" * 32) + "\n")
    before = keyring_for(_settings(tmp_path, personal_data_key_file=key_file, lookup_hash_key_file=lookup))
    old = before.seal("张三丰", context="c")
    second_id = rotate(key_file)
    personal_data._load.cache_clear()  # a restart
    after = keyring_for(_settings(tmp_path, personal_data_key_file=key_file, lookup_hash_key_file=lookup))
    assert (before.current_key_id, after.current_key_id) == (first_id, second_id) and first_id != second_id
    assert [kid for kid, _ in after.data_keys] == [second_id, first_id]
    assert after.open(old, context="c") == "张三丰"
    assert after.seal("张三丰", context="c").startswith(f"pd1.{second_id}.")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # Without the old key the old data does not open: it is lost with its key.
    only_new = Keyring(data_keys=after.data_keys[:1], lookup_key=after.lookup_key)
    with pytest.raises(SealedValueError):
        only_new.open(old, context="c")


def test_development_keys_are_generated_once_under_var_keys_readable_by_the_owner_only(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path / "var")
    found: list[Keyring] = []
    threads = [threading.Thread(target=lambda: found.append(keyring_for(settings))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for name in (DATA_KEYS_FILE, LOOKUP_KEY_FILE):
        path = tmp_path / "var" / "keys" / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
    personal_data._load.cache_clear()
    assert keyring_for(settings) == found[0], "a second start reads the same keys"
    assert {p.name for p in (tmp_path / "var" / "keys").iterdir()} == {DATA_KEYS_FILE, LOOKUP_KEY_FILE}


async def test_production_refuses_to_start_without_the_personal_data_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(PersonalDataKeyError, match="WEIMIN_PERSONAL_DATA_KEY_FILE"):
        keyring_for(_settings(tmp_path, environment="production"))
    key_file = tmp_path / "data.keys"
    rotate(key_file)
    with pytest.raises(PersonalDataKeyError, match="WEIMIN_LOOKUP_HASH_KEY_FILE"):
        keyring_for(_settings(tmp_path, environment="production", personal_data_key_file=key_file))
    with pytest.raises(PersonalDataKeyError, match="cannot read"):
        keyring_for(
            _settings(
                tmp_path,
                environment="production",
                personal_data_key_file=key_file,
                lookup_hash_key_file=tmp_path / "missing.key",
            )
        )
    assert not (tmp_path / "keys").exists(), "production never generates keys"
    # The services that seal (agents, intake) load the keys at start: a missing key stops the start.
    monkeypatch.setattr(personal_data, "get_settings", lambda: _settings(tmp_path, environment="production"))
    with pytest.raises(PersonalDataKeyError):
        await require_keys()


def test_keys_given_inline_by_the_environment_are_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = personal_data.new_data_key_line()
    monkeypatch.setenv("WEIMIN_PERSONAL_DATA_KEYS", entry)
    monkeypatch.setenv("WEIMIN_LOOKUP_HASH_KEY", personal_data._b64encode(b"L" * 32))
    monkeypatch.setenv("WEIMIN_VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    try:
        keys = keyring_for(get_settings())
    finally:
        get_settings.cache_clear()
    assert keys.current_key_id == entry.split(":")[0]
    assert not (tmp_path / "var" / "keys").exists()


def test_the_lookup_hash_is_keyed_and_finds_the_same_number_however_it_was_typed(tmp_path: Path) -> None:
    keys = keyring_for(_settings(tmp_path / "a"))
    other = keyring_for(_settings(tmp_path / "b"))
    x_number = make_valid_id_number("110101", date(1990, 1, 1), "005")
    assert keys.lookup_hash(ID_NUMBER) == keys.lookup_hash(ID_NUMBER[:6] + " " + ID_NUMBER[6:])
    assert keys.lookup_hash(x_number) == keys.lookup_hash(x_number.lower())
    assert keys.lookup_hash(ID_NUMBER) != other.lookup_hash(ID_NUMBER), (
        "without the key the hash says nothing"
    )
    assert ID_NUMBER not in keys.lookup_hash(ID_NUMBER) and len(keys.lookup_hash(ID_NUMBER)) == 64


def test_id_numbers_and_mobile_numbers_are_masked_in_text() -> None:
    text = f"Key (applicant_id_number)=({ID_NUMBER}) phone={PHONE}; 电话{PHONE}，身份证{ID_NUMBER.lower()}"
    masked = mask_personal_numbers(text)
    assert ID_NUMBER not in masked and ID_NUMBER.lower() not in masked and PHONE not in masked
    assert f"{ID_NUMBER[:6]}********{ID_NUMBER[-4:]}" in masked and "139****5678" in masked
    # What is not a 身份证号 or a mobile number stays: case numbers, longer numbers, hex ids, landlines.
    untouched = "case 371424100201-20261121-000001-5 took 1700000000000 ms; trace a13912345678f; 0534-4221234"
    assert mask_personal_numbers(untouched) == untouched


def test_every_log_record_is_masked_whichever_logger_and_handler_writes_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    previous = logging.getLogRecordFactory()
    own = logging.getLogger("test.personal_data.uvicorn_like")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    own.addHandler(handler)
    # uvicorn's access log formatter unpacks the record's arguments: they must survive masking.
    access = logging.getLogger("test.personal_data.access")
    access_handler = logging.StreamHandler(sys.stderr)
    access_handler.setFormatter(AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s'))
    access.addHandler(access_handler)
    access.propagate = False
    access.setLevel(logging.INFO)
    own.propagate = False
    own.setLevel(logging.INFO)
    try:
        install_log_masking()
        install_log_masking()  # idempotent
        own.warning("applicant %s phone %s", ID_NUMBER, PHONE)
        own.info("dict %(id)s", {"id": ID_NUMBER})
        try:
            raise ValueError(f"duplicate applicant {ID_NUMBER} / {PHONE}")
        except ValueError:
            own.exception("insert failed")
        access.info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/cases?id_number={ID_NUMBER}", "1.1", 200
        )
    finally:
        own.removeHandler(handler)
        access.removeHandler(access_handler)
        logging.setLogRecordFactory(previous)
    written = capsys.readouterr().err
    assert "insert failed" in written and "ValueError: duplicate applicant" in written
    assert ID_NUMBER not in written and PHONE not in written, written
    assert written.count(f"{ID_NUMBER[:6]}********{ID_NUMBER[-4:]}") == 4
    assert '"GET /cases?id_number=' in written and "Logging error" not in written
