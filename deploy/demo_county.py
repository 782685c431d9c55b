"""The demo county: 山东省德州市临邑县 (the county of seed 002), two towns and a street, their villages,
the directories of its town and village items, and the demo accounts (password ``demo``); above it,
the city hall of 德州市, which decides its own items (a county hands such a case up) and whose
supervisor sees every county of the city. The items themselves are spreadsheets built by
``deploy/demo_catalogue/build.py``: ``linyi.xlsx`` (the county's, imported by the county's admin) and
``dezhou.xlsx`` (the city's, imported by the city's admin, so the city owns and maintains them).

City, county and town codes are real (NBS 统计用区划代码 2023). Village codes are ILLUSTRATIVE: built by
the code rule (town digits + 001–199 居委会 / 200+ 村委会), since no real village code was found.
"""

from __future__ import annotations

CITY = "371400000000"
COUNTY = "371424000000"

ORGS: list[dict] = [
    {"code": CITY, "name": "德州市", "address": "德州市政务服务中心", "phone": "0534-12345"},
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
# Every hall with a window, lowest first: the towns, the county, the city.
HALLS = [*TOWNS, COUNTY, CITY]

# The city's items (deploy/demo_catalogue/dezhou.xlsx): decided at the city hall, taken at the villages.
CITY_ITEMS = ["DZ-YB-001"]

# The county's directories (published by the demo loader after it imports the catalogue spreadsheet
# ``deploy/demo_catalogue/linyi.xlsx``). ``served: False`` lists an item the level's halls do not take
# themselves yet: the catalogue then names the unit that handles it, with its address and phone.
_VILLAGE_SERVED = [
    "LY-MZ-001",
    "LY-MZ-002",
    "LY-MZ-003",
    "LY-CL-001",
    "LY-SB-001",
    "LY-YB-001",
    "LY-MZ-004",
    *CITY_ITEMS,  # the agent collects it; the case goes up through the town and the county to the city
]
_TOWN_SERVED = [*_VILLAGE_SERVED, "LY-ZJ-001", "LY-SC-001"]

DIRECTORIES: dict[str, dict] = {
    "village": {
        "title": "临邑县村(社区)为民服务事项指导目录",
        "entries": [{"item_code": code, "served": True} for code in _VILLAGE_SERVED]
        + [
            {"item_code": "LY-ZJ-001", "served": False, "handled_at": "town"},
            {"item_code": "LY-SC-001", "served": False, "handled_at": "town"},
        ],
        "overrides": [
            {
                "org_code": "371424001001",
                "item_code": "LY-SC-001",
                "action": "add",
                "served": True,
                "reason": "社区设有个体工商户登记帮办点",
            },
            {
                "org_code": "371424202202",
                "item_code": "LY-MZ-004",
                "action": "withhold",
                "reason": "由宿安乡为民服务中心统一办理",
            },
        ],
    },
    "town": {
        "title": "临邑县乡镇(街道)为民服务事项目录",
        "entries": [{"item_code": code, "served": True} for code in _TOWN_SERVED]
        + [{"item_code": "LY-TY-001", "served": False, "handled_at": "county"}],
        "overrides": [],
    },
}

DEMO_PASSWORD = "demo"  # noqa: S105 - the demo county only; the loader refuses to run in production


CITY_ADMIN = f"admin-{CITY}"


def accounts() -> list[dict]:
    """Every demo account: the county's and the city's admins, agents per village, clerks and
    approvers per hall (towns, county, city), a supervisor for the county and one for the city."""
    rows: list[dict] = [
        {"username": "admin", "roles": ["admin"], "org_code": COUNTY, "display_name": "管理员"},
        {"username": CITY_ADMIN, "roles": ["admin"], "org_code": CITY, "display_name": "市管理员"},
    ]
    rows += [
        {"username": f"agent-{v}", "roles": ["agent"], "org_code": v, "display_name": "村代办员"}
        for v in VILLAGES
    ]
    for unit in HALLS:
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
    for unit, name in ((COUNTY, "县电子监察"), (CITY, "市电子监察")):
        # The city's supervisor governs the city's subtree: every county of the city.
        rows.append(
            {
                "username": f"supervisor-{unit}",
                "roles": ["supervisor"],
                "org_code": unit,
                "display_name": name,
            }
        )
    return rows
