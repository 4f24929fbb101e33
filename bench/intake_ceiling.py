"""The ceiling of a sequential HTTP producer: the least a server can do before its 201.

``python -m uvicorn bench.intake_ceiling:app`` (with ``CEILING_DSN`` set) runs a pure ASGI app on
the same server stack as the lineage service (uvicorn, httptools, psycopg). For each POST it
reads the body, parses the JSON, hashes it, and in one statement checks the bearer token's hash
against the lineage ``tokens`` table and inserts the event into a table of its own; then it
commits and answers 201. No validation, authorization, audit entry or graph: what is left is
HTTP, one token lookup, one insert and one durable commit per event, the floor under any design
whose 201 means committed. The sequential rows quote it as their limit.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from typing import Any

import psycopg

TABLE = "bench_ceiling_events"
_INSERT = (
    "WITH caller AS (SELECT EXISTS (SELECT 1 FROM tokens WHERE token_hash = %s "
    "AND revoked_at IS NULL) AS known), "
    f"stored AS (INSERT INTO {TABLE} (event_hash, payload) SELECT %s, %s::jsonb "
    "FROM caller WHERE known ON CONFLICT DO NOTHING) "
    "SELECT known FROM caller"
)
_state: dict[str, Any] = {}


async def _startup() -> None:
    con = await psycopg.AsyncConnection.connect(os.environ["CEILING_DSN"], autocommit=True)
    await con.execute(
        f"CREATE TABLE IF NOT EXISTS {TABLE} (event_hash text PRIMARY KEY, payload jsonb NOT NULL)"
    )
    _state["con"], _state["lock"] = con, asyncio.Lock()


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _answer(send: Any, status: int) -> None:
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """POST: store the event and answer 201 after commit (401 for an unknown token)."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await _startup()
                await send({"type": "lifespan.startup.complete"})
            else:
                await _state["con"].close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["method"] != "POST":  # the bench's readiness probe
        await _answer(send, 200)
        return
    body = await _body(receive)
    json.loads(body)  # what any server does with an event: a body that is not JSON is refused
    token = dict(scope["headers"]).get(b"authorization", b"").partition(b" ")[2].strip()
    con: psycopg.AsyncConnection[Any] = _state["con"]
    async with _state["lock"], con.transaction():
        cursor = await con.execute(
            _INSERT,
            (hashlib.sha256(token).hexdigest(), hashlib.sha256(body).hexdigest(), body.decode()),
        )
        row = await cursor.fetchone()
    await _answer(send, 201 if row and row[0] else 401)
