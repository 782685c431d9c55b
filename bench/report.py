"""bench/results/README.md, rewritten from every section file in the results folder after each run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BACKEND = {"postgres": "PostgreSQL", "sqlite": "SQLite"}
OP = {"create": "create", "item": "item GET", "agent_list": "agent's list, first page"}


def _load(results: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted(results.glob("*.json")):
        try:
            found[path.stem] = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
    return found


def _num(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "–"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.{digits}f}"


def _label(cell: dict[str, Any]) -> str:
    if cell["system"] == "bare":
        return "bare baseline, " + (
            "POST (PostgreSQL + JetStream)" if cell["op"] == "create" else "GET of a constant item"
        )
    where = "through the gateway" if cell["path"] == "gateway" else "direct"
    return f"Weimin {BACKEND.get(cell['backend'], cell['backend'])}, {OP.get(cell['op'], cell['op'])} {where}"


def _matrix_cell(cell: dict[str, Any]) -> str:
    text = f"{_num(cell['rps'])} ({_num(cell['p50_ms'])} / {_num(cell['p99_ms'])})"
    extras = []
    if cell.get("bare_share") is not None:
        extras.append(f"×{cell['bare_share']:.2f}")
    if cell.get("gateway_share") is not None:
        extras.append(f"gw {cell['gateway_share']:.0%}")
    if cell.get("errors"):
        extras.append(f"**{cell['error_share']:.0%} errors**")
    return text + (" " + ", ".join(extras) if extras else "")


def _matrix(cells: list[dict[str, Any]]) -> list[str]:
    concurrency = sorted({c["c"] for c in cells})
    rows: dict[str, dict[int, dict[str, Any]]] = {}
    for cell in cells:
        rows.setdefault(_label(cell), {})[cell["c"]] = cell
    lines = [
        "| successful rps (p50 / p99 ms) ×bare | " + " | ".join(f"c={c}" for c in concurrency) + " |",
        "|---|" + "---|" * len(concurrency),
    ]
    for label, by_c in rows.items():
        lines.append(
            f"| {label} | "
            + " | ".join(_matrix_cell(by_c[c]) if c in by_c else "" for c in concurrency)
            + " |"
        )
    return lines


def _detail(cells: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| op | system | backend | path | c | successful rps | p50 ms | p99 ms | errors | × bare | "
        "gateway / direct | drain s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        share = c.get("gateway_share")
        lines.append(
            f"| {c['op']} | {c['system']} | {c['backend']} | {c['path']} | {c['c']} | {_num(c['rps'])} | "
            f"{_num(c['p50_ms'], 2)} | {_num(c['p99_ms'], 2)} | {c['errors']} ({c['error_share']:.1%}) | "
            f"{_num(c.get('bare_share'), 2)} | {_num(share, 2) if share is not None else '–'} | "
            f"{c.get('drain_s', '–')} |"
        )
    return lines


def _machine(data: dict[str, Any]) -> str:
    m = data.get("machine", {})
    s = data.get("settings", {})
    bits = [
        f"{m.get('date', '?')}",
        f"nproc {m.get('nproc', m.get('cpus', '?'))}",
        m.get("cpu_model", ""),
        f"Python {m.get('python', '?')}",
    ]
    if m.get("wrk"):
        bits.append(m["wrk"].split(" Copyright")[0])
    if m.get("load_average_at_start"):
        bits.append(f"load average at start {m['load_average_at_start']}")
    if s and data.get("section") == "lists":
        bits.append(f"{s.get('list_seconds')} s per URL")
    elif s:
        bits.append(f"{s.get('seconds_per_cell')} s per cell")
    if m.get("load_average_at_end"):
        bits.append(f"at end {m['load_average_at_end']}")
    if s.get("smoke"):
        bits.append("**smoke run**")
    return ", ".join(b for b in bits if b)


def _targets(sections: dict[str, dict[str, Any]]) -> list[str]:
    """Issue 8's targets, reported (never asserted) from what this folder holds."""
    lines = []

    def find(section: str, **want: Any) -> dict[str, Any] | None:
        for cell in sections.get(section, {}).get("cells", []):
            if all(cell.get(k) == v for k, v in want.items()):
                return cell
        return None

    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    if "cells" not in sections.get("gateway", {}):
        sections = {k: v for k, v in sections.items() if k != "gateway"}
    create64 = find("create", system="weimin", backend="postgres", path="gateway", c=64)
    if create64:
        ok = (
            create64["rps"] >= 600
            and (create64.get("bare_share") or 0) >= 0.4
            and create64["p99_ms"] < 300
            and create64["errors"] == 0
        )
        lines.append(
            f"- Create, PostgreSQL, 64 clients, through the gateway: {create64['rps']:.0f} rps "
            f"(≥ 600), ×{create64.get('bare_share')} of bare (≥ 0.40), p99 {create64['p99_ms']} ms (< 300), "
            f"{create64['errors']} errors (0): {verdict(ok)}. Fallback target (4× today's 89 rps = 356, "
            f"zero errors): {verdict(create64['rps'] >= 356 and create64['errors'] == 0)}."
        )
    create1 = find("create", system="weimin", backend="postgres", path="gateway", c=1)
    if create1 and create1.get("bare_added_p50_ms") is not None:
        lines.append(
            f"- Create at 1 client: p50 {create1['bare_added_p50_ms']} ms above the bare path (≤ 1.5): "
            f"{verdict(create1['bare_added_p50_ms'] <= 1.5)}."
        )
    items = [
        c
        for c in sections.get("item", {}).get("cells", [])
        if c.get("backend") == "postgres" and c.get("path") == "gateway"
    ]
    if items:
        shares = ", ".join(f"c={c['c']} ×{c.get('bare_share')}" for c in items)
        ok = all((c.get("bare_share") or 0) >= 0.5 for c in items)
        lines.append(
            "- Catalogue item through the gateway (PostgreSQL) ≥ 50 % of the bare GET: "
            f"{shares}: {verdict(ok)}."
        )
    gw = [c for c in sections.get("gateway", {}).get("cells", []) if c.get("gateway_share") is not None]
    if gw:
        worst = min(gw, key=lambda c: c["gateway_share"])
        lines.append(
            f"- Gateway cost under 15 % of the direct path: worst cell {worst['op']} c={worst['c']} at "
            f"{worst['gateway_share']:.0%} of direct: {verdict(worst['gateway_share'] >= 0.85)}."
        )
    for row in sections.get("handup", {}).get("handup", []):
        ok = row["p99_ms"] is not None and row["p99_ms"] < 200 and not row["failure_count"]
        lines.append(
            f"- A village hand-up visible on the county timeline p99 < 200 ms under the "
            f"{row['connections']}-client create load ({BACKEND.get(row['backend'], row['backend'])}): "
            f"p99 {row['p99_ms']} ms over {row['hand_ups']} hand-ups, {row['failure_count']} failures: "
            f"{verdict(ok)}."
        )
    lists = sections.get("lists", {})
    for backend, rows in lists.get("lists", {}).items():
        slow = [r for r in rows if r.get("p95_ms") is not None and r["p95_ms"] >= 20]
        cases = lists.get("datasets", {}).get(backend, {}).get("cases")
        lines.append(
            f"- Lists and county stats p95 < 20 ms with {cases:,} cases ({BACKEND.get(backend, backend)}): "
            + (
                verdict(True)
                if not slow
                else verdict(False) + " (" + ", ".join(f"{r['name']} {r['p95_ms']} ms" for r in slow) + ")"
            )
            + "."
        )
    return lines


def write_readme(results: Path) -> Path:
    sections = _load(results)
    out = [
        "# Bench results",
        "",
        "Written by `make bench` (`bench/run.py`) from the section files beside this page; figures, never "
        "asserted in tests. Each wrk cell is the successful (2xx) requests per second, with p50 / p99 "
        "latency in ms; any other status, socket error or timeout is an error. **×bare** divides a cell "
        "by the bare baseline's cell at the same concurrency *in the same run* (absolute figures drift "
        "10–25 % between runs on this machine); **gw** is through-the-gateway / direct. See "
        "`bench/run.py` for how to run each section.",
        "",
    ]
    targets = _targets(sections)
    if targets:
        out += ["## Issue 8's targets (reported, not asserted)", "", *targets, ""]
    for name, title in (
        ("create", "Create a case (`POST /api/v1/agents/cases`, village agent)"),
        ("item", "Catalogue item (`GET /api/v1/catalogue/items/{code}`)"),
        ("gateway", "The gateway's cost (direct and through the gateway, back to back)"),
    ):
        data = sections.get(name)
        if not data or "cells" not in data:  # an older file's shape
            continue
        out += [f"## {title}", "", f"Taken {_machine(data)}.", "", *_matrix(data["cells"]), ""]
        out += ["<details><summary>every cell</summary>", "", *_detail(data["cells"]), "", "</details>", ""]
    handup = sections.get("handup")
    if handup and handup.get("handup"):
        out += [
            "## A village hand-up on the county timeline, under create load",
            "",
            f"Taken {_machine(handup)}.",
            "",
            *handup.get("notes", []),
            "",
            "| backend | hand-ups | p50 ms | p95 ms | p99 ms | max ms | failures | creates/s meanwhile | "
            "create p99 ms | create errors |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in handup["handup"]:
            out.append(
                f"| {BACKEND.get(r['backend'], r['backend'])} | {r['hand_ups']} | {_num(r['p50_ms'], 1)} | "
                f"{_num(r['p95_ms'], 1)} | {_num(r['p99_ms'], 1)} | {_num(r['max_ms'], 1)} | "
                f"{r['failure_count']} | {r['create_rps']} | {r['create_p99_ms']} | {r['create_errors']} |"
            )
        out.append("")
    lists = sections.get("lists")
    if lists:
        out += ["## Case lists and county stats on the kept data set", "", f"Taken {_machine(lists)}.", ""]
        for backend, info in lists.get("datasets", {}).items():
            out.append(
                f"- {BACKEND.get(backend, backend)}: {info.get('cases', 0):,} cases "
                f"({', '.join(f'{t} {n:,}' for t, n in info.get('rows', {}).items())}); "
                f"loaded in {info.get('load_seconds')} s on {info.get('loaded_at')}."
            )
        out += [
            "",
            f"Method: {lists.get('method', '')}",
            "",
            "| backend | what | as | p50 ms | p95 ms | p99 ms | requests | errors |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for backend, rows in lists.get("lists", {}).items():
            for r in rows:
                out.append(
                    f"| {BACKEND.get(backend, backend)} | {r['name']} | {r['as']} | {_num(r['p50_ms'], 2)} | "
                    f"{_num(r['p95_ms'], 2)} | {_num(r['p99_ms'], 2)} | {r['requests']} | {r['errors']} |"
                )
        out.append("")
    search = sections.get("catalogue_search")
    if search:
        out += [
            "## Catalogue search (in process, county-sized catalogue)",
            "",
            f"Taken {_machine(search)}; {search.get('items')} items, {search.get('rounds')} rounds of "
            f"{len(search.get('queries', []))} queries.",
            "",
            "| what | p50 ms | p95 ms | max ms |",
            "|---|---|---|---|",
        ]
        for key in ("search_domain", "search_http_in_process", "search_http_at_village"):
            if key in search:
                t = search[key]
                out.append(f"| {key} | {t['p50_ms']} | {t['p95_ms']} | {t['max_ms']} |")
        out.append("")
    path = results / "README.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out))
    return path
