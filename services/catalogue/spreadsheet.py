"""The catalogue's spreadsheet layout (事项目录 .xlsx / .csv): read, check row by row, and write.

One sheet, one header row, one column per attribute (``COLUMNS``). An item takes one or more
consecutive rows: its first row carries the item's columns and its first material; each following
row with an empty 事项编码 (or the same code again) carries one more material. Merged item cells, as
counties' spreadsheets often have, read the same way. Reading never raises on bad data: every
problem is reported with its row number, in Chinese, and nothing is imported unless there are none.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from pydantic import ValidationError

from services.catalogue import codes
from services.catalogue.schemas import ITEM_CODE_PATTERN, ItemUpsert

SHEET = "事项目录"
GUIDE_SHEET = "填写说明"
MAX_ROWS = 20000
IGNORED_HEADERS = frozenset({"序号", "备注说明"})
LIST_SEPARATORS = ("、", "，", ",", "；", ";", "\n")


@dataclass(frozen=True)
class Column:
    header: str
    field: str  # an ItemUpsert field, or ``material.<field>`` for the material columns
    kind: str  # text, int, bool, list, code, codes
    required: bool = False
    help: str = ""
    coded: type[codes.Coded] | None = None
    width: int = 14

    @property
    def is_material(self) -> bool:
        return self.field.startswith("material.")


C = Column
COLUMNS: list[Column] = [
    C("事项编码", "item_code", "text", True, "本县的事项编码, 字母数字和 - . _, 唯一", width=14),
    C("事项名称", "name", "text", True, "事项全称", width=30),
    C("别名", "aliases", "list", help="群众常用的叫法, 用、分隔 (如: 低保)", width=16),
    C("关键词", "keywords", "list", help="检索用关键词, 用、分隔", width=16),
    C("基本编码", "basic_code", "text", help="国家政务服务事项基本目录的基本编码"),
    C("实施编码", "implementation_code", "text", help="实施清单的实施编码 (含实施主体和层级)"),
    C("事项类型", "item_type", "code", True, "代码或名称", codes.ItemType),
    C("行使层级", "exercising_level", "code", True, "代码或名称", codes.ExercisingLevel),
    C("审批层级", "deciding_level", "code", True, "作出决定的层级: 村、镇、县、市", codes.DecidingLevel),
    C("实施主体", "implementing_body", "text", help="实施机关全称", width=24),
    C("实施主体编码", "implementing_body_code", "text", help="统一社会信用代码"),
    C("实施主体性质", "implementing_body_nature", "code", help="代码或名称", coded=codes.BodyNature),
    C("办理依据", "legal_basis", "text", help="法律法规名称及条款", width=30),
    C("受理条件", "acceptance_conditions", "text", width=30),
    C("办理流程", "procedure", "text", width=30),
    C("办件类型", "immediate", "code", True, "1 即办件 或 2 承诺件", codes.HandlingType),
    C("法定时限", "legal_days", "int", help="整数个工作日; 无法定时限填 0"),
    C("法定时限说明", "legal_limit_note", "text"),
    C("承诺时限", "promised_days", "int", True, "整数个工作日; 即办件填 0"),
    C("承诺时限说明", "promised_limit_note", "text"),
    C("时限单位", "limit_unit", "code", help="工作日", coded=codes.LimitUnit),
    C("是否收费", "fee_required", "bool", help="是 或 否"),
    C("收费依据", "fee_basis", "text"),
    C("收费标准", "fee_standard", "text", help="收费的事项必填"),
    C("联办机构", "co_departments", "list", help="并联审批的部门, 用、分隔", width=20),
    C("审批结果名称", "result_name", "text", width=20),
    C("服务对象", "service_objects", "codes", help="代码或名称, 用、分隔", coded=codes.ServiceObject),
    C("办理形式", "handling_forms", "codes", help="代码或名称, 用、分隔", coded=codes.HandlingForm),
    C("是否网办", "online", "bool", help="是 或 否"),
    C("到现场次数", "max_visits", "int", help="整数, 最多跑一次填 1"),
    C("办理地点", "place", "text", width=24),
    C("办理时间", "hours", "text", width=20),
    C("咨询电话", "consultation_phone", "text"),
    C("监督电话", "supervision_phone", "text"),
    C("村代办员可代办", "agent_may_take", "bool", help="是 或 否"),
    C(
        "材料名称",
        "material.name",
        "text",
        help="每行一种材料; 同一事项的其他材料写在下面的行, 事项编码留空",
        width=28,
    ),
    C("是否必要", "material.required", "bool", help="必要 或 非必要 (是/否)"),
    C("原件份数", "material.originals", "int", help="整数"),
    C("复印件份数", "material.copies", "int", help="整数"),
    C("材料备注", "material.notes", "text", width=20),
    C("表格模板", "material.form_template", "text", help="空白表格或样表的地址或文件名", width=20),
]
BY_HEADER = {c.header: c for c in COLUMNS}
BY_FIELD = {c.field: c for c in COLUMNS}
INT_MESSAGES = {
    "promised_days": "承诺时限必须是整数个工作日",
    "legal_days": "法定时限必须是整数个工作日",
}


class UnreadableFile(ValueError):
    """The file is not a spreadsheet in the layout at all (not xlsx/CSV, empty, wrong headers)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("；".join(problems))
        self.problems = problems


@dataclass
class Problem:
    row: int | None
    column: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass
class ParsedItem:
    row: int
    item_code: str
    data: ItemUpsert


@dataclass
class ParseResult:
    items: list[ParsedItem] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    rows_total: int = 0


# -- reading -----------------------------------------------------------------------------------------


def read_table(data: bytes, file_format: str, max_rows: int = MAX_ROWS + 2) -> list[list[Any]]:
    """The sheet's rows (the header first, at most ``max_rows``); ``UnreadableFile`` when it is no
    spreadsheet."""
    if not data.strip():
        raise UnreadableFile(["文件是空的"])
    if file_format == "xlsx":
        try:
            workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
            raise UnreadableFile(["文件不是有效的 .xlsx 工作簿"]) from exc
        sheet = workbook[SHEET] if SHEET in workbook.sheetnames else workbook.worksheets[0]
        rows = [list(r) for r in sheet.iter_rows(values_only=True, max_row=max_rows)]
        workbook.close()
    else:
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise UnreadableFile(["CSV 文件的编码无法识别 (请用 UTF-8 或 GBK)"])
        if "\x00" in text:
            raise UnreadableFile(["文件不是文本格式的 CSV"])
        try:
            rows = [list(r) for _, r in zip(range(max_rows), csv.reader(io.StringIO(text)), strict=False)]
        except csv.Error as exc:
            raise UnreadableFile([f"CSV 文件格式有误: {exc}"]) from exc
    if not rows or all(all(_blank(v) for v in r) for r in rows):
        raise UnreadableFile(["文件是空的"])
    if len(rows) > MAX_ROWS + 1:
        raise UnreadableFile([f"文件超过 {MAX_ROWS} 行, 请分批导入"])
    return rows


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def header_map(header: list[Any]) -> dict[int, Column]:
    """Column index → column; ``UnreadableFile`` listing every unknown or missing header."""
    found: dict[int, Column] = {}
    problems = []
    for index, cell in enumerate(header):
        name = "" if cell is None else str(cell).strip().rstrip("*＊").strip()
        if not name or name in IGNORED_HEADERS:
            continue
        column = BY_HEADER.get(name)
        if column is None:
            problems.append(f"第1行: 未知的列 “{name}”")
        elif column in found.values():
            problems.append(f"第1行: 列 “{name}” 出现了两次")
        else:
            found[index] = column
    missing = [c.header for c in COLUMNS if c.required and c not in found.values()]
    if missing:
        problems.append(f"第1行: 缺少必填的列: {'、'.join(missing)}")
    if problems:
        raise UnreadableFile(problems)
    return found


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _convert(column: Column, value: Any, row: int, problems: list[Problem]) -> Any:
    """One cell to its field value; a problem (and ``None``) when it cannot be read."""
    if _blank(value):
        return None
    text = _text(value)
    try:
        if column.kind == "int":
            if isinstance(value, bool) or not (
                isinstance(value, int) or (isinstance(value, float) and value.is_integer()) or text.isdigit()
            ):
                raise ValueError(text)
            return int(float(text))
        if column.kind == "bool":
            return codes.parse_yes_no(value)
        if column.kind == "list":
            return _split(text)
        if column.kind == "code":
            assert column.coded is not None
            member = column.coded.parse(value)
            return member == codes.HandlingType.immediate if column.field == "immediate" else member.value
        if column.kind == "codes":
            assert column.coded is not None
            return [column.coded.parse(part).value for part in _split(text)]
    except ValueError:
        problems.append(Problem(row, column.header, f"第{row}行: {_cell_message(column, text)}"))
        return None
    return text


def _cell_message(column: Column, text: str) -> str:
    if column.kind == "int":
        return INT_MESSAGES.get(column.field, f"{column.header}必须是整数") + f" (填的是 “{text}”)"
    if column.kind == "bool":
        return f"{column.header}只能填 是 或 否 (填的是 “{text}”)"
    assert column.coded is not None
    return f"未知的{column.header} {text} (可填: {column.coded.choices()})"


def _split(text: str) -> list[str]:
    for separator in LIST_SEPARATORS[1:]:
        text = text.replace(separator, LIST_SEPARATORS[0])
    return [part.strip() for part in text.split(LIST_SEPARATORS[0]) if part.strip()]


@dataclass
class _Group:
    row: int
    cells: dict[str, Any]
    materials: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


def parse(rows: list[list[Any]], progress: Callable[[int, int], None] | None = None) -> ParseResult:
    """Check every row and build the items; all problems are reported, none raises."""
    columns = header_map(rows[0])
    body = rows[1:]
    result = ParseResult(rows_total=len(body))
    groups: list[_Group] = []
    first_row_of: dict[str, int] = {}
    for offset, raw in enumerate(body):
        row = offset + 2
        if progress and offset % 50 == 0:
            progress(offset, len(body))
        cells = {c.field: raw[i] if i < len(raw) else None for i, c in columns.items()}
        if all(_blank(v) for v in cells.values()):
            continue
        code = "" if _blank(cells.get("item_code")) else _text(cells["item_code"])
        item_cells = {k: v for k, v in cells.items() if not k.startswith("material.") and k != "item_code"}
        material = {k.removeprefix("material."): v for k, v in cells.items() if k.startswith("material.")}
        current = groups[-1] if groups else None
        if code and (current is None or code != _text(current.cells["item_code"])):
            if code in first_row_of:
                result.problems.append(
                    Problem(row, "事项编码", f"第{row}行: 事项编码 {code} 与第{first_row_of[code]}行重复")
                )
                continue
            first_row_of[code] = row
            groups.append(_Group(row, cells))
        elif current is None:
            result.problems.append(Problem(row, "事项编码", f"第{row}行: 缺少事项编码 (材料行前面没有事项)"))
            continue
        else:
            differing = [
                BY_FIELD[k].header
                for k, v in item_cells.items()
                if not _blank(v) and v != current.cells.get(k)
            ]
            if differing:
                result.problems.append(
                    Problem(
                        row,
                        differing[0],
                        f"第{row}行: 材料续行的{'、'.join(differing)}与第{current.row}行的事项不一致",
                    )
                )
        if any(not _blank(v) for v in material.values()):
            groups[-1].materials.append((row, material))
    for group in groups:
        parsed = _build(group, columns, result.problems)
        if parsed is not None:
            result.items.append(parsed)
    if progress:
        progress(len(body), len(body))
    result.problems.sort(key=lambda p: p.row or 0)
    return result


def _build(group: _Group, columns: dict[int, Column], problems: list[Problem]) -> ParsedItem | None:
    before = len(problems)
    code = _text(group.cells["item_code"])
    if not re.match(ITEM_CODE_PATTERN, code):
        problems.append(
            Problem(group.row, "事项编码", f"第{group.row}行: 事项编码 {code} 只能含字母、数字和 - . _")
        )
    data: dict[str, Any] = {}
    for column in columns.values():
        if column.is_material or column.field == "item_code":
            continue
        unreadable = len(problems)
        value = _convert(column, group.cells.get(column.field), group.row, problems)
        if value is None and column.required and len(problems) == unreadable:
            problems.append(Problem(group.row, column.header, f"第{group.row}行: {column.header}不能为空"))
        elif value is not None:
            data[column.field] = value
    materials = []
    for row, cells in group.materials:
        material: dict[str, Any] = {}
        for key, value in cells.items():
            converted = _convert(BY_FIELD[f"material.{key}"], value, row, problems)
            if converted is not None:
                material[key] = converted
        if "name" not in material:
            problems.append(Problem(row, "材料名称", f"第{row}行: 材料名称不能为空"))
        materials.append((row, material))
    data["materials"] = [m for _, m in materials]
    if len(problems) > before:
        return None
    try:
        return ParsedItem(group.row, code, ItemUpsert.model_validate(data))
    except ValidationError as exc:
        for error in exc.errors():
            problems.append(_validation_problem(error, group.row, materials))
        return None


def _validation_problem(error: Any, row: int, materials: list[tuple[int, dict[str, Any]]]) -> Problem:
    loc = list(error.get("loc", ()))
    message = str(error.get("msg", "")).removeprefix("Value error, ")
    if loc and loc[0] == "materials" and len(loc) > 2 and isinstance(loc[1], int):
        column = BY_FIELD.get(f"material.{loc[2]}")
        material_row = materials[loc[1]][0] if loc[1] < len(materials) else row
        header = column.header if column else str(loc[2])
        return Problem(material_row, header, f"第{material_row}行: {header}: {message}")
    item_column = BY_FIELD.get(str(loc[0])) if loc else None
    if item_column is None:
        return Problem(row, None, f"第{row}行: {message}")
    return Problem(row, item_column.header, f"第{row}行: {item_column.header}: {message}")


# -- writing -----------------------------------------------------------------------------------------


def _cell(column: Column, value: Any) -> Any:
    if value is None:
        return None
    if column.kind == "bool":
        if column.field == "material.required":
            return "必要" if value else "非必要"
        return "是" if value else "否"
    if column.kind == "list":
        return "、".join(value)
    if column.kind == "code":
        assert column.coded is not None
        if column.field == "immediate":
            value = codes.HandlingType.immediate if value else codes.HandlingType.promised
        return column.coded(value).display  # type: ignore[call-arg]
    if column.kind == "codes":
        assert column.coded is not None
        return "、".join(column.coded(v).display for v in value)  # type: ignore[call-arg]
    return value


def item_rows(item_code: str, data: ItemUpsert) -> list[list[Any]]:
    """The rows of one item: the item's columns on the first, one material per row."""
    content = data.model_dump(mode="json", exclude={"handling_type"})
    content["item_code"] = item_code
    materials = content.pop("materials") or [{}]
    rows = []
    for index, material in enumerate(materials):
        row = []
        for column in COLUMNS:
            if column.is_material:
                row.append(_cell(column, material.get(column.field.removeprefix("material."))))
            else:
                row.append(_cell(column, content.get(column.field)) if index == 0 else None)
        rows.append(row)
    return rows


def write_csv(items: Iterable[tuple[str, ItemUpsert]]) -> bytes:
    """UTF-8 with a byte-order mark, which Excel in a Chinese locale opens correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([c.header for c in COLUMNS])
    for item_code, data in items:
        writer.writerows(item_rows(item_code, data))
    return ("\ufeff" + buffer.getvalue()).encode()


def write_xlsx(items: Iterable[tuple[str, ItemUpsert]]) -> bytes:
    """The layout as a workbook: the 事项目录 sheet (item cells merged over their material rows)
    and a 填写说明 sheet that documents every column and code list."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = SHEET
    sheet.append([c.header for c in COLUMNS])
    required_fill = PatternFill("solid", fgColor="FDE9D9")
    for index, column in enumerate(COLUMNS, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font = Font(bold=True, color="C00000" if column.required else "000000")
        cell.fill = required_fill if column.required else PatternFill()
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    sheet.freeze_panes = "C2"
    top = Alignment(vertical="top", wrap_text=True)
    for item_code, data in items:
        rows = item_rows(item_code, data)
        first = sheet.max_row + 1
        for row in rows:
            sheet.append(row)
        last = sheet.max_row
        for index, column in enumerate(COLUMNS, start=1):
            sheet.cell(row=first, column=index).alignment = top
            if last > first and not column.is_material:
                sheet.merge_cells(start_row=first, start_column=index, end_row=last, end_column=index)
    _guide_sheet(workbook)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _guide_sheet(workbook: Workbook) -> None:
    guide = workbook.create_sheet(GUIDE_SHEET)
    guide.append(["列名", "必填", "说明", "可填写的值"])
    for cell in guide[1]:
        cell.font = Font(bold=True)
    for column in COLUMNS:
        values = column.coded.choices() if column.coded else ""
        guide.append([column.header, "是" if column.required else "", column.help, values])
    guide.append([])
    for line in (
        "每个事项占一行或连续多行: 第一行填写事项的各列和第一种材料,"
        " 其后每行填写一种材料, 事项编码留空 (或重复同一编码)。",
        "导入是整体的: 任何一行有问题, 整个文件都不导入, 并逐行列出全部问题。",
        "内容与已发布版本相同的事项不产生新版本; 内容有变化的事项产生新版本, 已受理的办件仍按原版本办理。",
    ):
        guide.append([line])
    for letter, width in zip("ABCD", (16, 6, 48, 60), strict=True):
        guide.column_dimensions[letter].width = width
