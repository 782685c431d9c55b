"""Builds the demo's catalogue spreadsheets and the blank import template, with the same code the
catalogue service reads them with (``services.catalogue.spreadsheet``).

    python -m deploy.demo_catalogue.build

writes ``deploy/demo_catalogue/linyi.xlsx`` (临邑县's items, imported by the demo loader as the
county's admin), ``deploy/demo_catalogue/dezhou.xlsx`` (德州市's own items, imported as the city's
admin, so the city owns them) and ``services/catalogue/templates/catalogue_template.xlsx``. All three
are committed.

The items are drawn from the seeds (临邑: 低保, 临时救助, 特困供养, 农民建房, 营业执照, 残疾人, 养老); the
legal bases are the real regulations, while time limits, phones and places are plausible
illustrations, not the county's published figures. Basic and implementation codes are left empty:
the real ones come from the provincial platform.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.catalogue.schemas import ItemUpsert
from services.catalogue.spreadsheet import write_xlsx

HERE = Path(__file__).resolve().parent
DEMO_FILE = HERE / "linyi.xlsx"
CITY_FILE = HERE / "dezhou.xlsx"
TEMPLATE_FILE = HERE.parents[1] / "services" / "catalogue" / "templates" / "catalogue_template.xlsx"

HOURS = "工作日 上午9:00-12:00, 下午13:30-17:30 (法定节假日除外)"
CONSULT = "0534-4212345"
SUPERVISE = "0534-12345"
COUNTY_HALL = "临邑县政务服务中心 (临邑县城区)"
CITY_HALL = "德州市政务服务中心 医保综合窗口; 可由村代办员代办, 经乡镇、县逐级上交"
CITY_CONSULT = "0534-12345"
TOWN_HALL = "所在乡镇(街道)为民服务中心; 可由村代办员代办"
MZ = "临邑县民政局"
CIVIL = "《社会救助暂行办法》(国务院令第649号)"


def _m(
    name: str, required: bool = True, originals: int = 1, copies: int = 0, notes: str | None = None
) -> dict:
    return {"name": name, "required": required, "originals": originals, "copies": copies, "notes": notes}


ITEMS: list[dict[str, Any]] = [
    {
        "item_code": "LY-MZ-001",
        "name": "最低生活保障(低保)认定",
        "aliases": ["低保", "低保申请"],
        "keywords": ["社会救助", "困难群众"],
        "item_type": "05",
        "exercising_level": "5",
        "deciding_level": "town",
        "implementing_body": "临邑县各乡镇人民政府(街道办事处)",
        "legal_basis": f"{CIVIL} 第二章; 《山东省最低生活保障办法》",
        "acceptance_conditions": "共同生活的家庭成员人均收入低于当地最低生活保障标准, 且财产状况符合规定。",
        "procedure": "申请 → 受理 → 家庭经济状况调查 → 民主评议 → 审核确认 → 公示 → 发放",
        "legal_days": 30,
        "promised_days": 10,
        "promised_limit_note": "自受理之日起计算; 调查核实和公示期间不计入",
        "agent_may_take": True,
        "result_name": "最低生活保障金领取证",
        "materials": [
            _m("低保申请书"),
            _m("居民身份证", copies=1),
            _m("户口簿", copies=1),
            _m("家庭收入情况声明"),
            _m("残疾证或病历", required=False, copies=1, notes="家庭成员有残疾或重病的提供"),
        ],
    },
    {
        "item_code": "LY-MZ-002",
        "name": "特困人员救助供养认定",
        "aliases": ["五保", "特困供养"],
        "item_type": "05",
        "exercising_level": "4",
        "deciding_level": "county",
        "implementing_body": MZ,
        "legal_basis": f"{CIVIL} 第三章; 《特困人员认定办法》(民发〔2021〕43号)",
        "acceptance_conditions": (
            "老年人、残疾人以及未满16周岁的未成年人, 无劳动能力、无生活来源、无法定赡养抚养扶养义务人。"
        ),
        "procedure": "申请 → 乡镇受理并调查 → 县民政局审批 → 公示 → 供养",
        "legal_days": 20,
        "promised_days": 15,
        "agent_may_take": True,
        "result_name": "特困人员救助供养证",
        "materials": [
            _m("特困人员救助供养申请书"),
            _m("居民身份证", copies=1),
            _m("户口簿", copies=1),
            _m("财产状况声明", required=False),
        ],
    },
    {
        "item_code": "LY-MZ-003",
        "name": "临时救助",
        "aliases": ["急难救助"],
        "keywords": ["救急难"],
        "item_type": "05",
        "exercising_level": "5",
        "deciding_level": "town",
        "implementing_body": "临邑县各乡镇人民政府(街道办事处)",
        "legal_basis": f"{CIVIL} 第十一章",
        "acceptance_conditions": (
            "因火灾、交通事故等意外事件或家庭成员突发重大疾病, 基本生活暂时出现严重困难的家庭或个人。"
        ),
        "legal_days": 10,
        "promised_days": 5,
        "agent_may_take": True,
        "materials": [_m("临时救助申请书"), _m("居民身份证", copies=1)],
    },
    {
        "item_code": "LY-ZJ-001",
        "name": "农村村民住宅建设审批(农民建房)",
        "aliases": ["建房", "宅基地"],
        "keywords": ["乡村建设规划许可"],
        "item_type": "01",
        "exercising_level": "5",
        "deciding_level": "town",
        "implementing_body": "临邑县各乡镇人民政府(街道办事处)",
        "legal_basis": "《中华人民共和国土地管理法》第六十二条; 《中华人民共和国城乡规划法》第四十一条",
        "acceptance_conditions": "本集体经济组织成员, 一户一宅, 符合国土空间规划和村庄规划。",
        "procedure": "申请 → 村民会议讨论 → 乡镇联审 → 审批 → 放线 → 竣工验收",
        "legal_days": 20,
        "promised_days": 15,
        "co_departments": ["乡镇自然资源所", "乡镇规划建设办"],
        "agent_may_take": True,
        "result_name": "农村宅基地批准书; 乡村建设规划许可证",
        "materials": [
            _m("农村宅基地和建房(规划许可)申请表"),
            _m("户口簿", copies=1),
            _m("村民会议决议"),
            _m("建房设计图", required=False),
        ],
    },
    {
        "item_code": "LY-SC-001",
        "name": "个体工商户设立登记(营业执照)",
        "aliases": ["营业执照", "个体户"],
        "keywords": ["开店", "工商登记"],
        "item_type": "01",
        "exercising_level": "4",
        "deciding_level": "county",
        "implementing_body": "临邑县市场监督管理局",
        "legal_basis": "《促进个体工商户发展条例》; 《中华人民共和国市场主体登记管理条例》",
        "acceptance_conditions": "有经营能力的公民, 有固定经营场所。",
        "legal_days": 15,
        "promised_days": 3,
        "service_objects": ["1", "5"],
        "handling_forms": ["1", "2", "4"],
        "online": True,
        "max_visits": 0,
        "agent_may_take": False,
        "result_name": "营业执照",
        "materials": [
            _m("个体工商户登记申请书"),
            _m("经营者身份证明", copies=1),
            _m("经营场所使用证明", copies=1),
        ],
    },
    {
        "item_code": "LY-CL-001",
        "name": "残疾人证申领",
        "aliases": ["残疾证"],
        "item_type": "20",
        "exercising_level": "4",
        "deciding_level": "county",
        "implementing_body": "临邑县残疾人联合会",
        "implementing_body_nature": "2",
        "legal_basis": "《中华人民共和国残疾人保障法》; 《中华人民共和国残疾人证管理办法》",
        "procedure": "申请 → 指定医院评定 → 县残联审核 → 制发证件",
        "legal_days": 30,
        "promised_days": 20,
        "promised_limit_note": "残疾评定时间不计入",
        "agent_may_take": True,
        "result_name": "中华人民共和国残疾人证",
        "materials": [
            _m("残疾人证申请表"),
            _m("居民身份证", copies=1),
            _m("近期免冠照片", originals=2),
        ],
    },
    {
        "item_code": "LY-SB-001",
        "name": "城乡居民基本养老保险参保登记",
        "aliases": ["养老保险", "居民养老"],
        "item_type": "20",
        "exercising_level": "6",
        "deciding_level": "village",
        "implementing_body": "临邑县社会保险事业中心",
        "legal_basis": "《中华人民共和国社会保险法》第二十条",
        "acceptance_conditions": (
            "年满16周岁(不含在校学生), 非国家机关和事业单位工作人员"
            "及不属于职工基本养老保险覆盖范围的城乡居民。"
        ),
        "immediate": True,
        "promised_days": 0,
        "legal_days": 0,
        "handling_forms": ["1", "2", "4"],
        "online": True,
        "agent_may_take": True,
        "materials": [_m("居民身份证"), _m("户口簿", required=False)],
    },
    {
        "item_code": "LY-YB-001",
        "name": "城乡居民基本医疗保险参保登记",
        "aliases": ["医保", "居民医保"],
        "item_type": "20",
        "exercising_level": "6",
        "deciding_level": "village",
        "implementing_body": "临邑县医疗保障局",
        "legal_basis": "《中华人民共和国社会保险法》第二十五条",
        "immediate": True,
        "handling_forms": ["1", "2", "4"],
        "online": True,
        "agent_may_take": True,
        "materials": [_m("居民身份证")],
    },
    {
        "item_code": "LY-MZ-004",
        "name": "80周岁以上老年人高龄津贴申领",
        "aliases": ["高龄津贴", "高龄补贴"],
        "item_type": "05",
        "exercising_level": "4",
        "deciding_level": "county",
        "implementing_body": MZ,
        "legal_basis": "《中华人民共和国老年人权益保障法》第三十三条",
        "acceptance_conditions": "具有本县户籍、年满80周岁的老年人。",
        "legal_days": 20,
        "promised_days": 10,
        "agent_may_take": True,
        "materials": [_m("居民身份证", copies=1), _m("户口簿", copies=1), _m("本人银行账户", required=False)],
    },
    {
        "item_code": "LY-TY-001",
        "name": "退役军人优待证申领",
        "aliases": ["优待证"],
        "item_type": "07",
        "exercising_level": "4",
        "deciding_level": "county",
        "implementing_body": "临邑县退役军人事务局",
        "legal_basis": "《中华人民共和国退役军人保障法》; 《退役军人、其他优抚对象优待证管理办法(试行)》",
        "legal_days": 20,
        "promised_days": 15,
        "agent_may_take": False,
        "result_name": "中华人民共和国退役军人优待证",
        "materials": [_m("优待证申请表"), _m("居民身份证", copies=1), _m("退役证件", copies=1)],
    },
]

# 德州市's own items: the city hall decides them (审批层级 市), a village agent may take them and the case
# is handed up village → town → county → city. Drawn from the seeds' 医保 and 大救助 (seed 002: a
# platform "贯通省、市、县、乡、村五级"); resident medical insurance is pooled at the city (市级统筹), so
# the city's medical-insurance bureau recognises outpatient chronic and special diseases. The legal
# basis is real; the time limits, the procedure's steps, the place and the phones are ILLUSTRATIVE,
# not 德州市's published figures.
CITY_ITEMS: list[dict[str, Any]] = [
    {
        "item_code": "DZ-YB-001",
        "name": "城乡居民医保门诊慢特病待遇认定",
        "aliases": ["慢特病", "门诊慢性病", "门诊特殊疾病"],
        "keywords": ["医保", "慢性病", "医疗保障"],
        "item_type": "20",
        "exercising_level": "3",
        "deciding_level": "city",
        "implementing_body": "德州市医疗保障局",
        "legal_basis": (
            "《中华人民共和国社会保险法》第二十八条; 《医疗保障基金使用监督管理条例》(国务院令第735号)"
        ),
        "acceptance_conditions": (
            "参加德州市城乡居民基本医疗保险, "
            "经二级及以上定点医疗机构确诊患有门诊慢特病病种范围内疾病的参保人。"
        ),
        "procedure": "申请 → 村代办员收件 → 乡镇、县逐级上交 → 市医保经办机构组织专家评审 → 认定 → 结果送达",
        "legal_days": 20,
        "promised_days": 15,
        "promised_limit_note": "专家评审时间不计入 (示例时限)",
        "service_objects": ["1"],
        "handling_forms": ["1", "2"],
        "agent_may_take": True,
        "result_name": "门诊慢特病待遇认定结果告知书",
        "materials": [
            _m("门诊慢特病待遇认定申请表"),
            _m("居民身份证", copies=1),
            _m("二级及以上定点医疗机构诊断证明"),
            _m("近期病历及检查报告", copies=1),
        ],
        "place": CITY_HALL,
        "consultation_phone": CITY_CONSULT,
    },
]

for _item in [*ITEMS, *CITY_ITEMS]:
    county = _item["deciding_level"] in ("county", "city")
    _item.setdefault("place", COUNTY_HALL if county else TOWN_HALL)
    _item.setdefault("hours", HOURS)
    _item.setdefault("consultation_phone", CONSULT)
    _item.setdefault("supervision_phone", SUPERVISE)


def demo_items() -> list[tuple[str, ItemUpsert]]:
    """临邑县's items (``linyi.xlsx``)."""
    return [(i["item_code"], ItemUpsert.model_validate(i)) for i in ITEMS]


def city_items() -> list[tuple[str, ItemUpsert]]:
    """德州市's own items (``dezhou.xlsx``)."""
    return [(i["item_code"], ItemUpsert.model_validate(i)) for i in CITY_ITEMS]


def main() -> None:
    DEMO_FILE.write_bytes(write_xlsx(demo_items()))
    CITY_FILE.write_bytes(write_xlsx(city_items()))
    TEMPLATE_FILE.parent.mkdir(parents=True, exist_ok=True)
    TEMPLATE_FILE.write_bytes(write_xlsx([]))
    print(
        f"wrote {DEMO_FILE} ({len(ITEMS)} items), {CITY_FILE} ({len(CITY_ITEMS)} items) and {TEMPLATE_FILE}"
    )


if __name__ == "__main__":
    main()
