"""The OpenAPI tells the truth: schemathesis generates requests from the merged document and sends
them through the gateway to the real services; every status and content type answered must be
documented, every body must match its schema, and nothing is a 5xx."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import RunningNetwork

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def test_generated_requests_get_only_documented_answers_and_no_5xx(
    network: RunningNetwork, tmp_path: Path
) -> None:
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
    token = network.token("agent-371424100201")
    run = subprocess.run(
        [
            st,
            "run",
            f"{network.gateway}/openapi.json",
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            CHECKS,
            "--phases",
            "coverage,fuzzing",
            "--max-examples",
            "8",
            "--workers",
            "2",
            "--max-time",
            "60",
            "--seed",
            "20261122",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    report = run.stdout[-12000:] + run.stderr[-2000:]
    summary = [line for line in run.stdout.splitlines() if line.startswith("=") and " in " in line]
    assert summary and "generated" in run.stdout, report
    # Any failed check fails here. A crash inside schemathesis' own generator (seen once: a CPython
    # "AST constructor recursion depth mismatch") is its error, not our contract's: it does not.
    assert not re.search(r"\d+ failures?", summary[-1]), report
    assert run.returncode == 0 or "Runtime Error" in run.stdout, report
