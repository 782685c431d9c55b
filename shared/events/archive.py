"""Archive the event stream to files before the stream's retention drops old events.

The stream keeps events for ``stream_max_age_days`` (a year by default: long enough for supervision
to rebuild its read models). Run this daily (cron, or a compose job): it appends every event not yet
archived, oldest first, to gzip-compressed JSON Lines files under ``var/archive/`` (one file per run,
named by its first and last stream sequence), and remembers the last sequence it wrote, so a run
never writes an event twice and a failed run is simply repeated. The files hold the envelopes as the
bus carried them (personal data in them is sealed, never in clear).

    python -m shared.events.archive                 # everything not archived yet
    python -m shared.events.archive --older-than 300 # only events older than 300 days
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import nats
from nats.js.errors import NotFoundError

from shared.clock import utcnow
from shared.settings import Settings, get_settings

STATE_FILE = "archived-through.json"


@dataclass
class ArchiveRun:
    written: int
    first_seq: int | None
    last_seq: int | None
    file: Path | None


def _state(directory: Path) -> int:
    path = directory / STATE_FILE
    return int(json.loads(path.read_text())["last_seq"]) if path.exists() else 0


async def archive_stream(
    nats_url: str, stream: str, directory: Path, *, older_than_days: float = 0
) -> ArchiveRun:
    """Append every event after the last archived one (and older than ``older_than_days``) to a file."""
    directory.mkdir(parents=True, exist_ok=True)
    cutoff = utcnow() - timedelta(days=older_than_days)
    client = await nats.connect(nats_url, connect_timeout=5)
    try:
        js = client.jetstream()
        info = await js.stream_info(stream)
        start = max(_state(directory) + 1, info.state.first_seq)
        lines: list[str] = []
        first = last = None
        for seq in range(start, info.state.last_seq + 1):
            try:
                msg = await js.get_msg(stream, seq)
            except NotFoundError:
                continue  # deleted or expired: nothing to keep
            envelope = json.loads(msg.data or b"{}")
            stored = msg.headers or {}
            if older_than_days and str(envelope.get("time", "")) > cutoff.isoformat():
                break  # the rest is younger still
            lines.append(
                json.dumps(
                    {
                        "seq": seq,
                        "subject": msg.subject,
                        "msg_id": stored.get("Nats-Msg-Id"),
                        "event": envelope,
                    },
                    ensure_ascii=False,
                )
            )
            first = first if first is not None else seq
            last = seq
    finally:
        await client.close()
    if not lines or first is None or last is None:
        return ArchiveRun(0, None, None, None)
    target = directory / f"{stream}-{first:012d}-{last:012d}.jsonl.gz"
    partial = target.with_suffix(".partial")
    with gzip.open(partial, "wt", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    partial.replace(target)  # the file appears whole or not at all
    (directory / STATE_FILE).write_text(json.dumps({"last_seq": last}))
    return ArchiveRun(len(lines), first, last, target)


def read_archive(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as source:
        return [json.loads(line) for line in source if line.strip()]


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.events.archive", description=__doc__)
    parser.add_argument("--older-than", type=float, default=0, help="only events older than this many days")
    parser.add_argument("--out", type=Path, default=None, help="directory (default: <var>/archive)")
    args = parser.parse_args(argv)
    settings = settings or get_settings()
    run = asyncio.run(
        archive_stream(
            settings.nats_url,
            settings.nats_stream,
            args.out or settings.var_dir / "archive",
            older_than_days=args.older_than,
        )
    )
    print(
        f"archived {run.written} events"
        + (f" ({run.first_seq}–{run.last_seq}) to {run.file}" if run.file else "")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
