"""Case numbers: minting, strict parsing, and the check character catching typing mistakes."""

from datetime import date
from typing import Annotated

import pytest
from pydantic import StringConstraints, TypeAdapter, ValidationError

from shared.case_numbers import (
    CASE_NUMBER_PATTERN,
    CaseNumber,
    InvalidCaseNumber,
    check_character,
    is_valid_case_number,
    mint_case_number,
    parse_case_number,
)

VALID_NUMBERS = [
    mint_case_number("371424100201", date(2026, 11, 21), 1),
    mint_case_number("371424100201", date(2026, 2, 28), 999_999),
    mint_case_number("110105001001", date(2024, 2, 29), 42),
    mint_case_number("650102003204", date(2027, 1, 5), 123_456),
]


def _first_number_with_check_x() -> str:
    # So that the check position is also exercised holding a letter.
    for sequence in range(1, 1000):
        number = mint_case_number("371424100201", date(2026, 3, 2), sequence)
        if number.endswith("X"):
            return number
    raise AssertionError("no sequence gives check character X")


VALID_NUMBERS.append(_first_number_with_check_x())

SUBSTITUTES = "0123456789X-abcdefghijklmnopqrstuvwxyz"

# The pattern as FastAPI applies it in Path(pattern=...): through pydantic's (Rust) regex engine.
SHAPE = TypeAdapter(Annotated[str, StringConstraints(pattern=CASE_NUMBER_PATTERN)])


def has_case_number_shape(value: str) -> bool:
    try:
        SHAPE.validate_python(value)
    except ValidationError:
        return False
    return True


def test_example_number_has_its_computed_check_character() -> None:
    assert mint_case_number("371424100201", date(2026, 11, 21), 1) == "371424100201-20261121-000001-5"


def test_check_character_is_iso_7064_mod_11_2() -> None:
    # The public GB 11643 example ID number 11010519491231002X uses the same algorithm.
    assert check_character("11010519491231002") == "X"
    # ISO 7064 example for MOD 11-2: 0794 -> 0.
    assert check_character("0794") == "0"
    with pytest.raises(ValueError):
        check_character("12a4")
    with pytest.raises(ValueError):
        check_character("")


@pytest.mark.parametrize("number", VALID_NUMBERS)
def test_round_trip(number: str) -> None:
    parsed = parse_case_number(number)
    assert str(parsed) == number
    assert mint_case_number(parsed.org_code, parsed.day, parsed.sequence) == number
    assert is_valid_case_number(number)
    assert has_case_number_shape(number)


def test_parse_gives_the_parts() -> None:
    assert parse_case_number("371424100201-20261121-000001-5") == CaseNumber(
        "371424100201", date(2026, 11, 21), 1
    )


@pytest.mark.parametrize("number", VALID_NUMBERS)
def test_every_single_character_substitution_is_rejected(number: str) -> None:
    tried = 0
    for position, original in enumerate(number):
        for substitute in SUBSTITUTES:
            if substitute == original:
                continue
            mistyped = number[:position] + substitute + number[position + 1 :]
            with pytest.raises(InvalidCaseNumber):
                parse_case_number(mistyped)
            assert not is_valid_case_number(mistyped)
            tried += 1
    assert tried == len(number) * (len(SUBSTITUTES) - 1)


@pytest.mark.parametrize("number", VALID_NUMBERS)
def test_adjacent_transposition_of_different_characters_is_rejected(number: str) -> None:
    swaps = 0
    for i in range(len(number) - 1):
        if number[i] == number[i + 1]:
            continue
        swapped = number[:i] + number[i + 1] + number[i] + number[i + 2 :]
        with pytest.raises(InvalidCaseNumber):
            parse_case_number(swapped)
        swaps += 1
    assert swaps > 0


def test_impossible_dates_are_rejected_even_with_a_matching_check_character() -> None:
    for bad_date in ("20260230", "20250229", "20261301", "20260000", "20260431"):
        digits = f"371424100201{bad_date}000001"
        candidate = f"371424100201-{bad_date}-000001-{check_character(digits)}"
        assert has_case_number_shape(candidate)  # the shape is fine, the date is not
        with pytest.raises(InvalidCaseNumber, match="impossible date"):
            parse_case_number(candidate)


def test_sequence_zero_is_rejected() -> None:
    digits = "37142410020120261121000000"
    with pytest.raises(InvalidCaseNumber, match="sequence"):
        parse_case_number(f"371424100201-20261121-000000-{check_character(digits)}")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "371424100201-20261121-000001-5 ",
        " 371424100201-20261121-000001-5",
        "371424100201-20261121-000001-5\n",
        "371424100201-20261121-0000001-5",
        "37142410020-20261121-000001-5",
        "371424100201-2026-11-21-000001-5",
        "371424100201202611210000015",
        "３71424100201-20261121-000001-5",  # full-width digit
        "٣71424100201-20261121-000001-5",  # Arabic-Indic digit that \d would accept
        "371424100201-20261121-000001-5-5",
    ],
)
def test_malformed_shapes_are_rejected(value: str) -> None:
    with pytest.raises(InvalidCaseNumber, match="does not have the form"):
        parse_case_number(value)
    assert not has_case_number_shape(value)


def test_lowercase_x_is_rejected() -> None:
    number = next(n for n in VALID_NUMBERS if n.endswith("X"))
    assert is_valid_case_number(number)
    assert not is_valid_case_number(number[:-1] + "x")


def test_wrong_check_character_message_says_so() -> None:
    with pytest.raises(InvalidCaseNumber, match="check character '7', expected '5'"):
        parse_case_number("371424100201-20261121-000001-7")


def test_non_strings_are_invalid() -> None:
    assert not is_valid_case_number(None)  # type: ignore[arg-type]
    assert not is_valid_case_number(371424100201)  # type: ignore[arg-type]


def test_long_input_is_not_echoed_in_full() -> None:
    with pytest.raises(InvalidCaseNumber) as info:
        parse_case_number("9" * 10_000)
    assert len(str(info.value)) < 200


@pytest.mark.parametrize(
    ("org_code", "sequence"),
    [
        ("37142410020", 1),
        ("3714241002011", 1),
        ("37142410020a", 1),
        ("３71424100201", 1),
        ("371424100201", 0),
        ("371424100201", 1_000_000),
        ("371424100201", -1),
        ("371424100201", True),
    ],
)
def test_mint_rejects_bad_parts(org_code: str, sequence: int) -> None:
    with pytest.raises(InvalidCaseNumber):
        mint_case_number(org_code, date(2026, 11, 21), sequence)


def test_invalid_case_number_is_a_value_error() -> None:
    assert issubclass(InvalidCaseNumber, ValueError)
