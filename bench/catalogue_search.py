"""Catalogue search on a county-sized catalogue: ~150 items, the town and village directories.

Measures the search the public uses (``GET /api/v1/catalogue/items?q=``) three ways: the domain
function alone, the whole HTTP request in-process (FastAPI TestClient, real SQLite file), and the
same within one village's list (``&org_code=``); plus importing the catalogue's spreadsheet.
Writes ``bench/results/catalogue_search.json``. Figures, never asserted.

    python -m bench.catalogue_search
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).with_name("results")
COUNTY, VILLAGE = "371424000000", "371424100201"
QUERIES = ["低保", "五保", "营业执照", "建房", "养老 保险", "残疾", "救助", "医保", "开店", "不存在的事项"]
ROUNDS = 30

# One item a line: name|aliases (、-separated). Each is taken three times (new, change, cancel).
_BASE = """
最低生活保障认定|低保
特困人员救助供养认定|五保、特困供养
临时救助|急难救助
农村村民住宅建设审批|建房、宅基地
个体工商户设立登记|营业执照、个体户
残疾人证申领|残疾证
城乡居民基本养老保险参保登记|养老保险
城乡居民基本医疗保险参保登记|医保
高龄津贴申领|高龄补贴
退役军人优待证申领|优待证
生育登记|准生证
出生医学证明办理|
居民身份证办理|身份证
户口迁移|迁户口
结婚登记|
离婚登记|
收养登记|
殡葬补助申领|丧葬费
困难残疾人生活补贴|两项补贴
重度残疾人护理补贴|两项补贴
孤儿基本生活费发放|
农村危房改造补助|危房改造
耕地地力保护补贴|种粮补贴
农机购置补贴|
林木采伐许可|砍树
取水许可|
食品经营许可|食品许可证
小餐饮登记|
道路运输从业资格|
机动车驾驶证换证|驾照
不动产登记|房产证
宅基地使用权登记|
社会保障卡申领|社保卡
失业登记|
就业创业证申领|
创业担保贷款|
职业技能培训补贴|
医疗救助|
教育资助|助学金
法律援助申请|
人民调解|
无犯罪记录证明|
流动人口居住登记|居住证
计划生育家庭特别扶助|
公共租赁住房申请|公租房
优抚对象抚恤补助|
烈士褒扬金发放|
老年人优待证|
慈善救助|
大病保险报销|
"""
BASE_NAMES = [
    (line.split("|")[0], [a for a in line.split("|")[1].split("、") if a]) for line in _BASE.split()
]
VARIANTS = ["", "(变更)", "(注销)"]


def _items() -> list[tuple[str, Any]]:
    from services.catalogue.schemas import ItemUpsert, MaterialSpec

    items = []
    for n, (base, aliases) in enumerate(BASE_NAMES):
        for v, variant in enumerate(VARIANTS):
            materials = [MaterialSpec(name=f"材料{m}", required=m < 2) for m in range(3 + (n + v) % 4)]
            data = ItemUpsert.model_validate(
                dict(
                    name=base + variant,
                    aliases=aliases if not variant else [],
                    deciding_level=["village", "town", "county"][n % 3],
                    agent_may_take=n % 2 == 0,
                    promised_days=5 + n % 10,
                    legal_days=20,
                    item_type=["01", "05", "07", "20"][n % 4],
                    materials=materials,
                    legal_basis="《示例条例》" * 5,
                )
            )
            items.append((f"B-{n:03d}-{v}", data))
    return items


def _timings(samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    return {
        "p50_ms": round(statistics.median(samples) * 1000, 3),
        "p95_ms": round(samples[int(len(samples) * 0.95) - 1] * 1000, 3),
        "max_ms": round(samples[-1] * 1000, 3),
    }


def run(var_dir: Path) -> dict[str, Any]:
    os.environ["WEIMIN_VAR_DIR"] = str(var_dir)
    os.environ["WEIMIN_ENVIRONMENT"] = "test"
    os.environ.setdefault("WEIMIN_NATS_URL", "nats://127.0.0.1:1")  # no NATS needed: events wait
    from fastapi.testclient import TestClient

    from services.catalogue import directories, imports, spreadsheet
    from services.catalogue.preconditions import BasedOn
    from services.catalogue.schemas import DirectoryUpsert, OrgUpsert
    from services.catalogue.service import upsert_org
    from shared.auth import Principal
    from shared.db import session_scope
    from shared.settings import get_settings

    get_settings.cache_clear()
    main = importlib.reload(importlib.import_module("services.catalogue.main"))
    admin = Principal("admin", ("admin",), COUNTY)
    items = _items()
    workbook = spreadsheet.write_xlsx(items)
    figures: dict[str, Any] = {"items": len(items), "spreadsheet_bytes": len(workbook)}

    # The domain calls run on the app's own event loop (its engine's connections live there).
    async def load() -> float:
        engine = main.app.state.engine
        async with session_scope(engine) as session:
            for code, name in [(COUNTY, "临邑县"), ("371424100000", "临邑镇"), (VILLAGE, "示例东村")]:
                await upsert_org(session, code=code, data=OrgUpsert(name=name))
            job = await imports.create_job(session, admin, filename="bench.xlsx", data=workbook, publish=True)
            job_id = job.job_id
        began = time.perf_counter()
        await imports.run_job(engine, job_id)
        took = time.perf_counter() - began
        async with session_scope(engine) as session:
            entries = [{"item_code": code} for code, _ in items[::2]]
            body = DirectoryUpsert.model_validate({"title": "村目录", "entries": entries})
            draft, _ = await directories.write_draft(
                session, admin, county_code=COUNTY, level="village", data=body, based_on=None
            )
            await directories.publish_draft(
                session,
                admin,
                county_code=COUNTY,
                level="village",
                based_on=BasedOn.tag(directories.etag(draft)),
            )
        return took

    async def search_domain(q: str) -> float:
        async with session_scope(main.app.state.engine) as session:
            start = time.perf_counter()
            await directories.find_offers(session, org_code=None, q=q)
            return time.perf_counter() - start

    with TestClient(main.app) as client:
        assert client.portal is not None
        figures["import_seconds"] = round(client.portal.call(load), 3)
        domain, http, at_village = [], [], []
        for _ in range(ROUNDS):
            for q in QUERIES:
                domain.append(client.portal.call(search_domain, q))
                start = time.perf_counter()
                assert client.get("/api/v1/catalogue/items", params={"q": q}).status_code == 200
                http.append(time.perf_counter() - start)
                start = time.perf_counter()
                reply = client.get("/api/v1/catalogue/items", params={"q": q, "org_code": VILLAGE})
                assert reply.status_code == 200
                at_village.append(time.perf_counter() - start)
        hits = client.get("/api/v1/catalogue/items", params={"q": "低保"}).json()["items"]
    figures |= {
        "queries": QUERIES,
        "rounds": ROUNDS,
        "search_domain": _timings(domain),
        "search_http_in_process": _timings(http),
        "search_http_at_village": _timings(at_village),
        "dibao_first_hit": hits[0]["name"] if hits else None,
    }
    return figures


def measure() -> dict[str, Any]:
    """The figures, in a temporary var dir; the process's environment is left as it was."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    saved = dict(os.environ)
    try:
        with tempfile.TemporaryDirectory(prefix="weimin-bench-catalogue-") as tmp:
            return run(Path(tmp))
    finally:
        os.environ.clear()
        os.environ.update(saved)
        from shared.settings import get_settings

        get_settings.cache_clear()


def main(results: Path = RESULTS) -> dict[str, Any]:
    """``python -m bench.catalogue_search`` (also ``make bench SECTION=catalogue_search``)."""
    from bench.common import machine_facts

    figures = measure()
    figures["machine"] = machine_facts()
    results.mkdir(parents=True, exist_ok=True)
    out = results / "catalogue_search.json"
    out.write_text(json.dumps(figures, ensure_ascii=False, indent=2) + "\n")
    print(f"catalogue search: {json.dumps(figures['search_http_in_process'])} -> {out}")
    return figures


if __name__ == "__main__":
    main()
