"""The printed receipt (受理凭证) and its rating code (评价码).

The rating code is the applicant's alone: it lets them rate the service (好差评) without an account.
It is printed on the paper receipt the clerk hands them (every printing recorded) and never appears
in an officer's JSON: whoever knew it could rate in the applicant's place and lock them out.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime
from html import escape

from services.intake.models import Receipt
from shared.clock import local_date

# No look-alikes: no 0/O, no 1/I/L. 12 characters of 31 are about 59 bits: with at most 5 wrong codes
# per case per 15 minutes (supervision), guessing one takes longer than any case lives.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12


def new_evaluation_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def grouped(code: str) -> str:
    """``ABCDEFGHJKMN`` as printed, in groups of four: ``ABCD-EFGH-JKMN`` (typed back either way)."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def _text(value: object) -> str:
    return escape(str(value)) if value is not None else "—"


def _date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


STYLE = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei",sans-serif;max-width:44em;
margin:2em auto;padding:0 1em;color:#111;line-height:1.6}
h1{font-size:1.6em;text-align:center;margin-bottom:.2em}p.sub{text-align:center;color:#555;margin-top:0}
h2{font-size:1.15em;border-left:4px solid #c00;padding-left:.5em;margin-top:1.6em}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #999;padding:.35em .6em;vertical-align:top}
th{background:#f3f3f3;text-align:left;white-space:nowrap;width:9em}
.code{font-family:"DejaVu Sans Mono",monospace;font-size:1.8em;letter-spacing:.12em;text-align:center;
border:2px dashed #333;padding:.3em;margin:.6em 0}
.copy{color:#c00;text-align:right}
@media print{body{margin:0;max-width:none}}
"""


def render_html(receipt: Receipt, *, copy_no: int, printed_at: datetime) -> str:
    """The receipt as a printable zh-CN page (A4), with the rating code; every value is escaped."""
    due = _date(receipt.due) + ("（暂定，待节假日安排公布后确定）" if receipt.due_provisional else "")
    rows = [
        ("办件编号", _text(receipt.case_id)),
        ("事项名称", _text(receipt.item_name)),
        ("事项编码", _text(receipt.item_code)),
        ("受理单位", _text(receipt.org_code)),
        ("受理日期", _date(receipt.accepted_on)),
        ("承诺办结日期", _text(due)),
        ("受理人", _text(receipt.officer)),
    ]
    table = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    copy = f"<p class=copy>补打：第{copy_no}次打印</p>" if copy_no > 1 else ""
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>受理凭证 {_text(receipt.case_id)}</title><style>{STYLE}</style></head>
<body>
<h1>受理凭证</h1>
<p class=sub>凭证编号 {_text(receipt.receipt_no)} · 打印日期 {_date(local_date(printed_at))}</p>
{copy}
<p>您申请的事项已受理，将在承诺办结日期前办结。</p>
<table>{table}</table>
<h2>服务评价（好差评）</h2>
<p>办结后，请凭办件编号和下方评价码对本次服务作出评价：非常满意、满意、基本满意、不满意、非常不满意。</p>
<p class=code>{_text(grouped(receipt.evaluation_code))}</p>
<p>评价码仅供申请人本人使用，工作人员不会向您索要。请妥善保管，不要告诉他人。</p>
</body></html>
"""
