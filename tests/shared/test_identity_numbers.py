"""ID numbers (身份证号): GB 11643-1999 validation and the masking used in lists and public views."""

from datetime import date

import pytest

from shared.case_numbers import check_character
from shared.identity_numbers import (
    InvalidIdNumber,
    is_valid_id_number,
    make_valid_id_number,
    mask_id_number,
    mask_name,
    mask_phone,
    validate_id_number,
)

PUBLIC_EXAMPLE = "11010519491231002X"  # the example printed in GB 11643-1999
TODAY = date(2026, 5, 20)


def gb_check(first17: str) -> str:
    """The GB 11643 check character, written out here independently of the module under test."""
    weights = [2 ** (17 - i) % 11 for i in range(17)]
    assert weights == [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights, strict=True)) % 11]


def test_check_digit_agrees_with_the_case_number_check_character() -> None:
    # Both are ISO 7064 MOD 11-2; a drift between the two implementations would be a bug in one of them.
    for region, birth, serial in [
        ("110105", date(1949, 12, 31), "002"),
        ("371424", date(1990, 3, 7), "123"),
        ("650102", date(2000, 2, 29), "999"),
        ("999999", date(1999, 9, 9), "999"),
    ]:
        number = make_valid_id_number(region, birth, serial)
        assert number[-1] == check_character(number[:17]) == gb_check(number[:17])


def test_public_example_is_valid() -> None:
    assert validate_id_number(PUBLIC_EXAMPLE) == PUBLIC_EXAMPLE
    assert is_valid_id_number(PUBLIC_EXAMPLE)


def test_made_number_is_valid_and_has_the_computed_check_digit() -> None:
    number = make_valid_id_number("371424", date(1990, 3, 7), "123")
    assert number[:17] == "37142419900307123"
    assert validate_id_number(number) == number
    # Rebuilding the public example from its parts gives its check character X.
    assert make_valid_id_number("110105", date(1949, 12, 31), "002") == PUBLIC_EXAMPLE


def test_every_other_check_digit_is_rejected() -> None:
    for number in (PUBLIC_EXAMPLE, make_valid_id_number("371424", date(1990, 3, 7), "123")):
        for wrong in "0123456789X":
            if wrong == number[-1]:
                continue
            with pytest.raises(InvalidIdNumber, match="身份证号校验位错误"):
                validate_id_number(number[:-1] + wrong)


def test_mistyped_digit_is_caught_by_the_check_digit() -> None:
    # The serial digits carry no other rule, so only the check digit can catch a typo there.
    number = make_valid_id_number("371424", date(1990, 3, 7), "123")
    for position in (14, 15, 16):
        for digit in "0123456789":
            if digit != number[position]:
                assert not is_valid_id_number(number[:position] + digit + number[position + 1 :])


@pytest.mark.parametrize(
    "value", ["", "1101051949123100", "11010519491231002", "11010519491231002X1", "110105491231002"]
)
def test_wrong_length_is_rejected(value: str) -> None:
    with pytest.raises(InvalidIdNumber, match="身份证号应为18位"):
        validate_id_number(value)


@pytest.mark.parametrize("value", ["1101051949123100XX", "11010519491231A02X", "１１0105194912310029"])
def test_non_digits_are_rejected(value: str) -> None:
    with pytest.raises(InvalidIdNumber):
        validate_id_number(value)


def test_region_code_starting_with_zero_is_rejected() -> None:
    first17 = "010105" + "19491231002"
    with pytest.raises(InvalidIdNumber, match="地区码"):
        validate_id_number(first17 + gb_check(first17))


@pytest.mark.parametrize(
    "birth",
    [
        "19490230",  # no 30 February
        "19491301",  # no month 13
        "19490100",  # no day 0
        "18991231",  # before 1900
        "20260521",  # after TODAY
    ],
)
def test_bad_birth_date_is_rejected(birth: str) -> None:
    first17 = f"110105{birth}002"
    with pytest.raises(InvalidIdNumber, match="出生日期无效"):
        validate_id_number(first17 + gb_check(first17), today=TODAY)


def test_born_today_is_accepted() -> None:
    number = make_valid_id_number("371424", TODAY, "001")
    assert validate_id_number(number, today=TODAY) == number


def test_lowercase_x_and_spaces_are_normalised() -> None:
    assert validate_id_number("11010519491231002x") == PUBLIC_EXAMPLE
    assert validate_id_number(" 110105 19491231 002x ") == PUBLIC_EXAMPLE
    assert validate_id_number("110105\u300019491231002X") == PUBLIC_EXAMPLE  # full-width space


def test_messages_are_chinese_and_errors_are_value_errors() -> None:
    assert issubclass(InvalidIdNumber, ValueError)
    with pytest.raises(ValueError, match="校验位"):
        validate_id_number("110105194912310021")


def test_non_strings_are_invalid() -> None:
    assert not is_valid_id_number(None)  # type: ignore[arg-type]
    assert not is_valid_id_number(110105194912310021)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("region", "serial"),
    [("01010", "002"), ("010105", "002"), ("11010a", "002"), ("110105", "02"), ("110105", "0021")],
)
def test_make_valid_id_number_rejects_bad_parts(region: str, serial: str) -> None:
    with pytest.raises(ValueError):
        make_valid_id_number(region, date(1949, 12, 31), serial)


def test_mask_id_number_keeps_first_six_and_last_four() -> None:
    assert mask_id_number("37142419900307123X") == "371424********123X"
    assert mask_id_number(PUBLIC_EXAMPLE) == "110105********002X"
    assert mask_id_number("11010519491231002x") == "110105********002X"
    assert mask_id_number(" 110105 19491231 002X ") == "110105********002X"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", ""),
        ("1", "*"),
        ("1234", "1**4"),
        ("12345678", "12****78"),
        ("110105491231002", "110105*****1002"),  # old 15-digit number
        ("1101051949123100", "110105******3100"),
        ("11010519491231002X99", "110105**********2X99"),
    ],
)
def test_mask_id_number_never_raises_and_hides_the_middle(value: str, expected: str) -> None:
    masked = mask_id_number(value)
    assert masked == expected
    assert len(masked) == len(value)
    assert value == "" or "*" in masked


def test_mask_id_number_of_non_string_is_empty() -> None:
    assert mask_id_number(None) == ""  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "expected"),
    [("张三", "张*"), ("张三丰", "张*丰"), ("欧阳小明", "欧**明"), ("张", "张"), ("", ""), (" 李四 ", "李*")],
)
def test_mask_name(name: str, expected: str) -> None:
    assert mask_name(name) == expected


@pytest.mark.parametrize(
    ("phone", "expected"),
    [
        ("13812345678", "138****5678"),
        ("138 1234 5678", "138****5678"),
        ("+8613812345678", "+86138****5678"),
        ("05391234567", "053****4567"),
        ("12345", "1***5"),
        ("", ""),
    ],
)
def test_mask_phone(phone: str, expected: str) -> None:
    assert mask_phone(phone) == expected
