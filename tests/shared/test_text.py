"""What a person types is checked at the boundary: names, phone numbers, free text."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from shared.schemas import Applicant, MaterialIn
from shared.text import Label, LongText, Note, clean_phone

ID = "11010519491231002X"


@pytest.mark.parametrize(
    "name",
    [
        "张\u0000三",  # NUL: masks as 张*三 and shows the whole name
        "张三\u001b[31m",  # an ANSI escape that repaints a log line
        "\u200b\u200b",  # nothing but zero-width spaces
        "张\u202e三丰",  # a bidi override: the name reads backwards on screen
        "张\ue000三",  # private use
        "12345",  # no letter at all
    ],
)
def test_a_name_with_control_or_invisible_characters_is_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        Applicant(name=name, id_number=ID)


def test_an_ordinary_name_is_kept_as_given() -> None:
    assert Applicant(name=" 欧阳小明 ", id_number=ID).name == "欧阳小明"
    assert Applicant(name="阿依古丽·买买提", id_number=ID).name == "阿依古丽·买买提"


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("13812345678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("+86 13812345678", "13812345678"),
        ("0534-4221234", "0534-4221234"),
        ("05344221234", "05344221234"),
        ("010-12345678-801", "010-12345678-801"),
    ],
)
def test_mainland_mobile_and_landline_numbers_are_accepted(given: str, kept: str) -> None:
    assert clean_phone(given) == kept
    assert Applicant(name="张三", id_number=ID, phone=given).phone == kept


@pytest.mark.parametrize(
    "phone", ["12345", "23812345678", "1381234567", "phone", "138123456789", "+1 5551234"]
)
def test_a_phone_that_is_no_mainland_number_is_refused(phone: str) -> None:
    with pytest.raises(ValidationError):
        Applicant(name="张三", id_number=ID, phone=phone)


def test_material_names_refuse_control_characters_and_are_bounded() -> None:
    with pytest.raises(ValidationError):
        MaterialIn(name="申请书\u0007")
    with pytest.raises(ValidationError):
        MaterialIn(name="申" * 201)
    assert MaterialIn(name="户口簿").name == "户口簿"


def test_free_text_keeps_its_line_breaks_and_refuses_other_control_characters() -> None:
    text = TypeAdapter(LongText)
    assert text.validate_python("第一行\r\n第二行\t完") == "第一行\n第二行\t完"
    for bad in ("回车\r覆盖", "响铃\u0007", "\u202e倒序", "零宽\u200b"):
        with pytest.raises(ValidationError):
            text.validate_python(bad)
    with pytest.raises(ValidationError):
        text.validate_python("长" * 2001)
    with pytest.raises(ValidationError):
        TypeAdapter(Note).validate_python("注" * 501)
    label = TypeAdapter(Label)
    assert label.validate_python(" 当面送达 ") == "当面送达"
    for bad in ("当面\n送达", "  ", "送" * 51):
        with pytest.raises(ValidationError):
            label.validate_python(bad)
