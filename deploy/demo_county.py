"""The demo county: 山东省德州市临邑县 (the county of seed 002), two towns and a street, their villages,
the service items drawn from the seeds, and the demo accounts (password ``demo``).

City, county and town codes are real (NBS 统计用区划代码 2023). Village codes are ILLUSTRATIVE: built by
the code rule (town digits + 001–199 居委会 / 200+ 村委会), since no real village code was found.
"""

from __future__ import annotations

CITY = "371400000000"
COUNTY = "371424000000"

ORGS: list[dict] = [
    {"code": CITY, "name": "山东省德州市", "address": "德州市政务服务中心", "phone": "0534-12345"},
    {"code": COUNTY, "name": "临邑县", "address": "临邑县政务服务中心", "phone": "0534-4212345"},
    {"code": "371424001000", "name": "邢侗街道", "address": "邢侗街道为民服务中心", "phone": "0534-4210001"},
    {"code": "371424100000", "name": "临邑镇", "address": "临邑镇为民服务中心", "phone": "0534-4210100"},
    {"code": "371424202000", "name": "宿安乡", "address": "宿安乡为民服务中心", "phone": "0534-4210202"},
    {"code": "371424001001", "name": "邢侗街道示例一社区(示例)", "address": None, "phone": None},
    {"code": "371424001002", "name": "邢侗街道示例二社区(示例)", "address": None, "phone": None},
    {"code": "371424100201", "name": "临邑镇示例东村(示例)", "address": None, "phone": None},
    {"code": "371424100202", "name": "临邑镇示例西村(示例)", "address": None, "phone": None},
    {"code": "371424202201", "name": "宿安乡示例南村(示例)", "address": None, "phone": None},
    {"code": "371424202202", "name": "宿安乡示例北村(示例)", "address": None, "phone": None},
]

TOWNS = ["371424001000", "371424100000", "371424202000"]
VILLAGES = [o["code"] for o in ORGS if o["code"][9:] != "000"]

ALL_LEVELS = ["village", "town", "county"]

# Drawn from the seeds (临邑: 低保, 临时救助, 特困供养, 农民建房, 营业执照, 残疾人, 养老); the time
# limits are plausible illustrations, not a county's published figures.
ITEMS: list[dict] = [
    {
        "item_code": "LY-MZ-001",
        "name": "最低生活保障(低保)认定",
        "aliases": ["低保", "低保申请"],
        "item_type": "05",
        "deciding_level": "town",
        "agent_may_take": True,
        "immediate": False,
        "promised_days": 10,
        "legal_days": 30,
        "offered_at": ALL_LEVELS,
        "materials": [
            {"name": "低保申请书", "required": True},
            {"name": "居民身份证", "required": True},
            {"name": "户口簿", "required": True},
            {"name": "家庭收入情况声明", "required": True},
            {"name": "残疾证或病历", "required": False},
        ],
    },
    {
        "item_code": "LY-MZ-002",
        "name": "特困人员救助供养认定",
        "aliases": ["五保", "特困供养"],
        "item_type": "05",
        "deciding_level": "county",
        "agent_may_take": True,
        "immediate": False,
        "promised_days": 15,
        "legal_days": 20,
        "offered_at": ALL_LEVELS,
        "materials": [
            {"name": "特困人员救助供养申请书", "required": True},
            {"name": "居民身份证", "required": True},
            {"name": "户口簿", "required": True},
            {"name": "财产状况声明", "required": False},
        ],
    },
    {
        "item_code": "LY-MZ-003",
        "name": "临时救助",
        "aliases": ["急难救助"],
        "item_type": "05",
        "deciding_level": "town",
        "agent_may_take": True,
        "immediate": False,
        "promised_days": 5,
        "legal_days": 10,
        "offered_at": ALL_LEVELS,
        "materials": [{"name": "临时救助申请书", "required": True}, {"name": "居民身份证", "required": True}],
    },
    {
        "item_code": "LY-ZJ-001",
        "name": "农村村民住宅建设审批(农民建房)",
        "aliases": ["建房", "宅基地"],
        "item_type": "01",
        "deciding_level": "town",
        "agent_may_take": True,
        "immediate": False,
        "promised_days": 15,
        "legal_days": 20,
        "offered_at": ["town", "county"],
        "materials": [
            {"name": "农村宅基地和建房(规划许可)申请表", "required": True},
            {"name": "户口簿", "required": True},
            {"name": "村民会议决议", "required": True},
            {"name": "建房设计图", "required": False},
        ],
    },
    {
        "item_code": "LY-SC-001",
        "name": "个体工商户设立登记(营业执照)",
        "aliases": ["营业执照", "个体户"],
        "item_type": "01",
        "deciding_level": "county",
        "agent_may_take": False,
        "immediate": False,
        "promised_days": 3,
        "legal_days": 15,
        "offered_at": ["town", "county"],
        "materials": [
            {"name": "个体工商户登记申请书", "required": True},
            {"name": "经营者身份证明", "required": True},
            {"name": "经营场所使用证明", "required": True},
        ],
    },
    {
        "item_code": "LY-CL-001",
        "name": "残疾人证申领",
        "aliases": ["残疾证"],
        "item_type": "20",
        "deciding_level": "county",
        "agent_may_take": True,
        "immediate": False,
        "promised_days": 20,
        "legal_days": 30,
        "offered_at": ALL_LEVELS,
        "materials": [
            {"name": "残疾人证申请表", "required": True},
            {"name": "居民身份证", "required": True},
            {"name": "近期免冠照片", "required": True},
        ],
    },
    {
        "item_code": "LY-SB-001",
        "name": "城乡居民基本养老保险参保登记",
        "aliases": ["养老保险", "居民养老"],
        "item_type": "20",
        "deciding_level": "village",
        "agent_may_take": True,
        "immediate": True,
        "promised_days": 0,
        "legal_days": 0,
        "offered_at": ALL_LEVELS,
        "materials": [{"name": "居民身份证", "required": True}, {"name": "户口簿", "required": False}],
    },
]

DEMO_PASSWORD = "demo"  # noqa: S105 - the demo county only; the loader refuses to run in production


def accounts() -> list[dict]:
    """Every demo account: agents per village, clerks and approvers per hall, one supervisor."""
    rows: list[dict] = [
        {"username": "admin", "roles": ["admin"], "org_code": COUNTY, "display_name": "管理员"}
    ]
    rows += [
        {"username": f"agent-{v}", "roles": ["agent"], "org_code": v, "display_name": "村代办员"}
        for v in VILLAGES
    ]
    for unit in [*TOWNS, COUNTY]:
        rows.append(
            {"username": f"clerk-{unit}", "roles": ["clerk"], "org_code": unit, "display_name": "综合窗口"}
        )
        rows.append(
            {
                "username": f"approver-{unit}",
                "roles": ["approver"],
                "org_code": unit,
                "display_name": "审批人",
            }
        )
    rows.append(
        {
            "username": f"supervisor-{COUNTY}",
            "roles": ["supervisor"],
            "org_code": COUNTY,
            "display_name": "县电子监察",
        }
    )
    return rows
