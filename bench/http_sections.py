"""The wrk sections: ``create``, ``item`` and ``gateway``.

- ``create``: the bare POST, then Weimin's create-case (``POST /api/v1/agents/cases`` as the demo
  village's agent) directly on the agents service and through the gateway, on each backend.
- ``item``: the bare constant GET, then Weimin's catalogue item (``GET /api/v1/catalogue/items/{code}``)
  directly on the catalogue and through the gateway, on each backend.
- ``gateway``: the gateway's cost alone, on PostgreSQL (else the first backend): a public read, an
  authenticated read (the agent's first list page) and the create, direct and through the gateway
  back to back at every concurrency.

Every cell: ``warmup`` seconds of unrecorded load at the cell's concurrency, a wait until the system
is quiet, the measured run, and a wait until it is quiet again (recorded as ``drain_s``: after a
create load that is the event backlog being worked off). Ratios are to the cells of the same run.
"""

from __future__ import annotations

from typing import Any

from bench import wrk
from bench.common import BenchSettings, Postgres, Section, say, settle
from bench.systems import VILLAGE_AGENT, bare_system, weimin_network

PATHS = ("direct", "gateway")


def measure(
    s: BenchSettings,
    request: wrk.Request,
    c: int,
    pids: list[int],
    seconds: float | None = None,
    **labels: Any,
) -> dict[str, Any]:
    if s.warmup > 0:
        wrk.run(request, connections=c, seconds=s.warmup)
        settle(pids)
    figures = wrk.run(request, connections=c, seconds=seconds or s.seconds)
    drain = settle(pids)
    cell = {**labels, "c": c, **figures, "drain_s": drain, "method": request.method}
    shown = " ".join(f"{k}={v}" for k, v in labels.items())
    say(
        f"    {shown:<52} c={c:<3} {figures['rps']:>8} ok/s  p50 {figures['p50_ms']:>7} ms  "
        f"p99 {figures['p99_ms']:>8} ms  errors {figures['errors']} ({figures['error_share']:.0%})  "
        f"drain {drain} s"
    )
    return cell


def _bare_cells(s: BenchSettings, pg: Postgres, op: str) -> list[dict[str, Any]]:
    say(f"  the bare baseline ({op}) ...")
    cells = []
    with bare_system(pg) as bare:
        request = bare.create() if op == "create" else bare.item()
        for c in s.concurrency:
            cells.append(
                measure(s, request, c, bare.pids, op=op, system="bare", backend="postgres", path="bare")
            )
    return cells


def _weimin_cells(s: BenchSettings, pg: Postgres, op: str) -> list[dict[str, Any]]:
    cells = []
    for backend in s.backends:
        with weimin_network(backend, pg) as net:
            if op == "create":
                net.find_create_item()
            for c in s.concurrency:
                for path in PATHS:
                    request = net.create(path) if op == "create" else net.item(path)
                    cells.append(
                        measure(s, request, c, net.pids, op=op, system="weimin", backend=backend, path=path)
                    )
    return cells


def create_section(s: BenchSettings, pg: Postgres) -> Section:
    section = Section("create")
    section.cells = _bare_cells(s, pg, "create") + _weimin_cells(s, pg, "create")
    add_ratios(section.cells)
    return section


def item_section(s: BenchSettings, pg: Postgres) -> Section:
    section = Section("item")
    section.cells = _bare_cells(s, pg, "item") + _weimin_cells(s, pg, "item")
    add_ratios(section.cells)
    return section


def gateway_section(s: BenchSettings, pg: Postgres) -> Section:
    section = Section("gateway")
    backend = "postgres" if "postgres" in s.backends else s.backends[0]
    with weimin_network(backend, pg) as net:
        net.find_create_item()
        requests = {
            "item": lambda path: net.item(path),
            "agent_list": lambda path: net.get(
                "agents", path, "/api/v1/agents/cases?limit=50", VILLAGE_AGENT
            ),
            "create": lambda path: net.create(path),
        }
        for op, make in requests.items():
            for c in s.concurrency:
                for path in PATHS:
                    section.cells.append(
                        measure(
                            s, make(path), c, net.pids, op=op, system="weimin", backend=backend, path=path
                        )
                    )
    add_ratios(section.cells)
    section.notes.append(
        "gateway_share = successful rps through the gateway / directly on the service, same op, "
        "backend and concurrency, measured back to back; gateway_added_p50_ms likewise."
    )
    return section


def add_ratios(cells: list[dict[str, Any]]) -> None:
    """``bare_share``: a Weimin cell's successful rps over the bare cell of the same op and
    concurrency (create: the bare POST; item: the bare GET); ``bare_added_p50_ms`` the p50 above it.
    ``gateway_share``: a gateway cell over its direct twin."""
    bare = {(c["op"], c["c"]): c for c in cells if c["system"] == "bare"}
    direct = {(c["op"], c["backend"], c["c"]): c for c in cells if c.get("path") == "direct"}
    for cell in cells:
        if cell["system"] == "bare":
            continue
        ref = bare.get((cell["op"], cell["c"]))
        if ref:
            cell["bare_share"] = round(cell["rps"] / ref["rps"], 3) if ref["rps"] else None
            cell["bare_added_p50_ms"] = round(cell["p50_ms"] - ref["p50_ms"], 2)
        twin = direct.get((cell["op"], cell["backend"], cell["c"]))
        if cell.get("path") == "gateway" and twin:
            cell["gateway_share"] = round(cell["rps"] / twin["rps"], 3) if twin["rps"] else None
            cell["gateway_added_p50_ms"] = round(cell["p50_ms"] - twin["p50_ms"], 2)
