"""The ``handup`` section: how soon a village hand-up shows on the county's timeline while 64 clients
create cases through the gateway.

On each backend: a Weimin network with the demo county; wrk runs the create load (``POST
/api/v1/agents/cases`` through the gateway, BENCH_HANDUP_CONNECTIONS clients, 64 by default) for the
cell's seconds; meanwhile this process, one case at a time, collects a case, hands it up (``POST
…/handoff``, the clock starts when its 200 arrives) and reads the case's timeline in supervision as
the county supervisor (``GET /api/v1/cases/{case_id}``) every few milliseconds until a
``case.handed_up`` entry is there (the clock stops). The figure is that delay's p50 / p95 / p99 over
every hand-up of the cell, with the create load's own figures beside it. Issue 8's target: p99 < 200 ms.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import httpx

from bench import wrk
from bench.common import BenchSettings, Postgres, Section, say, settle
from bench.systems import VILLAGE_AGENT, submission, weimin_network

SUPERVISOR = "supervisor-371424000000"
POLL_SECONDS = 0.005
GIVE_UP_SECONDS = 30.0


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 2)


def _hand_ups(net: Any, until: float, delays: list[float], failures: list[str]) -> None:
    agent = dict(net.auth(VILLAGE_AGENT))
    supervisor = dict(net.auth(SUPERVISOR))
    base = net.network.gateway_url
    with httpx.Client(base_url=base, timeout=30) as client:
        while time.monotonic() < until:
            created = client.post(
                "/api/v1/agents/cases", json=submission(net.find_create_item()), headers=agent
            )
            if created.status_code != 201:
                failures.append(f"create {created.status_code}")
                continue
            case_id = created.json()["case_id"]
            handed = client.post(f"/api/v1/agents/cases/{case_id}/handoff", headers=agent)
            if handed.status_code != 200:
                failures.append(f"handoff {handed.status_code}")
                continue
            started = time.monotonic()
            while True:
                seen = client.get(f"/api/v1/cases/{case_id}", headers=supervisor)
                if seen.status_code == 200 and any(
                    h["type"] == "case.handed_up" for h in seen.json().get("history", [])
                ):
                    delays.append((time.monotonic() - started) * 1000)
                    break
                if time.monotonic() - started > GIVE_UP_SECONDS:
                    failures.append(f"{case_id} not on the county timeline after {GIVE_UP_SECONDS:.0f} s")
                    break
                time.sleep(POLL_SECONDS)


def handup_section(s: BenchSettings, pg: Postgres) -> Section:
    section = Section("handup")
    connections = int(os.environ.get("BENCH_HANDUP_CONNECTIONS", "64"))
    seconds = max(s.seconds, 5.0)
    rows = []
    for backend in s.backends:
        with weimin_network(backend, pg) as net:
            net.find_create_item()
            load = net.create("gateway")
            if s.warmup > 0:
                wrk.run(load, connections=connections, seconds=s.warmup)
                settle(net.pids)
            delays: list[float] = []
            failures: list[str] = []
            prober = threading.Thread(
                target=_hand_ups, args=(net, time.monotonic() + seconds, delays, failures), daemon=True
            )
            prober.start()
            figures = wrk.run(load, connections=connections, seconds=seconds)
            prober.join(GIVE_UP_SECONDS + 5)
            drain = settle(net.pids)
            row = {
                "backend": backend,
                "connections": connections,
                "seconds": seconds,
                "hand_ups": len(delays),
                "failures": failures[:10],
                "failure_count": len(failures),
                "p50_ms": _percentile(delays, 0.50),
                "p95_ms": _percentile(delays, 0.95),
                "p99_ms": _percentile(delays, 0.99),
                "max_ms": round(max(delays), 2) if delays else None,
                "create_rps": figures["rps"],
                "create_p99_ms": figures["p99_ms"],
                "create_errors": figures["errors"],
                "drain_s": drain,
            }
            rows.append(row)
            say(
                f"    {backend:<9} {len(delays)} hand-ups under {figures['rps']} creates/s: visible on the "
                f"county timeline p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms, p99 {row['p99_ms']} ms "
                f"(failures {len(failures)})"
            )
    section.extra["handup"] = rows
    section.notes.append(
        "Delay from the hand-up's 200 to the first timeline read (through the gateway, as the county "
        f"supervisor, every {POLL_SECONDS * 1000:.0f} ms) that shows case.handed_up, one hand-up at a "
        "time, under the wrk create load through the gateway."
    )
    return section
