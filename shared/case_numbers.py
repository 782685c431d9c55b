"""Case numbers (办件编号): minted once where a case is first received, validated at every API boundary.

A case number reads ``{org_code}-{YYYYMMDD}-{seq}-{check}``, for example
``371424100201-20261121-000001-5``:

- ``org_code``: the 12-digit statistical division code of the receiving unit,
- ``YYYYMMDD``: the date of receipt,
- ``seq``: the unit's sequence for that day, 000001..999999,
- ``check``: the ISO 7064 MOD 11-2 check character (0-9 or X) over the 26 digits.

Unit code + date + per-unit daily sequence make the number globally unique without asking another
service; the check character catches any single mistyped character and any swap of adjacent digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

__all__ = [
    "CASE_NUMBER_PATTERN",
    "CaseNumber",
    "InvalidCaseNumber",
    "MAX_SEQUENCE",
    "check_character",
    "is_valid_case_number",
    "mint_case_number",
    "parse_case_number",
]

# The shape only (no date or check validation), for FastAPI ``Path(pattern=...)``. ``[0-9]`` rather than
# ``\d`` because ``\d`` also matches non-ASCII digits in both Python and pydantic's Rust regex engine.
# Anchored because pydantic searches rather than matches; there ``$`` is the very end of the text (in
# Python's ``re`` it would also match before a final newline, so parse_case_number uses fullmatch).
CASE_NUMBER_PATTERN = r"^[0-9]{12}-[0-9]{8}-[0-9]{6}-[0-9X]$"

MAX_SEQUENCE = 999_999

_CASE_NUMBER_RE = re.compile(
    r"(?P<org>[0-9]{12})-(?P<year>[0-9]{4})(?P<month>[0-9]{2})(?P<day>[0-9]{2})-(?P<seq>[0-9]{6})-(?P<check>[0-9X])"
)
_ORG_CODE_RE = re.compile(r"[0-9]{12}")
_DIGITS_RE = re.compile(r"[0-9]+")
_SHAPE = "<12-digit unit code>-<YYYYMMDD>-<6-digit sequence>-<check character 0-9 or X>"


class InvalidCaseNumber(ValueError):
    """A case number (or a part used to mint one) that is malformed; the message says what is wrong."""


def _shown(value: object) -> str:
    # Error messages may end up in logs and API responses; never echo an unbounded input.
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_character(digits: str) -> str:
    """ISO 7064 MOD 11-2 check character (``0``-``9`` or ``X``) for a string of ASCII digits."""
    if not isinstance(digits, str) or not _DIGITS_RE.fullmatch(digits):
        raise ValueError(f"check_character needs a non-empty string of digits 0-9, got {_shown(digits)}")
    # Horner's rule for the weights 2**k mod 11 (k = distance from the check position); the check value
    # then makes the full weighted sum, check included with weight 1, congruent to 1 mod 11.
    total = 0
    for ch in digits:
        total = (total + int(ch)) * 2 % 11
    value = (12 - total) % 11
    return "X" if value == 10 else str(value)


@dataclass(frozen=True)
class CaseNumber:
    """A parsed case number; ``str()`` gives the formatted number with its check character."""

    org_code: str
    day: date
    sequence: int

    def __post_init__(self) -> None:
        # Validated here so that an invalid CaseNumber cannot exist, whoever builds it.
        if not isinstance(self.org_code, str) or not _ORG_CODE_RE.fullmatch(self.org_code):
            raise InvalidCaseNumber(f"unit code must be exactly 12 digits, got {_shown(self.org_code)}")
        if not isinstance(self.day, date):
            raise InvalidCaseNumber(f"date of receipt must be a date, got {_shown(self.day)}")
        # bool is an int subclass; True as a sequence number is a bug, not 1.
        if (
            not isinstance(self.sequence, int)
            or isinstance(self.sequence, bool)
            or not 1 <= self.sequence <= MAX_SEQUENCE
        ):
            raise InvalidCaseNumber(
                f"sequence must be an integer from 1 to {MAX_SEQUENCE}, got {_shown(self.sequence)}"
            )

    @property
    def digits(self) -> str:
        """The 26 digits the check character is computed over: unit code, date, sequence."""
        d = self.day
        return f"{self.org_code}{d.year:04d}{d.month:02d}{d.day:02d}{self.sequence:06d}"

    def __str__(self) -> str:
        d = self.day
        body = f"{self.org_code}-{d.year:04d}{d.month:02d}{d.day:02d}-{self.sequence:06d}"
        return f"{body}-{check_character(self.digits)}"


def mint_case_number(org_code: str, day: date, sequence: int) -> str:
    """Format a new case number for the receiving unit, the date of receipt and that day's sequence."""
    return str(CaseNumber(org_code, day, sequence))


def parse_case_number(value: str) -> CaseNumber:
    """Parse and fully validate a case number; raise :class:`InvalidCaseNumber` saying what is wrong.

    Strict on purpose: no trimming, no lowercase ``x``; a number is stored and compared as printed.
    """
    if not isinstance(value, str):
        raise InvalidCaseNumber(f"case number must be a string, got {_shown(value)}")
    match = _CASE_NUMBER_RE.fullmatch(value)
    if match is None:
        raise InvalidCaseNumber(f"case number {_shown(value)} does not have the form {_SHAPE}")
    try:
        day = date(int(match["year"]), int(match["month"]), int(match["day"]))
    except ValueError:
        raise InvalidCaseNumber(
            f"case number {_shown(value)} has an impossible date of receipt "
            f"{match['year']}-{match['month']}-{match['day']}"
        ) from None
    sequence = int(match["seq"])
    if sequence == 0:
        raise InvalidCaseNumber(f"case number {_shown(value)} has sequence 000000; sequences start at 000001")
    parsed = CaseNumber(match["org"], day, sequence)
    expected = check_character(parsed.digits)
    if match["check"] != expected:
        raise InvalidCaseNumber(
            f"case number {_shown(value)} has check character {match['check']!r}, expected {expected!r}: "
            "a character is mistyped"
        )
    return parsed


def is_valid_case_number(value: str) -> bool:
    """True if ``value`` is a well-formed case number with a real date and a matching check character."""
    try:
        parse_case_number(value)
    except InvalidCaseNumber:
        return False
    return True
