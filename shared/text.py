"""Text a person typed, checked at the boundary: names, phone numbers and free text.

Control characters (NUL, ANSI escapes), format characters (zero-width spaces, bidi overrides that
make a name read backwards on screen) and private-use code points are refused, not stripped: a
window clerk must see exactly what the applicant gave. A name must contain a letter.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, Field

# Unicode general categories refused everywhere: Cc control, Cf format (zero-width, bidi), Co private
# use, Cs surrogates, Cn unassigned, Zl/Zp line and paragraph separators.
_REFUSED = {"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"}
# Free text may hold line breaks and tabs (a reason, a comment), nothing else of the above.
_ALLOWED_IN_TEXT = {"\n", "\t"}

MOBILE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}(-\d{1,6})?$")


def _refuse_invisible(value: str, allowed: set[str]) -> str:
    for char in value:
        if char not in allowed and unicodedata.category(char) in _REFUSED:
            raise ValueError(f"contains an invisible or control character (U+{ord(char):04X})")
    return value


def clean_name(value: str) -> str:
    value = _refuse_invisible(value.strip(), set())
    if not any(unicodedata.category(c).startswith("L") for c in value):
        raise ValueError("a name must contain letters")
    return value


def clean_text(value: str) -> str:
    """Free text: line breaks (a Windows CR LF is kept as LF) and tabs, nothing else invisible."""
    return _refuse_invisible(value.replace("\r\n", "\n"), _ALLOWED_IN_TEXT)


def clean_phone(value: str) -> str:
    """A mainland mobile (13812345678) or landline (0534-4221234) number, spaces removed."""
    number = re.sub(r"[\s()]", "", value)
    if number.startswith("+86"):
        number = number[3:]
    elif number.startswith("0086"):
        number = number[4:]
    if not (MOBILE.match(number) or LANDLINE.match(number)):
        raise ValueError("not a mainland mobile (1xxxxxxxxxx) or landline (0xxx-xxxxxxx) number")
    return number


PersonName = Annotated[str, Field(min_length=1, max_length=50), AfterValidator(clean_name)]
PhoneNumber = Annotated[str, Field(max_length=20), AfterValidator(clean_phone)]


def clean_line(value: str) -> str:
    """One line of text (a label, a method): no line breaks or tabs either, spaces trimmed."""
    value = _refuse_invisible(value.strip(), set())
    if not value:
        raise ValueError("must not be blank")
    return value


# Free text, each bounded (an event carrying it must fit in one NATS message) and refused when it
# holds control or format characters. The length bound comes first so that its message is the plain
# "at most N characters"; a field needing another bound writes its own
# ``Annotated[str, Field(max_length=N), AfterValidator(clean_text)]``.
Label = Annotated[str, Field(min_length=1, max_length=50), AfterValidator(clean_line)]
ShortText = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(clean_text)]
Note = Annotated[str, Field(max_length=500), AfterValidator(clean_text)]
LongText = Annotated[str, Field(max_length=2000), AfterValidator(clean_text)]
