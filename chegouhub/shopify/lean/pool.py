"""The lean route's PostgreSQL connections: one async pool per event loop (a worker process has one
loop; a test's loop gets its own), opened up front, with orjson for jsonb parameters."""

from __future__ import annotations

import asyncio

import orjson
import psycopg
from django.conf import settings
from django.db import connections
from psycopg.types.json import set_json_dumps
from psycopg_pool import AsyncConnectionPool

# One entry per event loop: (loop, value).
_pools: dict[int, tuple[asyncio.AbstractEventLoop, AsyncConnectionPool]] = {}


def this_loops(registry: dict, make) -> tuple[object, bool]:
    """The running loop's entry of `registry` (made on first use: True), forgetting closed loops'."""
    loop = asyncio.get_running_loop()
    entry = registry.get(id(loop))
    if entry is not None and entry[0] is loop:
        return entry[1], False
    for key in [k for k, (entry_loop, _) in registry.items() if entry_loop.is_closed()]:
        del registry[key]
    registry[id(loop)] = (loop, value := make(loop))
    return value, True


def forget_loop(registry: dict, loop) -> list:
    """Drop this loop's entry (and those of loops that are gone); return what this loop's held."""
    mine = []
    for key, (entry_loop, value) in list(registry.items()):
        if entry_loop is loop:
            mine.append(value)
        if entry_loop is loop or entry_loop.is_closed():
            del registry[key]
    return mine


def _conn_kwargs() -> dict:
    db = connections["default"].settings_dict
    # lock_timeout: a batch stuck behind another transaction's lock would hold up every lean
    # webhook of its process; past it the batch gives way to the Django path (which waits in a
    # thread) and the route goes on.
    kwargs = {"dbname": db["NAME"], "autocommit": True,
              "options": f"-c timezone=UTC -c lock_timeout={settings.WEBHOOK_LOCK_TIMEOUT_MS}"}
    for key, name in (("USER", "user"), ("PASSWORD", "password"), ("HOST", "host"), ("PORT", "port")):
        if db.get(key):
            kwargs[name] = str(db[key])
    kwargs["connect_timeout"] = db.get("OPTIONS", {}).get("connect_timeout", 5)
    return kwargs


def _dump_json(value) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


async def _configure(conn: psycopg.AsyncConnection) -> None:
    # The batch's jsonb parameters (ledger rows, events) with orjson: a tenth of json.dumps' time.
    set_json_dumps(_dump_json, context=conn)


def _new_pool(loop) -> AsyncConnectionPool:
    return AsyncConnectionPool(
        # All connections opened up front (in the background): the first burst does not wait
        # for the pool to grow one backend at a time.
        kwargs=_conn_kwargs(), min_size=settings.WEBHOOK_DB_POOL_SIZE, max_size=settings.WEBHOOK_DB_POOL_SIZE,
        open=False, configure=_configure,
        timeout=settings.WEBHOOK_DB_POOL_TIMEOUT, name="webhook",
    )


async def pool() -> AsyncConnectionPool:
    pool, new = this_loops(_pools, _new_pool)
    if new:
        await pool.open(wait=False)
    return pool



async def close_pool() -> None:
    """Close this loop's pool (tests, shutdown)."""
    for pool_ in forget_loop(_pools, asyncio.get_running_loop()):
        await pool_.close()
