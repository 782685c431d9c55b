"""办事指南: an item's guide for citizens, as JSON and as a printable zh-CN HTML page.

With a unit's code the guide says whether that unit's hall serves the item and, if not, which unit
does, where, and its phone; the materials are a checklist to tick before setting out.
"""

from __future__ import annotations

from html import escape

from sqlmodel.ext.asyncio.session import AsyncSession

from services.catalogue import directories, service
from services.catalogue.codes import Coded
from services.catalogue.schemas import CodeLabel, Guide, GuideMaterial, GuideUnit, ItemRead
from shared.errors import NotFound


def _cl(member: Coded) -> CodeLabel:
    return CodeLabel(code=member.value, label=member.label)


async def guide(session: AsyncSession, item_code: str, org_code: str | None = None) -> Guide:
    """The guide of the item's live version, for the given unit if one is named."""
    item = service.item_read(await service.current_version(session, item_code))
    at_unit = None
    if org_code:
        org = await service.get_org(session, org_code)
        offers = await directories.offers_at(session, org_code)
        offer = next((o for o in offers if o.version.item_code == item_code), None)
        if offer is None:
            raise NotFound(f"{org.name} does not list item {item_code}", slug="item-not-offered-here")
        at_unit = GuideUnit(
            org_code=org.code, name=org.name, served=offer.served, handled_by=offer.handled_by
        )
    return _guide(item, at_unit)


def _guide(item: ItemRead, at_unit: GuideUnit | None) -> Guide:
    return Guide(
        **item.model_dump(
            include={
                "item_code",
                "version_no",
                "state",
                "name",
                "aliases",
                "basic_code",
                "implementation_code",
                "implementing_body",
                "legal_basis",
                "acceptance_conditions",
                "procedure",
                "legal_days",
                "legal_limit_note",
                "promised_days",
                "promised_limit_note",
                "fee_required",
                "fee_basis",
                "fee_standard",
                "co_departments",
                "result_name",
                "online",
                "max_visits",
                "agent_may_take",
                "place",
                "hours",
                "consultation_phone",
                "supervision_phone",
                "published_at",
            }
        ),  # fmt: skip
        item_type=_cl(item.item_type),
        handling_type=_cl(item.handling_type),
        exercising_level=_cl(item.exercising_level),
        deciding_level=_cl(item.deciding_level),
        implementing_body_nature=_cl(item.implementing_body_nature),
        limit_unit=_cl(item.limit_unit),
        service_objects=[_cl(s) for s in item.service_objects],
        handling_forms=[_cl(f) for f in item.handling_forms],
        materials=[GuideMaterial(no=n, **m.model_dump()) for n, m in enumerate(item.materials, start=1)],
        at_unit=at_unit,
    )


def _text(value: object) -> str:
    if value is None or value == "" or value == []:
        return "—"
    return escape(str(value)).replace("\n", "<br>")


def _days(days: int, note: str | None, unit: str, *, none: str = "—") -> str:
    text = f"{days}个{unit}" if days else none
    return _text(text) + (f"<br><small>{_text(note)}</small>" if note else "")


STYLE = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei","PingFang SC",sans-serif;
 margin:2em auto;max-width:52em;color:#111;line-height:1.6}
h1{font-size:1.6em;text-align:center;margin-bottom:.2em}p.sub{text-align:center;color:#555;margin-top:0}
h2{font-size:1.15em;border-left:4px solid #c00;padding-left:.5em;margin-top:1.6em}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #999;padding:.35em .6em;vertical-align:top}
th{background:#f3f3f3;text-align:left;white-space:nowrap;width:9em}td.box{text-align:center;width:2em}
.where{background:#fff8e1;border:1px solid #e0c060;padding:.6em 1em}
@media print{body{margin:0;max-width:none}h2{break-after:avoid}tr{break-inside:avoid}}
"""


def render_html(g: Guide) -> str:
    """A printable page (A4, zh-CN); every value is escaped."""
    rows = [
        ("事项名称", _text(g.name)),
        ("事项类型", _text(g.item_type.label)),
        ("办件类型", _text(g.handling_type.label)),
        ("实施主体", _text(g.implementing_body)),
        ("实施主体性质", _text(g.implementing_body_nature.label)),
        ("行使层级", _text(g.exercising_level.label)),
        ("审批层级", _text(g.deciding_level.label)),
        ("基本编码", _text(g.basic_code)),
        ("实施编码", _text(g.implementation_code)),
        ("服务对象", _text("、".join(s.label for s in g.service_objects))),
        ("办理形式", _text("、".join(f.label for f in g.handling_forms))),
        ("是否网办", "是" if g.online else "否"),
        ("到现场次数", _text(f"{g.max_visits}次")),
        ("法定时限", _days(g.legal_days, g.legal_limit_note, g.limit_unit.label)),
        (
            "承诺时限",
            _days(
                g.promised_days,
                g.promised_limit_note,
                g.limit_unit.label,
                none="即时办结" if g.handling_type.code == "1" else "—",
            ),
        ),
        ("是否收费", "是" if g.fee_required else "否（不收费）"),
        ("收费标准", _text(g.fee_standard) if g.fee_required else "—"),
        ("收费依据", _text(g.fee_basis) if g.fee_required else "—"),
        ("联办机构", _text("、".join(g.co_departments))),
        ("审批结果", _text(g.result_name)),
        ("村代办员可代办", "是" if g.agent_may_take else "否"),
    ]
    table = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    checklist = "".join(
        f"<tr><td class=box>☐</td><td>{m.no}</td><td>{_text(m.name)}</td>"
        f"<td>{'必要' if m.required else '非必要'}</td><td>原件{m.originals}份；复印件{m.copies}份</td>"
        f"<td>{_text(m.notes)}{'<br>表格: ' + _text(m.form_template) if m.form_template else ''}</td></tr>"
        for m in g.materials
    )
    where = ""
    if g.at_unit is not None:
        unit = g.at_unit
        if unit.served or unit.handled_by is None:
            where = f"<p class=where>本事项可在<b>{_text(unit.name)}</b>办理。</p>"
        else:
            h = unit.handled_by
            where = (
                f"<p class=where><b>{_text(unit.name)}</b>暂不办理本事项，请到<b>{_text(h.name)}</b>办理："
                f"地址 {_text(h.address)}，电话 {_text(h.phone)}。</p>"
            )
    contact = [
        ("办理地点", _text(g.place)),
        ("办理时间", _text(g.hours)),
        ("咨询电话", _text(g.consultation_phone)),
        ("监督投诉电话", _text(g.supervision_phone)),
    ]
    contact_rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in contact)
    published = g.published_at.strftime("%Y年%m月%d日") if g.published_at else "—"
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_text(g.name)} 办事指南</title><style>{STYLE}</style></head>
<body>
<h1>{_text(g.name)}</h1>
<p class=sub>办事指南 · 事项编码 {_text(g.item_code)} · 第{g.version_no}版 · {published}发布</p>
{where}
<h2>基本信息</h2><table>{table}</table>
<h2>受理条件</h2><p>{_text(g.acceptance_conditions)}</p>
<h2>申请材料（请逐项核对）</h2>
<table><tr><th></th><th>序号</th><th>材料名称</th><th>是否必要</th><th>份数</th><th>备注</th></tr>{checklist}</table>
<h2>办理流程</h2><p>{_text(g.procedure)}</p>
<h2>办理依据</h2><p>{_text(g.legal_basis)}</p>
<h2>办理地点和咨询</h2><table>{contact_rows}</table>
</body></html>
"""
