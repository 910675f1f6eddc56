"""realtime.js on its own, in the browser, against a scripted WebSocket: the protocol details."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser]

STATIC = Path(__file__).resolve().parents[2] / "chegouhub" / "dashboard" / "static" / "dashboard"

FAKE_WEBSOCKET = """
window.__sockets = [];
class FakeWebSocket {
  constructor(url) { this.url = String(url); this.sent = []; this.readyState = 0; window.__sockets.push(this); }
  send(data) { this.sent.push(JSON.parse(data)); }
  close() { this.readyState = 3; }
  serverOpen() { this.readyState = 1; this.onopen && this.onopen({}); }
  serverSend(obj) { this.onmessage && this.onmessage({data: JSON.stringify(obj)}); }
  serverClose(code) { this.readyState = 3; this.onclose && this.onclose({code}); }
}
window.WebSocket = FakeWebSocket;
"""

SCENARIO = """
async () => {
  const { RealtimeClient, backoffDelay } = await import("/painel/static/realtime.js");
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const until = async (cond, ms = 3000) => {
    const t0 = Date.now();
    while (!cond()) { if (Date.now() - t0 > ms) throw new Error("timeout: " + cond); await sleep(10); }
  };
  const polls = [];
  let pollEvents = [];
  const fetchImpl = async (url) => {
    polls.push(new URL(url).search);
    const body = { events: pollEvents, last_id: pollEvents.length ? pollEvents[pollEvents.length - 1].id : 0 };
    pollEvents = [];
    return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
  };
  const ev = (id, type = "estoque_atualizado") => ({ type, id, data: { loja_id: 7 }, timestamp: "", priority: "normal" });
  const got = [], modes = [], fatals = [];
  const rt = new RealtimeClient({ lojaId: 7, cursor: 40, fetchImpl, backoffBaseMs: 50, backoffCapMs: 200,
                                  pollIntervalMs: 30, catchUpIntervalMs: 100000 });
  rt.addEventListener("evento", (e) => got.push(e.detail.id));
  rt.addEventListener("modo", (e) => modes.push(e.detail.modo));
  rt.addEventListener("fatal", (e) => fatals.push(e.detail.codigo));
  rt.start();
  const out = {};
  const [est, notif] = window.__sockets;
  out.urls = [est.url, notif.url];
  est.serverOpen(); notif.serverOpen();
  out.firstResume = [est.sent[0], notif.sent[0]];
  out.modeAfterOpen = rt.modo;
  est.serverSend({ type: "connection_established", id: null, data: { loja_id: 7 } });
  est.serverSend(ev(41)); est.serverSend(ev(41)); est.serverSend(ev(42));
  notif.serverSend(ev(43, "webhook_status_change"));
  out.gotLive = got.slice();

  // the estoque socket drops: polling takes over at once, a new socket comes within the backoff
  est.serverClose(1006);
  out.modeAfterDrop = rt.modo;
  pollEvents = [ev(42), ev(44)];
  await until(() => got.includes(44));
  out.pollQuery = polls[0];
  await until(() => window.__sockets.length === 3);
  const again = window.__sockets[2];
  again.serverOpen();
  out.resumeAfterReconnect = again.sent[0];
  again.serverSend(ev(44)); again.serverSend(ev(45));
  out.gotAll = got.slice();
  out.modes = modes.slice();

  // refused for good: 4403 stops everything, no reconnect
  again.serverClose(4403);
  await sleep(300);
  out.fatals = fatals.slice();
  out.socketsAfterFatal = window.__sockets.length;

  // closed for idleness (4408): straight back, resuming where it was
  window.__sockets.length = 0;
  const idle = new RealtimeClient({ lojaId: null, cursor: 7, fetchImpl, backoffBaseMs: 5000, backoffCapMs: 5000 });
  idle.start();
  window.__sockets[0].serverOpen();
  window.__sockets[0].serverSend(ev(9, "system_notification"));
  window.__sockets[0].serverClose(4408);
  await until(() => window.__sockets.length === 2, 1000);
  window.__sockets[1].serverOpen();
  out.idle = { urls: window.__sockets.map((s) => s.url.split("/ws/")[1]), resume: window.__sockets[1].sent[0] };
  idle.stop();

  // server unreachable: sockets and polling both fail -> offline; the first good poll -> polling
  window.__sockets.length = 0;
  let down = true;
  const flaky = async (url) => {
    if (down) throw new TypeError("Failed to fetch");
    return new Response(JSON.stringify({ events: [], last_id: 0 }), { status: 200 });
  };
  const modes2 = [];
  const off = new RealtimeClient({ lojaId: 1, cursor: 0, fetchImpl: flaky, pollIntervalMs: 30,
                                   backoffBaseMs: 5000, backoffCapMs: 5000 });
  off.addEventListener("modo", (e) => modes2.push(e.detail.modo));
  off.start();
  window.__sockets[0].serverClose(1006);
  await until(() => off.modo === "offline");
  down = false;
  await until(() => off.modo === "polling");
  off.stop();
  out.offline = modes2;

  // a handshake that never completes counts as a failure: polling starts, a new attempt follows
  window.__sockets.length = 0;
  const hung = new RealtimeClient({ lojaId: null, cursor: 0, fetchImpl, connectTimeoutMs: 100,
                                    backoffBaseMs: 50, backoffCapMs: 50, pollIntervalMs: 30 });
  hung.start();
  await until(() => hung.modo === "polling", 1000);
  await until(() => window.__sockets.length === 2, 1000);
  hung.stop();
  out.hung = true;

  // full jitter, growing, capped
  const delays = Array.from({ length: 400 }, () => backoffDelay(3, 500, 30000));
  out.jitter = { min: Math.min(...delays), max: Math.max(...delays), distinct: new Set(delays).size };
  out.cap = backoffDelay(40, 500, 30000, () => 1);
  out.floor = backoffDelay(0, 500, 30000, () => 0);
  out.growth = [0, 1, 2, 3].map((a) => backoffDelay(a, 500, 30000, () => 1));
  return out;
}
"""


def serve_module(route):
    """The module straight from the source tree; no server or database needed for this test."""
    if route.request.url.endswith("/painel/static/realtime.js"):
        route.fulfill(body=(STATIC / "realtime.js").read_text(), content_type="text/javascript")
    else:
        route.fulfill(body="<!doctype html><title>realtime.js</title>", content_type="text/html")


def test_resume_dedupe_polling_fallback_and_backoff(page_factory):
    page = page_factory(init_scripts=(FAKE_WEBSOCKET,))
    page.route("http://painel.test/**", serve_module)
    page.goto("http://painel.test/")
    out = page.evaluate(SCENARIO)
    host = "painel.test"
    assert out["urls"] == [f"ws://{host}/ws/estoque/?loja_id=7", f"ws://{host}/ws/notifications/"]
    # first message on each socket: resume from the cursor the page was rendered with
    assert out["firstResume"] == [{"type": "resume", "last_event_id": 40}] * 2
    assert out["modeAfterOpen"] == "websocket"
    assert out["gotLive"] == [41, 42, 43]  # duplicate 41 and the control message are not events
    assert out["modeAfterDrop"] == "polling"
    # polling asks from the lowest cursor of the two sockets (notifications is at 43, estoque at 42)
    assert out["pollQuery"] == "?since=42&limit=500&loja_id=7"
    # after reconnecting, resume from the last id this socket's stream has seen (44 came by polling)
    assert out["resumeAfterReconnect"] == {"type": "resume", "last_event_id": 44}
    assert out["gotAll"] == [41, 42, 43, 44, 45]
    assert out["modes"] == ["websocket", "polling", "websocket"]
    assert out["fatals"] == [4403]
    assert out["socketsAfterFatal"] == 3
    # no loja: only the notifications socket; an idle close reconnects at once, not after the backoff
    assert out["hung"] is True
    assert out["offline"] == ["polling", "offline", "polling"]
    assert out["idle"] == {"urls": ["notifications/", "notifications/"],
                           "resume": {"type": "resume", "last_event_id": 9}}
    assert 100 <= out["jitter"]["min"] < 1000 and 3000 <= out["jitter"]["max"] <= 4000
    assert out["jitter"]["distinct"] > 100
    assert out["cap"] == 30000 and out["floor"] == 100
    assert out["growth"] == [500, 1000, 2000, 4000]
