"""`make bench`: figures, written to bench/results/, never asserted in tests.

1. Gateway overhead: the same public read (and an authenticated read) called directly on the service
   and through the gateway, with 64 concurrent clients, for a bounded time each.
2. Every other benchmark module in this folder that has a ``main()`` (e.g. catalogue search).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from deploy.demo import load_demo
from deploy.launcher import Network
from shared.settings import Settings
from tests.support import free_port, free_port_block

RESULTS = Path(__file__).with_name("results")
CONCURRENCY = 64
SECONDS = 8.0
MAX_REQUESTS = 50_000


async def _load(url: str, headers: dict[str, str]) -> dict:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + SECONDS
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, timeout=30, headers=headers) as client:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline and len(latencies) < MAX_REQUESTS:
                start = time.perf_counter()
                try:
                    reply = await client.get(url)
                    if reply.status_code != 200:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - start)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
    }


def gateway_overhead() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        network = Network(Path(tmp) / "var", free_port_block(6), free_port())
        network.start()
        try:
            network.wait_healthy()
            load_demo(Settings(var_dir=network.var_dir), network.gateway_url)
            items = httpx.get(f"{network.gateway_url}/api/v1/catalogue/items").json()["items"]
            item_path = f"/api/v1/catalogue/items/{items[0]['item_code']}"
            token = httpx.post(
                f"{network.gateway_url}/api/v1/auth/token",
                data={"grant_type": "password", "username": "supervisor-371424000000", "password": "demo"},
            ).json()
            auth = {"Authorization": f"Bearer {token['access_token']}"}
            stats_path = "/api/v1/supervision/stats?org_code=371424000000"
            figures: dict[str, dict | float | None] = {}
            for name, base, path, headers in [
                ("public_item_direct", network.url("catalogue"), item_path, {}),
                ("public_item_via_gateway", network.gateway_url, item_path, {}),
                ("auth_stats_direct", network.url("supervision"), stats_path, auth),
                ("auth_stats_via_gateway", network.gateway_url, stats_path, auth),
            ]:
                figures[name] = asyncio.run(_load(base + path, headers))
                print(f"  {name:<26} {figures[name]}", flush=True)
            for kind in ("public_item", "auth_stats"):
                direct = figures[f"{kind}_direct"]["rps"]  # type: ignore[index]
                via = figures[f"{kind}_via_gateway"]["rps"]  # type: ignore[index]
                figures[f"{kind}_gateway_share_of_direct"] = round(via / direct, 3) if direct else None
            return figures
        finally:
            network.stop()


def main() -> int:
    RESULTS.mkdir(exist_ok=True)
    meta = {
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "concurrency": CONCURRENCY,
        "seconds_per_run": SECONDS,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    print("Gateway overhead (64 clients, one worker per process):", flush=True)
    result = {"meta": meta, "figures": gateway_overhead()}
    (RESULTS / "gateway.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"written {RESULTS / 'gateway.json'}")
    for module_file in sorted(Path(__file__).parent.glob("*.py")):
        if module_file.stem in ("__init__", "run"):
            continue
        module = importlib.import_module(f"bench.{module_file.stem}")
        if hasattr(module, "main"):
            print(f"Running bench.{module_file.stem} ...", flush=True)
            module.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
