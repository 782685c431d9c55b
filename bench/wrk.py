"""wrk, the load generator of every HTTP figure: installing it, one cell, and reading what it says.

Each cell runs ``wrk`` with a Lua script written to a temporary directory. The script sets the
method, body and headers, counts every status code in every thread (``response()``), and its
``done()`` prints one line, ``WRK_RESULT {json}``, with the duration, the latency percentiles and the
status counts. Any response outside 200-299, and any socket error or timeout, is an error: the
figure reported is *successful* requests per second.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import say

TIMEOUT_SECONDS = 10
MAX_THREADS = 2  # wrk threads; never more than connections (this machine has 2 cores)

_LUA = r"""
wrk.method = %(method)s
wrk.body = %(body)s
%(headers)s

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    local seen = thread:get("statuses")
    if seen then
      for code, n in pairs(seen) do counts[code] = (counts[code] or 0) + n end
    end
  end
  local parts = {}
  for code, n in pairs(counts) do
    parts[#parts + 1] = string.format('"%%d": %%d', code, n)
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"duration_us": %%d, "requests": %%d, "bytes": %%d, ' ..
    '"socket_errors": {"connect": %%d, "read": %%d, "write": %%d, "timeout": %%d}, ' ..
    '"latency_us": {"p50": %%d, "p90": %%d, "p95": %%d, "p99": %%d, "max": %%d, "mean": %%.1f}, ' ..
    '"statuses": {%%s}}\n',
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99),
    latency.max, latency.mean, table.concat(parts, ", ")))
end
"""


class WrkMissing(RuntimeError):
    pass


def ensure_wrk() -> str:
    """The path of ``wrk``; installs Debian's package when missing and running as root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.name == "posix" and os.geteuid() == 0 and shutil.which("apt-get"):
        say("wrk is missing; installing Debian's package (apt-get install -y wrk) ...")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        done = subprocess.run(["apt-get", "install", "-y", "wrk"], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, capture_output=True, text=True)
            done = subprocess.run(
                ["apt-get", "install", "-y", "wrk"], env=env, capture_output=True, text=True
            )
        found = shutil.which("wrk")
        if found:
            return found
        raise WrkMissing(f"apt-get install -y wrk failed: {(done.stderr or done.stdout).strip()[-500:]}")
    if os.name == "posix" and os.geteuid() != 0:
        raise WrkMissing(
            "wrk is not installed and the bench is not running as root: `sudo apt-get install wrk`"
        )
    raise WrkMissing(
        "wrk is not installed and there is no apt-get here: install wrk (https://github.com/wg/wrk)"
    )


def _lua_string(text: str) -> str:
    """A Lua 5.1 (LuaJIT) string literal of ``text``'s UTF-8 bytes: printable ASCII as is, any other
    byte as a decimal escape (Lua 5.1 knows no ``\\u`` escapes)."""
    out = []
    for byte in text.encode("utf-8"):
        char = chr(byte)
        out.append(char if 32 <= byte < 127 and char not in '"\\' else f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def _script(method: str, body: str | None, headers: dict[str, str]) -> str:
    header_lines = "\n".join(f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items())
    return _LUA % {
        "method": _lua_string(method),
        "body": _lua_string(body) if body is not None else "nil",
        "headers": header_lines,
    }


@dataclass(frozen=True)
class Request:
    url: str
    method: str = "GET"
    body: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


def run(request: Request, *, connections: int, seconds: float) -> dict[str, Any]:
    """One wrk run; the parsed figures (successful rps, p50/p95/p99 in ms, errors)."""
    binary = ensure_wrk()
    threads = max(1, min(connections, MAX_THREADS))
    with tempfile.TemporaryDirectory(prefix="weimin-wrk-") as tmp:
        script = Path(tmp) / "cell.lua"
        script.write_text(_script(request.method, request.body, dict(request.headers)))
        command = [
            binary,
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{max(1, round(seconds))}s",
            "--timeout",
            f"{TIMEOUT_SECONDS}s",
            "-s",
            str(script),
            request.url,
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    return parse(done.stdout, done.stderr, connections=connections, threads=threads)


def parse(stdout: str, stderr: str = "", *, connections: int, threads: int) -> dict[str, Any]:
    line = next((ln for ln in stdout.splitlines() if ln.startswith("WRK_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{stdout}\n{stderr}")
    raw = json.loads(line[len("WRK_RESULT ") :])
    seconds = raw["duration_us"] / 1e6 or 1.0
    statuses = {int(k): v for k, v in raw["statuses"].items()}
    ok = sum(n for code, n in statuses.items() if 200 <= code < 300)
    socket_errors = sum(raw["socket_errors"].values())
    answered = sum(statuses.values())
    errors = answered - ok + socket_errors
    latency = raw["latency_us"]
    return {
        "connections": connections,
        "threads": threads,
        "seconds": round(seconds, 2),
        "requests": raw["requests"],
        "ok": ok,
        "errors": errors,
        "error_share": round(errors / (ok + errors), 4) if ok + errors else 0.0,
        "rps": round(ok / seconds, 1),
        "all_rps": round(raw["requests"] / seconds, 1),
        "p50_ms": round(latency["p50"] / 1000, 2),
        "p90_ms": round(latency["p90"] / 1000, 2),
        "p95_ms": round(latency["p95"] / 1000, 2),
        "p99_ms": round(latency["p99"] / 1000, 2),
        "max_ms": round(latency["max"] / 1000, 2),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "socket_errors": raw["socket_errors"],
    }
