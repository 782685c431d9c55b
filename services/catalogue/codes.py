"""Code lists of the national basic-data standard (GB/T 39046-2020, 事项管理), codes and Chinese labels.

A record leaves the system with the standard's codes, so it can be exchanged with the provincial
platform as it is; the labels are what a citizen and a spreadsheet see. ``parse`` reads a cell the
way counties write it: the code (``05``, or ``5`` after Excel dropped the zero), the label
(``行政给付``), or both (``05 行政给付``).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Self

_CODE_THEN_LABEL = re.compile(r"^\s*(\d+)\s*[\s.、:：-]?\s*(.*)$")


class Coded(StrEnum):
    """A StrEnum whose value is the standard's code and which carries the Chinese label."""

    label: str

    def __new__(cls, code: str, label: str) -> Self:
        member = str.__new__(cls, code)
        member._value_ = code
        member.label = label
        return member

    @property
    def display(self) -> str:
        """``05 行政给付``: how the spreadsheet writes a code."""
        return f"{self.value} {self.label}"

    @classmethod
    def parse(cls, text: object) -> Self:
        """The member a cell names; ``ValueError`` when it names none."""
        raw = str(text).strip()
        if isinstance(text, float) and text.is_integer():
            raw = str(int(text))
        for member in cls:
            if raw in (member.value, member.label, member.display):
                return member
        match = _CODE_THEN_LABEL.match(raw)
        if match:
            code = match.group(1)
            width = len(next(iter(cls)).value)
            for member in cls:
                if member.value == code.zfill(width) and match.group(2) in ("", member.label):
                    return member
        raise ValueError(raw)

    @classmethod
    def choices(cls) -> str:
        return "、".join(m.display for m in cls)


class ItemType(Coded):
    """事项类型."""

    licence = "01", "行政许可"
    penalty = "02", "行政处罚"
    enforcement = "03", "行政强制"
    levy = "04", "行政征收"
    payment = "05", "行政给付"
    inspection = "06", "行政检查"
    confirmation = "07", "行政确认"
    award = "08", "行政奖励"
    adjudication = "09", "行政裁决"
    other_power = "10", "其他行政权力"
    public_service = "20", "公共服务"


class ExercisingLevel(Coded):
    """行使层级."""

    national = "1", "国家级"
    provincial = "2", "省级"
    city = "3", "市级"
    county = "4", "县级"
    town = "5", "镇(乡、街道)级"
    village = "6", "村(社区)级"


class BodyNature(Coded):
    """实施主体性质."""

    statutory = "1", "法定机关"
    authorised = "2", "授权组织"
    entrusted = "3", "受委托组织"


class HandlingType(Coded):
    """办件类型: decided on the spot or within the promised limit."""

    immediate = "1", "即办件"
    promised = "2", "承诺件"


class LimitUnit(Coded):
    """时限单位. Case clocks count working days (行政许可法 art. 82), so that is the one unit kept."""

    working_day = "1", "工作日"


class ServiceObject(Coded):
    """服务对象."""

    natural_person = "1", "自然人"
    enterprise = "2", "企业法人"
    public_institution = "3", "事业法人"
    social_organisation = "4", "社会组织法人"
    unincorporated_enterprise = "5", "非法人企业"
    administrative_body = "6", "行政机关"
    other = "9", "其他组织"


class HandlingForm(Coded):
    """办理形式."""

    window = "1", "窗口办理"
    online = "2", "网上办理"
    post = "3", "快递申请"
    mobile = "4", "移动端办理"


class DecidingLevel(Coded):
    """The level whose hall decides the item (the API spine names it in English)."""

    village = "village", "村(社区)"
    town = "town", "乡镇(街道)"
    county = "county", "县(区)"
    city = "city", "市"

    @classmethod
    def parse(cls, text: object) -> DecidingLevel:
        raw = str(text).strip().removesuffix("级")
        aliases = {"村": "village", "社区": "village", "乡镇": "town", "镇": "town", "乡": "town"}
        aliases |= {"街道": "town", "县": "county", "区": "county", "县区": "county"}
        return super().parse(aliases.get(raw, raw))


YES = frozenset({"是", "y", "yes", "true", "1", "√", "有", "必要", "必须"})
NO = frozenset({"否", "n", "no", "false", "0", "×", "无", "非必要", "不必要", "可选", ""})


def parse_yes_no(text: object) -> bool:
    """A 是/否 cell; ``ValueError`` for anything else."""
    if isinstance(text, bool):
        return text
    raw = str(text if text is not None else "").strip().lower()
    if isinstance(text, float) and text.is_integer():
        raw = str(int(text))
    if raw in YES:
        return True
    if raw in NO:
        return False
    raise ValueError(raw)
