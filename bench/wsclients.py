"""Many WebSocket clients in one process, on raw sockets (uvloop), recording when events arrive.

A hand-written RFC 6455 client keeps the client side cheap enough to hold 10,000 sockets beside the
servers on a 2-core machine. It offers no extensions, so per-message deflate is off whatever the
server would allow, and sends no Origin (a server-side client, judged by its authentication).

Protocol on stdin/stdout, one JSON object a line:
  stdin  (argv[1] is the spec file) -> connects every client, then prints {"ready": ...}
  stdin  {"expect": {loja_id: n_orders}, "deadline": seconds, "out": path}
         -> waits until every client has n `venda_shopify_processada` events (or the deadline),
            writes the arrivals to `out`, prints {"done": true}
  stdin  {"quit": true} -> closes every socket and exits.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import resource
import struct
import sys
import time

import orjson


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _client_frame(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


class Stats:
    def __init__(self):
        self.orders: dict[int, list] = {}  # order_id -> [count, first arrival, last arrival]
        self.arrivals: dict[int, list[float]] = {}  # only when keep_arrivals
        self.keep_arrivals = False
        self.events_by_loja: dict[int, int] = {}
        self.close_codes: dict[str, int] = {}
        self.errors: list[str] = []
        self.retries = 0


class WSClient(asyncio.Protocol):
    def __init__(self, stats: Stats, loja_id: int, request: bytes):
        self.stats = stats
        self.loja_id = loja_id
        self.request = request
        self.buf = bytearray()
        self.open = False
        self.frag: bytearray | None = None
        self.sales = 0
        self.events = 0
        self.handshake: asyncio.Future = asyncio.get_running_loop().create_future()
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc):
        if not self.handshake.done():
            self.handshake.set_result(f"lost before handshake: {exc}")
        if self.open:
            self.open = False
            self.stats.close_codes.setdefault("lost", 0)
            self.stats.close_codes["lost"] += 1

    def data_received(self, data):
        self.buf += data
        if not self.open:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status_line = bytes(self.buf[: self.buf.find(b"\r\n")]).decode("latin-1")
            del self.buf[: end + 4]
            if " 101 " not in status_line + " ":
                if not self.handshake.done():
                    self.handshake.set_result(status_line)
                self.transport.close()
                return
            if self.handshake.done():  # given up on (timed out): not one of ours any more
                self.transport.close()
                return
            self.open = True
            self.handshake.set_result(None)
        self._frames()

    def _frames(self):
        buf = self.buf
        while len(buf) >= 2:
            b0, b1 = buf[0], buf[1]
            n = b1 & 0x7F
            pos = 2
            if n == 126:
                if len(buf) < 4:
                    return
                n = struct.unpack_from("!H", buf, 2)[0]
                pos = 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n = struct.unpack_from("!Q", buf, 2)[0]
                pos = 10
            if len(buf) < pos + n:
                return
            payload = bytes(buf[pos: pos + n])
            del buf[: pos + n]
            opcode, fin = b0 & 0x0F, b0 & 0x80
            if opcode == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                self.stats.close_codes[str(code)] = self.stats.close_codes.get(str(code), 0) + 1
                self.open = False
                self.transport.write(_client_frame(0x8, payload[:2]))
                self.transport.close()
                return
            if opcode == 0x9:
                self.transport.write(_client_frame(0xA, payload))
                continue
            if opcode == 0xA:
                continue
            if opcode in (0x1, 0x2):
                if fin:
                    self._message(payload)
                else:
                    self.frag = bytearray(payload)
            elif opcode == 0x0 and self.frag is not None:
                self.frag += payload
                if fin:
                    msg, self.frag = bytes(self.frag), None
                    self._message(msg)

    def _message(self, payload: bytes):
        now = time.monotonic()
        try:
            msg = orjson.loads(payload)  # the clients share the 2 cores with the server: keep them cheap
        except ValueError:
            self.stats.errors.append("non-JSON message")
            return
        kind = msg.get("type")
        if kind in ("connection_established", "pong", "error"):
            return
        self.events += 1
        self.stats.events_by_loja[self.loja_id] = self.stats.events_by_loja.get(self.loja_id, 0) + 1
        if kind == "venda_shopify_processada":
            self.sales += 1
            order_id = (msg.get("data") or {}).get("order_id")
            entry = self.stats.orders.get(order_id)
            if entry is None:
                self.stats.orders[order_id] = [1, now, now]
            else:
                entry[0] += 1
                entry[2] = max(entry[2], now)
            if self.stats.keep_arrivals:
                self.stats.arrivals.setdefault(order_id, []).append(now)


def _handshake_request(port: int, path: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


async def connect_all(spec: dict, stats: Stats) -> list[WSClient]:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(spec.get("connect_concurrency", 100))
    ports = spec["ports"]
    clients: list[WSClient] = []
    jobs = []
    n = 0
    for group in spec["clients"]:
        path = f"{spec.get('path', '/ws/estoque/')}?loja_id={group['loja_id']}&session_key={group['session_key']}"
        for _ in range(group["count"]):
            jobs.append((group["loja_id"], ports[n % len(ports)], path))
            n += 1

    async def one(loja_id, port, path):
        async with gate:
            for attempt in range(5):
                proto = None
                try:
                    _, proto = await loop.create_connection(
                        lambda: WSClient(stats, loja_id, _handshake_request(port, path)), "127.0.0.1", port
                    )
                    outcome = await asyncio.wait_for(asyncio.shield(proto.handshake), 60)
                except (OSError, asyncio.TimeoutError, asyncio.CancelledError) as exc:
                    outcome = f"{type(exc).__name__}: {exc}"
                    if proto is not None:
                        if not proto.handshake.done():
                            proto.handshake.set_result(outcome)
                        proto.transport.close()
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                if outcome is None:
                    clients.append(proto)
                    return
                if not outcome.startswith(("lost before handshake", "OSError", "ConnectionRefused",
                                           "TimeoutError", "ConnectionReset")):
                    break  # refused by the server (4xx): no point retrying
                stats.retries += 1
                await asyncio.sleep(0.2 * (attempt + 1))
            stats.errors.append(str(outcome)[:200])

    tasks = [asyncio.ensure_future(one(*job)) for job in jobs]
    budget = spec.get("connect_budget")
    done, pending = await asyncio.wait(tasks, timeout=budget)
    for t in pending:  # out of time: go on with the sockets that are open
        t.cancel()
    if pending:
        stats.errors.append(f"connect budget of {budget}s spent: {len(pending)} sockets not attempted or not open")
        await asyncio.gather(*pending, return_exceptions=True)
    return clients


async def main_async(spec: dict) -> None:
    stats = Stats()
    stats.keep_arrivals = spec.get("keep_arrivals", False)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    t0 = time.monotonic()
    clients = await connect_all(spec, stats)
    wanted = sum(g["count"] for g in spec["clients"])
    print(json.dumps({"ready": True, "connected": len(clients), "wanted": wanted,
                      "connect_seconds": round(time.monotonic() - t0, 2), "errors": stats.errors[:5],
                      "retries": stats.retries}), flush=True)
    while True:
        line = await reader.readline()
        if not line:
            break
        cmd = json.loads(line)
        if cmd.get("quit"):
            break
        if "expect" in cmd:
            expect = {int(k): v for k, v in cmd["expect"].items()}
            deadline = time.monotonic() + cmd.get("deadline", 30)
            while time.monotonic() < deadline:
                if all(c.sales >= expect.get(c.loja_id, 0) for c in clients):
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(cmd.get("grace", 0.5))
            per_loja: dict[int, dict] = {}
            for c in clients:
                d = per_loja.setdefault(c.loja_id, {"clients": 0, "open": 0, "events": 0, "sales": 0,
                                                    "min_sales": None, "min_events": None})
                d["clients"] += 1
                d["open"] += int(c.open)
                d["events"] += c.events
                d["sales"] += c.sales
                d["min_sales"] = c.sales if d["min_sales"] is None else min(d["min_sales"], c.sales)
                d["min_events"] = c.events if d["min_events"] is None else min(d["min_events"], c.events)
            out = {"orders": stats.orders, "per_loja": per_loja, "close_codes": stats.close_codes,
                   "errors": stats.errors[:20], "arrivals": stats.arrivals if stats.keep_arrivals else {}}
            with open(cmd["out"], "w") as f:
                json.dump(out, f)
            print(json.dumps({"done": True}), flush=True)
    for c in clients:
        if c.open:
            c.transport.write(_client_frame(0x8, struct.pack("!H", 1000)))
        c.transport.close()
    await asyncio.sleep(0.2)


def main() -> None:
    raise_fd_limit()
    spec = json.loads(open(sys.argv[1]).read())
    try:
        import uvloop
    except ImportError:
        asyncio.run(main_async(spec))
    else:
        uvloop.run(main_async(spec))


if __name__ == "__main__":
    main()
