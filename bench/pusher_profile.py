"""`manage.py push_stock` with the time of each step of its rounds measured (bench/oversold.py
--profile-pusher): where a push's delay goes. Writes JSON to the path in PUSHER_PROFILE_OUT at exit."""

from __future__ import annotations

import functools
import json
import os
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from chegouhub.stocksync import pusher, services  # noqa: E402

STATS: dict[str, list[float]] = defaultdict(list)
QUERIES: dict[str, int] = defaultdict(int)
DBTIME: dict[str, float] = defaultdict(float)
SLOW: dict[str, float] = defaultdict(float)
_local = threading.local()


def _timed(name, fn, is_async=False):
    if is_async:
        @functools.wraps(fn)
        async def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return await fn(*a, **k)
            finally:
                STATS[name].append(time.perf_counter() - t)
        return wrapper

    @functools.wraps(fn)
    def wrapper(*a, **k):
        t = time.perf_counter()
        n = [0]

        def count(execute, sql, params, many, context):
            n[0] += 1
            t0 = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                d = time.perf_counter() - t0
                DBTIME[name] += d
                SLOW[name + " | " + sql[:60]] += d

        with connection.execute_wrapper(count):
            try:
                return fn(*a, **k)
            finally:
                STATS[name].append(time.perf_counter() - t)
                QUERIES[name] += n[0]
    return wrapper


services.ingest_all = _timed("ingest_all", services.ingest_all)
services.claim_pushes = _timed("claim_pushes", services.claim_pushes)
import cProfile  # noqa: E402
import io  # noqa: E402
import pstats  # noqa: E402

PROF = cProfile.Profile()


def _profiled(fn):
    @functools.wraps(fn)
    def wrapper(*a, **k):
        PROF.enable()
        try:
            return fn(*a, **k)
        finally:
            PROF.disable()
    return wrapper


services.record_results = _timed("record_results", _profiled(services.record_results))
services.ingest_all = _profiled(services.ingest_all)
services.record_events = _timed("record_events (in record_results)", services.record_events)
services._record_one = _timed("_record_one (per loja)", services._record_one)
pusher.Pusher.round = _timed("round", pusher.Pusher.round, is_async=True)
pusher.Pusher.push = _timed("push (HTTP, per loja)", pusher.Pusher.push, is_async=True)


def dump():
    out = {name: {"n": len(v), "total_s": round(sum(v), 3), "mean_ms": round(1000 * sum(v) / len(v), 1),
                  "max_ms": round(1000 * max(v), 1), "queries": QUERIES.get(name), "db_s": round(DBTIME.get(name, 0), 3)}
           for name, v in STATS.items() if v}
    out["slowest statements"] = {k: round(v, 3) for k, v in sorted(SLOW.items(), key=lambda kv: -kv[1])[:8]}
    buf = io.StringIO()
    pstats.Stats(PROF, stream=buf).sort_stats("tottime").print_stats(25)
    Path(os.environ.get("PUSHER_PROFILE_OUT", "pusher-profile.json") + ".txt").write_text(buf.getvalue())
    Path(os.environ.get("PUSHER_PROFILE_OUT", "pusher-profile.json")).write_text(json.dumps(out, indent=1))


try:
    call_command("push_stock")
finally:
    dump()
