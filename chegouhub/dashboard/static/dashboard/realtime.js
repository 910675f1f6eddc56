// ChegouHub real-time client (CONTRACT section 5). No dependencies, no build step.
//
// Two sockets, /ws/estoque/?loja_id= and /ws/notifications/, authenticated by the session cookie
// (same origin). Each one reconnects with jittered exponential backoff and, once open, sends
// {"type":"resume","last_event_id":N} so nothing missed while it was down is lost. While any
// socket is down the client polls GET /api/sync-realtime/events/?since=, and it goes back to
// WebSockets as soon as they open again. Every event is delivered once: deduplicated by id.
//
//   const rt = new RealtimeClient({lojaId: 3, cursor: 120});
//   rt.addEventListener("evento", (e) => console.log(e.detail));   // {type, data, id, timestamp, priority}
//   rt.addEventListener("modo", (e) => console.log(e.detail.modo)); // websocket | polling | conectando | offline
//   rt.addEventListener("fatal", (e) => console.log(e.detail));     // {codigo, motivo}: 4401 / 4403 / 4400
//   rt.start();

export const NOTIFICATION_TYPES = new Set(["system_notification", "webhook_status_change", "catalogo_importado"]);
export const STOCK_TYPES = new Set([
  "venda_shopify_processada", "estoque_atualizado", "produto_estoque_zero", "alerta_estoque_gerado",
]);

const DEFAULTS = {
  backoffBaseMs: 500,      // first retry within half a second
  backoffCapMs: 30000,     // never wait more than 30 s between attempts
  stableAfterMs: 5000,     // a socket open this long resets its backoff
  connectTimeoutMs: 5000,  // a handshake that hangs longer counts as a failure (blackholed networks)
  pingIntervalMs: 25000,   // keeps the socket alive below the server's idle timeout
  pollIntervalMs: 2000,    // while WebSockets are unavailable
  catchUpIntervalMs: 30000, // a cheap safety net while on WebSockets (a lost publish is caught here)
  pollLimit: 500,
  seenMax: 5000,
};

export function backoffDelay(attempt, baseMs, capMs, random = Math.random) {
  // "Full jitter": uniform in [0, min(cap, base * 2^attempt)], never below 100 ms.
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 20));
  return Math.max(100, Math.round(random() * ceiling));
}

class SocketLink {
  constructor(client, stream, path) {
    this.client = client;
    this.stream = stream; // "estoque" | "notifications"
    this.path = path;
    this.ws = null;
    this.open = false;
    this.attempt = 0;
    this.failures = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    this.stableTimer = null;
    this.stopped = true;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.teardown(1000, "encerrado pelo cliente");
  }

  teardown(code, reason) {
    clearInterval(this.pingTimer);
    clearTimeout(this.stableTimer);
    clearTimeout(this.openTimer);
    const ws = this.ws;
    this.ws = null;
    this.open = false;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
      try { ws.close(code, reason); } catch (_) { /* already closed */ }
    }
  }

  connect() {
    clearTimeout(this.retryTimer);
    if (this.stopped) return;
    const WS = window.WebSocket;
    let ws;
    try {
      if (typeof WS !== "function") throw new Error("WebSocket indisponível");
      ws = new WS(this.client.socketUrl(this.path));
    } catch (err) {
      this.failed();
      return;
    }
    this.ws = ws;
    this.openTimer = setTimeout(() => {
      if (this.ws !== ws || this.open) return;
      this.teardown(1000, "");
      this.failed();
    }, this.client.opts.connectTimeoutMs);
    ws.onopen = () => {
      if (this.ws !== ws) return;
      clearTimeout(this.openTimer);
      this.open = true;
      // Replays what this socket missed; on the first open it covers the gap since the page rendered.
      this.send({ type: "resume", last_event_id: this.client.cursors[this.stream] });
      this.pingTimer = setInterval(() => this.send({ type: "ping" }), this.client.opts.pingIntervalMs);
      this.stableTimer = setTimeout(() => { this.attempt = 0; this.failures = 0; }, this.client.opts.stableAfterMs);
      this.client.linkChanged();
    };
    ws.onmessage = (msg) => {
      let payload;
      try { payload = JSON.parse(msg.data); } catch (_) { return; }
      this.client.receive(payload, this.stream);
    };
    ws.onerror = () => { /* onclose follows and decides */ };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      const wasOpen = this.open;
      this.teardown(1000, "");
      if (ev.code === 4401 || ev.code === 4403 || ev.code === 4400) {
        this.client.fatal(ev.code);
        return;
      }
      if (ev.code === 4408 && wasOpen) {
        // Closed for idleness: come straight back.
        this.attempt = 0;
        this.schedule(100);
        this.client.linkChanged();
        return;
      }
      this.failed();
    };
  }

  failed() {
    this.failures += 1;
    const delay = backoffDelay(this.attempt, this.client.opts.backoffBaseMs, this.client.opts.backoffCapMs);
    this.attempt += 1;
    this.schedule(delay);
    this.client.linkChanged();
  }

  schedule(delay) {
    clearTimeout(this.retryTimer);
    if (this.stopped) return;
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  retryNow() {
    if (this.stopped || this.open) return;
    this.attempt = 0;
    this.schedule(0);
  }

  send(obj) {
    if (this.ws && this.open) {
      try { this.ws.send(JSON.stringify(obj)); } catch (_) { /* onclose will follow */ }
    }
  }
}

export class RealtimeClient extends EventTarget {
  constructor({ lojaId = null, cursor = 0, baseUrl = window.location.href, fetchImpl = null, ...opts } = {}) {
    super();
    this.opts = { ...DEFAULTS, ...(window.__CHEGOUHUB_RT__ || {}), ...opts };
    this.base = new URL(baseUrl);
    this.fetch = fetchImpl || window.fetch.bind(window);
    this.lojaId = lojaId;
    this.cursors = { estoque: cursor, notifications: cursor };
    this.seen = new Set();
    this.links = [];
    if (lojaId != null) this.links.push(new SocketLink(this, "estoque", `/ws/estoque/?loja_id=${encodeURIComponent(lojaId)}`));
    this.links.push(new SocketLink(this, "notifications", "/ws/notifications/"));
    this.modo = "conectando";
    this.pollTimer = null;
    this.polling = false;
    this.catchUpTimer = null;
    this.stopped = true;
    this.onOnline = () => this.links.forEach((l) => l.retryNow());
  }

  socketUrl(path) {
    const url = new URL(path, this.base);
    url.protocol = this.base.protocol === "https:" ? "wss:" : "ws:";
    return url.toString();
  }

  start() {
    this.stopped = false;
    window.addEventListener("online", this.onOnline);
    this.links.forEach((l) => l.start());
    this.catchUpTimer = setInterval(() => { if (this.modo === "websocket") this.poll(); }, this.opts.catchUpIntervalMs);
    this.linkChanged();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener("online", this.onOnline);
    this.links.forEach((l) => l.stop());
    clearInterval(this.catchUpTimer);
    this.stopPolling();
  }

  // Called whenever a socket opens or closes: decides between WebSocket and polling.
  linkChanged() {
    if (this.stopped) return;
    const allOpen = this.links.every((l) => l.open);
    const anyFailed = this.links.some((l) => !l.open && l.failures > 0);
    if (allOpen) {
      this.stopPolling();
      this.setModo("websocket");
    } else if (anyFailed) {
      this.setModo(this.pollFailing ? "offline" : "polling");
      this.startPolling();
    } else {
      this.setModo("conectando");
    }
  }

  setModo(modo) {
    if (modo === this.modo) return;
    this.modo = modo;
    this.dispatchEvent(new CustomEvent("modo", { detail: { modo } }));
  }

  startPolling() {
    if (this.polling) return;
    this.polling = true;
    const tick = async () => {
      if (!this.polling) return;
      const more = await this.poll();
      if (!this.polling) return;
      this.pollTimer = setTimeout(tick, more ? 0 : this.opts.pollIntervalMs);
    };
    tick();
  }

  stopPolling() {
    this.polling = false;
    clearTimeout(this.pollTimer);
  }

  // One request to the polling endpoint; returns true when there is more to fetch right away.
  async poll() {
    if (this.pollInFlight) return false;
    this.pollInFlight = true;
    const since = Math.min(this.cursors.estoque, this.cursors.notifications);
    const url = new URL("/api/sync-realtime/events/", this.base);
    url.searchParams.set("since", String(since));
    url.searchParams.set("limit", String(this.opts.pollLimit));
    if (this.lojaId != null) url.searchParams.set("loja_id", String(this.lojaId));
    try {
      const resp = await this.fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (resp.status === 401 || resp.status === 403) {
        this.fatal(4401);
        return false;
      }
      if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
      const body = await resp.json();
      const events = Array.isArray(body.events) ? body.events : [];
      for (const ev of events) this.receive(ev, null);
      const last = Number(body.last_id) || since;
      // The endpoint answers both streams after `since`, so both cursors may move up to last_id.
      this.cursors.estoque = Math.max(this.cursors.estoque, last);
      this.cursors.notifications = Math.max(this.cursors.notifications, last);
      if (this.pollFailing) {
        this.pollFailing = false;
        this.linkChanged();
      }
      return events.length >= this.opts.pollLimit;
    } catch (err) {
      if (!this.pollFailing) {
        this.pollFailing = true;
        this.linkChanged();
      }
      return false;
    } finally {
      this.pollInFlight = false;
    }
  }

  receive(msg, stream) {
    if (!msg || typeof msg !== "object") return;
    if (msg.type === "pong" || msg.type === "connection_established") return;
    if (msg.type === "error") {
      console.warn("ChegouHub: o servidor recusou uma mensagem", msg.data);
      return;
    }
    const id = Number(msg.id);
    if (!Number.isFinite(id) || id <= 0) return;
    const kind = NOTIFICATION_TYPES.has(msg.type) ? "notifications" : "estoque";
    if (stream && stream !== kind) return;
    this.cursors[kind] = Math.max(this.cursors[kind], id);
    if (this.seen.has(id)) return;
    this.seen.add(id);
    if (this.seen.size > this.opts.seenMax) {
      // Sets iterate in insertion order: drop the oldest ids.
      const excess = this.seen.size - this.opts.seenMax;
      let i = 0;
      for (const old of this.seen) { if (i++ >= excess) break; this.seen.delete(old); }
    }
    this.dispatchEvent(new CustomEvent("evento", { detail: msg }));
  }

  fatal(codigo) {
    const motivo = {
      4403: "Esta loja não pertence ao seu usuário.",
      4400: "Loja inválida.",
    }[codigo] || "Sua sessão expirou. Entre novamente.";
    this.stop();
    this.setModo("offline");
    this.dispatchEvent(new CustomEvent("fatal", { detail: { codigo, motivo } }));
  }
}
