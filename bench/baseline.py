"""The bare baseline: what this stack does with nothing of Weimin in the way. The reference every
Weimin figure is divided by, measured in the same run.

One uvicorn process (uvloop, httptools) serving a plain ASGI callable:

- ``POST /cases``: validates a body shaped like the spine's collect body (``CaseSubmission``: item
  code, applicant with a GB 11643-checked 身份证号 and a phone, materials) with pydantic, inserts one
  row into PostgreSQL (psycopg's async mode, a small pool of connections, one autocommitted
  ``INSERT … RETURNING``), publishes one JetStream message and waits for its ack, answers 201.
- ``GET /items/{code}``: a constant item (JSON bytes made once), the bare GET.

    python -m bench.baseline --port 8100 --database-url postgresql://… --nats-url nats://127.0.0.1:4222
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator

STREAM, SUBJECT = "BENCHBARE", "benchbare.case.created"
_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_ID_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"[1-9][0-9]{16}[0-9X]")
_PHONE = re.compile(r"1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8}")


class Applicant(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    id_number: str = Field(max_length=24)
    phone: str | None = Field(default=None, max_length=20)

    @field_validator("id_number")
    @classmethod
    def _id_number(cls, value: str) -> str:
        value = value.strip().upper()
        if not _ID_SHAPE.fullmatch(value):
            raise ValueError("not an 18-character 身份证号")
        total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
        if _ID_CHECK[total % 11] != value[17]:
            raise ValueError("wrong check digit")
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is not None and not _PHONE.fullmatch(value):
            raise ValueError("not a phone number")
        return value


class Material(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class Submission(BaseModel):
    item_code: str = Field(min_length=1, max_length=64)
    applicant: Applicant
    materials: list[Material] = Field(default_factory=list, max_length=100)


ITEM = json.dumps(
    {
        "item_code": "LY-MZ-001",
        "name": "最低生活保障(低保)认定",
        "aliases": ["低保", "低保申请"],
        "deciding_level": "town",
        "agent_may_take": True,
        "promised_days": 10,
        "legal_days": 30,
        "item_type": "05",
        "materials": [
            {"name": "低保申请书", "required": True},
            {"name": "居民身份证", "required": True},
            {"name": "户口簿", "required": True},
            {"name": "家庭收入情况声明", "required": True},
            {"name": "残疾证或病历", "required": False},
        ],
        "version_no": 1,
        "state": "published",
    },
    ensure_ascii=False,
).encode()

_JSON_HEADERS = [(b"content-type", b"application/json")]


class Pool:
    """A fixed pool of autocommit connections (psycopg_pool is not a dependency)."""

    def __init__(self, url: str, size: int) -> None:
        self.url, self.size = url, size
        self.idle: asyncio.Queue[Any] = asyncio.Queue()

    async def open(self) -> None:
        import psycopg

        for _ in range(self.size):
            self.idle.put_nowait(await psycopg.AsyncConnection.connect(self.url, autocommit=True))

    async def insert(self, sql: str, params: tuple[Any, ...]) -> Any:
        conn = await self.idle.get()
        try:
            cursor = await conn.execute(sql, params)
            return (await cursor.fetchone())[0]
        finally:
            self.idle.put_nowait(conn)


INSERT = "INSERT INTO bare_case (item_code, applicant, materials) VALUES (%s, %s, %s) RETURNING id"


class App:
    def __init__(self, database_url: str, nats_url: str, pool_size: int) -> None:
        self.pool = Pool(database_url, pool_size)
        self.nats_url = nats_url
        self.js: Any = None

    async def startup(self) -> None:
        import nats
        import psycopg

        async with await psycopg.AsyncConnection.connect(self.pool.url, autocommit=True) as conn:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS bare_case (id bigserial PRIMARY KEY, item_code text NOT NULL, "
                "applicant jsonb NOT NULL, materials jsonb NOT NULL, created_at timestamptz NOT NULL "
                "DEFAULT now())"
            )
        await self.pool.open()
        self.nc = await nats.connect(self.nats_url)
        self.js = self.nc.jetstream()
        try:
            await self.js.add_stream(name=STREAM, subjects=[f"{STREAM.lower()}.>"])
        except Exception:  # noqa: BLE001 - exists already
            pass

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await self.startup()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await self.nc.drain()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        path, method = scope["path"], scope["method"]
        if method == "GET" and path.startswith("/items/"):
            await _answer(send, 200, ITEM)
        elif method == "POST" and path == "/cases":
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            await self.create(send, body)
        elif path == "/healthz":
            await _answer(send, 200, b'{"status":"ok"}')
        else:
            await _answer(send, 404, b'{"detail":"not found"}')

    async def create(self, send: Any, body: bytes) -> None:
        try:
            submission = Submission.model_validate_json(body)
        except ValidationError as exc:
            await _answer(send, 422, exc.json().encode())
            return
        applicant = submission.applicant.model_dump_json()
        materials = json.dumps([m.name for m in submission.materials], ensure_ascii=False)
        row_id = await self.pool.insert(INSERT, (submission.item_code, applicant, materials))
        answer = json.dumps({"case_id": f"BARE-{row_id:012d}", "status": "collected"}).encode()
        await self.js.publish(SUBJECT, answer)  # waits for JetStream's ack
        await _answer(send, 201, answer)


async def _answer(send: Any, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": _JSON_HEADERS})
    await send({"type": "http.response.body", "body": body})


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True, help="libpq URL (postgresql://…)")
    parser.add_argument("--nats-url", required=True)
    parser.add_argument("--pool-size", type=int, default=10, help="as Weimin's WEIMIN_DB_POOL_SIZE")
    args = parser.parse_args(argv)
    app = App(args.database_url, args.nats_url, args.pool_size)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        lifespan="on",
    )


if __name__ == "__main__":
    main()
