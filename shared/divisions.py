"""12-digit statistical division codes (统计用区划代码) and the jurisdiction they imply.

A code reads ``PP CC DD TTT VVV``; a higher level's code ends in zeros, so a unit's subtree is every
code that starts with its significant prefix. Jurisdiction checks need no lookup of the org tree.
"""

from __future__ import annotations

import re
from enum import StrEnum

CODE_PATTERN = r"^\d{12}$"
_CODE = re.compile(CODE_PATTERN)


class Level(StrEnum):
    province = "province"
    city = "city"
    county = "county"
    town = "town"
    village = "village"


_PREFIX_LENGTH = {Level.province: 2, Level.city: 4, Level.county: 6, Level.town: 9, Level.village: 12}


def is_division_code(code: str) -> bool:
    return bool(_CODE.match(code)) and code[:2] != "00"


def level_of(code: str) -> Level:
    if not is_division_code(code):
        raise ValueError(f"not a 12-digit division code: {code!r}")
    if code[9:] != "000":
        return Level.village
    if code[6:9] != "000":
        return Level.town
    if code[4:6] != "00":
        return Level.county
    if code[2:4] != "00":
        return Level.city
    return Level.province


def prefix_of(code: str) -> str:
    return code[: _PREFIX_LENGTH[level_of(code)]]


def in_subtree(ancestor: str, code: str) -> bool:
    """True when ``code`` is ``ancestor`` or lies below it."""
    return is_division_code(code) and code.startswith(prefix_of(ancestor))


def ancestor_at(code: str, level: Level) -> str:
    """The unit above ``code`` at ``level`` (a village's town, a town's county, ...)."""
    keep = _PREFIX_LENGTH[level]
    return code[:keep].ljust(12, "0")


def parent_of(code: str) -> str | None:
    order = [Level.province, Level.city, Level.county, Level.town, Level.village]
    index = order.index(level_of(code))
    return ancestor_at(code, order[index - 1]) if index > 0 else None
