"""Resident identity card numbers (居民身份证号, GB 11643-1999): validation and masking of personal data.

Every API validates an ID number at the boundary (check digit included) and every list or public view
shows it masked, together with the holder's name and phone. Validation errors carry a Chinese message
that can be shown to the applicant or the officer as is.
"""

from __future__ import annotations

import re
from datetime import date

__all__ = [
    "InvalidIdNumber",
    "is_valid_id_number",
    "make_valid_id_number",
    "mask_id_number",
    "mask_name",
    "mask_phone",
    "validate_id_number",
]

# GB 11643-1999: weights 2**(17 - i) mod 11 for positions 0..16; the weighted sum mod 11 indexes the
# check character table.
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"

_SHAPE_RE = re.compile(r"[0-9]{17}[0-9X]")
_DIGITS_RE = re.compile(r"[0-9]+")
# ASCII and full-width spaces and other whitespace that copy-paste and Chinese input methods insert.
_SPACES_RE = re.compile(r"\s+")


class InvalidIdNumber(ValueError):
    """An ID number that fails validation; ``str(error)`` is a Chinese message fit for the user."""


def _check_digit(first17: str) -> str:
    return _CHECK_CHARS[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def validate_id_number(value: str, *, today: date | None = None) -> str:
    """Validate an 18-character ID number and return it normalised (no spaces, upper-case ``X``).

    ``today`` is the reference for "birth date not in the future"; it defaults to the local date.
    """
    if not isinstance(value, str):
        raise InvalidIdNumber("身份证号应为18位")
    number = _SPACES_RE.sub("", value)
    # People often type the check character as a lower-case x; it means the same.
    if number.endswith("x"):
        number = number[:-1] + "X"
    if len(number) != 18:
        raise InvalidIdNumber("身份证号应为18位")
    if not _SHAPE_RE.fullmatch(number):
        raise InvalidIdNumber("身份证号前17位应为数字，最后一位应为数字或X")
    if number[0] == "0":
        raise InvalidIdNumber("身份证号地区码无效")
    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidIdNumber("出生日期无效") from None
    if birth.year < 1900 or birth > (today or date.today()):
        raise InvalidIdNumber("出生日期无效")
    if number[17] != _check_digit(number[:17]):
        raise InvalidIdNumber("身份证号校验位错误")
    return number


def is_valid_id_number(value: str) -> bool:
    """True if ``value`` (after normalisation) is a valid ID number."""
    try:
        validate_id_number(value)
    except InvalidIdNumber:
        return False
    return True


def make_valid_id_number(region: str, birth: date, serial: str) -> str:
    """Build an ID number from a 6-digit region code, a birth date and a 3-digit serial, with its check digit.

    For demo data and tests; it does not check that the birth date lies in the past.
    """
    if (
        not isinstance(region, str)
        or len(region) != 6
        or not _DIGITS_RE.fullmatch(region)
        or region[0] == "0"
    ):
        raise ValueError(f"region must be 6 digits not starting with 0, got {region!r}")
    if not isinstance(serial, str) or len(serial) != 3 or not _DIGITS_RE.fullmatch(serial):
        raise ValueError(f"serial must be 3 digits, got {serial!r}")
    if not isinstance(birth, date) or not 1900 <= birth.year <= 9999:
        raise ValueError(f"birth must be a date from 1900 on, got {birth!r}")
    first17 = f"{region}{birth.year:04d}{birth.month:02d}{birth.day:02d}{serial}"
    return first17 + _check_digit(first17)


def _mask_middle(text: str, head: int, tail: int) -> str:
    # Slicing from len - tail (not -tail) so that tail == 0 keeps nothing rather than everything.
    return text[:head] + "*" * (len(text) - head - tail) + text[len(text) - tail :]


def _short_keep(length: int) -> int:
    # For short or malformed input keep at most a quarter at each end, so at least half stays hidden.
    return length // 4


def mask_id_number(value: str) -> str:
    """Mask an ID number for lists and public views: first 6 and last 4 kept, e.g. ``371424********123X``.

    Never raises: whatever is given is masked, and at least its middle is hidden.
    """
    if not isinstance(value, str):
        return ""
    number = _SPACES_RE.sub("", value).upper()
    # 15 covers the old first-generation numbers; shorter strings keep less so the middle stays hidden.
    keep_head, keep_tail = (
        (6, 4) if len(number) >= 15 else (_short_keep(len(number)), _short_keep(len(number)))
    )
    return _mask_middle(number, keep_head, keep_tail)


def mask_name(name: str) -> str:
    """Mask a personal name: 张三 -> 张*, 张三丰 -> 张*丰, 欧阳小明 -> 欧**明; one character stays as is."""
    if not isinstance(name, str):
        return ""
    name = name.strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return _mask_middle(name, 1, 1)


def mask_phone(phone: str) -> str:
    """Mask a phone number: 13812345678 -> 138****5678 (the four digits before the last four hidden).

    Never raises; a number shorter than 8 characters keeps at most a quarter at each end.
    """
    if not isinstance(phone, str):
        return ""
    number = _SPACES_RE.sub("", phone)
    if len(number) >= 8:
        return number[:-8] + "****" + number[-4:]
    return _mask_middle(number, _short_keep(len(number)), _short_keep(len(number)))
