"""The ``lists`` section: every case list's first page and a deep page, and supervision's stats, on
the kept data set (``bench/dataset.py``: BENCH_CASES cases, 1,000,000 by default).

Each URL is read through the gateway as the demo account whose list it is, by wrk at one connection
for BENCH_LIST_SECONDS (5 s by default): requests one after another, so wrk's latency percentiles
(p50 / p95 / p99, from its ``done()``) are the single-request times under no other load. One plain
GET first checks the answer (status, rows on the page) and warms the path.

A deep page is the page after a cursor far into the list: lists are keyset pages ordered by case
number (``{unit}-{YYYYMMDD}-{seq}-{check}``), so the cursor ``{last unit of the subtree}-{a day
90 % into the data set's year}`` leaves only the last tenth or so of the caller's cases after it.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx

from bench import dataset, wrk
from bench.common import BenchSettings, Postgres, Section, say
from bench.systems import weimin_network

COUNTY = "371424000000"
TOWN = "371424100000"
VILLAGE = "371424100201"

METHOD = (
    "wrk through the gateway at 1 connection for BENCH_LIST_SECONDS per URL (sequential requests; "
    "p50/p95/p99 from wrk's latency histogram), as the demo account whose list it is; 50 rows a page."
)


def _prefix(code: str) -> str:
    from shared.divisions import prefix_of

    return prefix_of(code)


def probes(marker: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(what, as whom, service, path) for every list page and figure measured."""
    first, last = date.fromisoformat(marker["first_day"]), date.fromisoformat(marker["last_day"])
    deep_day = first + timedelta(days=int((last - first).days * 0.9))
    origins = marker["origins"]

    def deep(unit: str) -> str:
        inside = [o for o in origins if o.startswith(_prefix(unit))]
        return f"cursor={max(inside)}-{deep_day:%Y%m%d}"

    agent, town_clerk, county_clerk = f"agent-{VILLAGE}", f"clerk-{TOWN}", f"clerk-{COUNTY}"
    town_approver, county_approver, supervisor = (
        f"approver-{TOWN}",
        f"approver-{COUNTY}",
        f"supervisor-{COUNTY}",
    )
    found = [
        ("agents: a village's cases, first page", agent, "agents", "/api/v1/agents/cases?limit=50"),
        (
            "agents: a village's cases, deep page",
            agent,
            "agents",
            f"/api/v1/agents/cases?limit=50&{deep(VILLAGE)}",
        ),
        (
            "agents: a village's collected cases",
            agent,
            "agents",
            "/api/v1/agents/cases?limit=50&status=collected",
        ),
        ("intake: a town hall's cases, first page", town_clerk, "intake", "/api/v1/intake/cases?limit=50"),
        (
            "intake: a town hall's cases, deep page",
            town_clerk,
            "intake",
            f"/api/v1/intake/cases?limit=50&{deep(TOWN)}",
        ),
        (
            "intake: a town hall's incomplete cases",
            town_clerk,
            "intake",
            "/api/v1/intake/cases?limit=50&status=incomplete",
        ),
        (
            "intake: the county hall's cases, first page",
            county_clerk,
            "intake",
            "/api/v1/intake/cases?limit=50",
        ),
        (
            "intake: the county hall's cases, deep page",
            county_clerk,
            "intake",
            f"/api/v1/intake/cases?limit=50&{deep(COUNTY)}",
        ),
        (
            "approval: a town's queue, first page",
            town_approver,
            "approval",
            "/api/v1/approval/cases?limit=50",
        ),
        (
            "approval: a town's queue, deep page",
            town_approver,
            "approval",
            f"/api/v1/approval/cases?limit=50&{deep(TOWN)}",
        ),
        (
            "approval: a town's undecided cases",
            town_approver,
            "approval",
            "/api/v1/approval/cases?limit=50&status=accepted",
        ),
        (
            "approval: the county's queue, first page",
            county_approver,
            "approval",
            "/api/v1/approval/cases?limit=50",
        ),
        (
            "approval: the county's queue, deep page",
            county_approver,
            "approval",
            f"/api/v1/approval/cases?limit=50&{deep(COUNTY)}",
        ),
        (
            "supervision: county stats",
            supervisor,
            "supervision",
            f"/api/v1/supervision/stats?org_code={COUNTY}",
        ),
        (
            "supervision: a town's stats",
            supervisor,
            "supervision",
            f"/api/v1/supervision/stats?org_code={TOWN}",
        ),
    ]
    if marker.get("sample_case"):
        found.append(
            (
                "supervision: one case's timeline",
                supervisor,
                "supervision",
                f"/api/v1/cases/{marker['sample_case']}",
            )
        )
    return found


def lists_section(s: BenchSettings, pg: Postgres) -> Section:
    section = Section("lists")
    section.extra = {"method": METHOD, "datasets": {}, "lists": {}}
    for backend in s.backends:
        t, marker = dataset.ensure(backend, s.cases, pg)
        section.extra["datasets"][backend] = {
            k: marker.get(k) for k in ("cases", "rows", "load_seconds", "loaded_at", "first_day", "last_day")
        }
        rows: list[dict[str, Any]] = []
        with weimin_network(backend, pg, var_dir=t.var_dir, database_url=t.database_url or None) as net:
            for name, username, service, path in probes(marker):
                request = net.get(service, "gateway", path, username)
                check = httpx.get(request.url, headers=dict(request.headers), timeout=120)
                body = check.json() if check.headers.get("content-type", "").startswith("application") else {}
                page_rows = len(body["items"]) if isinstance(body, dict) and "items" in body else None
                figures = wrk.run(request, connections=1, seconds=s.list_seconds)
                row = {
                    "name": name,
                    "as": username,
                    "path": path,
                    "check_status": check.status_code,
                    "page_rows": page_rows,
                    "has_next": bool(body.get("next_cursor")) if isinstance(body, dict) else None,
                    **{
                        k: figures[k]
                        for k in ("requests", "errors", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms")
                    },
                }
                rows.append(row)
                say(
                    f"    {backend:<8} {name:<48} p50 {row['p50_ms']:>8} ms  p95 {row['p95_ms']:>8} ms  "
                    f"({row['requests']} requests, {row['errors']} errors, status {check.status_code}, "
                    f"{page_rows} rows)"
                )
        section.extra["lists"][backend] = rows
    return section
