"""HTTP/1.1 load generator on raw sockets (uvloop), closed or open loop.

Closed loop (the default): C keep-alive connections, each sending the next pre-signed delivery as
soon as the previous one is answered: the most the server sustains, and the latency at that load.
Open loop (`rate` in the spec): deliveries start on a fixed schedule, R a second, whatever the
answers do, on as many keep-alive connections as that needs (up to `max_connections`). Latency is
measured from each delivery's *scheduled* time, so a stalled server cannot hide its queue
(no coordinated omission): the latency a merchant's burst at that rate would see.

Run as `python -m bench.loadgen SPEC.json RESULT.json`. Every delivery is built and signed before
the clock starts; the clock stops when the duration is over (in-flight requests are awaited) or the
pre-built deliveries run out. Loopback only.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from bench.orders import OrderFactory


class HttpConn(asyncio.Protocol):
    def __init__(self):
        self.transport = None
        self.buf = bytearray()
        self.waiter: asyncio.Future | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport):
        self.transport = transport

    def connection_lost(self, exc):
        if not self.closed.done():
            self.closed.set_result(exc)
        if self.waiter and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed"))

    def data_received(self, data):
        self.buf += data
        self._try_complete()

    def _try_complete(self):
        if self.waiter is None or self.waiter.done():
            return
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[:end]).decode("latin-1")
        lines = head.split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = None
        chunked = False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value.strip())
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
        start = end + 4
        if chunked:
            term = self.buf.find(b"0\r\n\r\n", start)
            if term < 0:
                return
            body_end = term + 5
        else:
            body_end = start + (length or 0)
            if len(self.buf) < body_end:
                return
        body = bytes(self.buf[start:body_end])
        del self.buf[:body_end]
        self.waiter.set_result((status, body))

    async def request(self, raw: bytes):
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self.waiter


def _rows(orders: list, results: list) -> list[dict]:
    """One result row per delivery sent: (sent, acked, status, body) beside what the order was."""
    return [
        {"order_id": o.order_id, "loja": o.loja_index, "lines": o.lines, "t_send": r[0], "t_ack": r[1],
         "status": r[2], "body": r[3]}
        for o, r in zip(orders, results) if r is not None
    ]


async def run_open_loop(spec: dict, orders: list, loop, t0: float) -> tuple[list, list, dict, int]:
    rate, duration = spec["rate"], spec["duration"]
    idle: list[HttpConn] = []
    opened = 0
    results: list = [None] * len(orders)
    errors: list[str] = []
    statuses: dict[int, int] = {}
    tasks = []
    ports = spec["ports"]

    async def one(i: int, scheduled: float) -> None:
        nonlocal opened
        conn = None
        while idle and conn is None:
            conn = idle.pop()
            if conn.closed.done() or conn.transport.is_closing():  # the server's keep-alive timeout
                conn = None
        if conn is None:
            opened += 1
            _, conn = await loop.create_connection(HttpConn, "127.0.0.1", ports[opened % len(ports)])
        try:
            status, body = await conn.request(orders[i].request)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            results[i] = (scheduled, time.monotonic(), 0, "")
            return
        results[i] = (scheduled, time.monotonic(), status, body[:80].decode("utf-8", "replace") if status != 200 else "")
        statuses[status] = statuses.get(status, 0) + 1
        idle.append(conn)

    n = min(len(orders), int(rate * duration))
    for i in range(n):
        scheduled = t0 + i / rate
        delay = scheduled - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if opened - len(idle) >= spec.get("max_connections", 256):
            errors.append("open loop: every connection busy; the server fell behind the rate")
            break
        tasks.append(asyncio.ensure_future(one(i, scheduled)))
    await asyncio.gather(*tasks)
    for conn in idle:
        conn.transport.close()
    return results, errors, statuses, n


async def run(spec: dict) -> dict:
    factory = OrderFactory(host=f"127.0.0.1:{spec['ports'][0]}", shops=[tuple(s) for s in spec["shops"]],
                           skus=spec["skus"], templates=spec["templates"], seed=spec.get("seed", 6),
                           first_order_id=spec["first_order_id"])
    orders = [factory.make() for _ in range(spec["max_requests"])]
    concurrency = spec["concurrency"]
    duration = spec["duration"]
    loop = asyncio.get_running_loop()
    if spec.get("rate"):
        t0 = time.monotonic() + 0.2
        results, errors, statuses, n = await run_open_loop(spec, orders, loop, t0)
        return {"t0": t0, "t_end": time.monotonic(), "requests": _rows(orders, results), "errors": errors[:20], "statuses": statuses,
                "exhausted": n >= len(orders), "rate": spec["rate"]}
    conns = []
    for i in range(concurrency):
        port = spec["ports"][i % len(spec["ports"])]
        _, proto = await loop.create_connection(HttpConn, "127.0.0.1", port)
        conns.append(proto)
    results: list = [None] * len(orders)
    next_index = 0
    t0 = time.monotonic()
    stop_at = t0 + duration
    errors: list[str] = []
    statuses: dict[int, int] = {}

    async def worker(conn: HttpConn):
        nonlocal next_index
        while True:
            if next_index >= len(orders) or time.monotonic() >= stop_at:
                return
            i = next_index
            next_index += 1
            order = orders[i]
            sent = time.monotonic()
            try:
                status, body = await conn.request(order.request)
            except Exception as exc:  # a broken connection ends this worker; the run goes on
                errors.append(f"{type(exc).__name__}: {exc}")
                results[i] = (sent, time.monotonic(), 0, "")
                return
            acked = time.monotonic()
            statuses[status] = statuses.get(status, 0) + 1
            results[i] = (sent, acked, status, body[:80].decode("utf-8", "replace") if status != 200 else "")

    await asyncio.gather(*(worker(c) for c in conns))
    t_end = time.monotonic()
    for c in conns:
        c.transport.close()
    return {"t0": t0, "t_end": t_end, "requests": _rows(orders, results), "errors": errors[:20], "statuses": statuses,
            "exhausted": next_index >= len(orders)}


def main() -> None:
    spec = json.loads(open(sys.argv[1]).read())
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(run(spec))
    else:
        result = uvloop.run(run(spec))
    with open(sys.argv[2], "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
