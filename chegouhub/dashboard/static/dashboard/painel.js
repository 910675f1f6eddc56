// The dashboard page: keeps the server-rendered first frame live with RealtimeClient.
// Untrusted text (SKUs, names, errors) only ever goes through textContent, never innerHTML.

import { RealtimeClient } from "./realtime.js";
import { api } from "./http.js";

const config = JSON.parse(document.getElementById("painel-config").textContent);
const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

const MODO_TEXTO = {
  websocket: "Ao vivo",
  polling: "Ao vivo (atualiza a cada poucos segundos)",
  conectando: "Conectando…",
  offline: "Sem conexão — tentando novamente",
};
const ORIGEM_TEXTO = {
  manual: "Ajuste manual",
  inicial: "Estoque inicial",
  shopify_pedido_pago: "Venda",
  shopify_pedido_cancelado: "Pedido cancelado",
  shopify_reembolso: "Reembolso",
};
const FEED_MAX = 30;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("data")) node.setAttribute(k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c != null) node.append(c);
  return node;
}

function errorText(resp) {
  const d = resp.data;
  if (d && typeof d === "object") {
    if (typeof d.erro === "string" && d.erro) return d.erro;
    if (typeof d.detail === "string") return d.detail;
    const first = Object.entries(d).find(([, v]) => typeof v === "string" || Array.isArray(v));
    if (first) return `${first[0]}: ${[].concat(first[1]).join(" ")}`;
  }
  if (resp.status === 404) return "Função ainda indisponível neste servidor (404).";
  if (resp.status === 0) return "Servidor inacessível.";
  return `O servidor respondeu ${resp.status}.`;
}

const FUSO = config.fuso || "America/Sao_Paulo"; // every time a merchant reads, in their zone (Configurações)

function hora(iso) {
  const d = iso ? new Date(iso) : new Date();
  return d.toLocaleTimeString("pt-BR", { hour: "2-digit", minute: "2-digit", second: "2-digit", timeZone: FUSO });
}

const numero = (n) => Number(n).toLocaleString("pt-BR");

function produtoUrl(id) {
  return `/produtos/${id}/${config.loja_id != null ? `?loja=${config.loja_id}` : ""}`;
}

// ---- stock table -------------------------------------------------------------------------------

const tbody = $("#linhas-estoque");
const lastEventForProduto = new Map(); // produto_id -> event id applied (older events never win)

function situacao(atual, minimo) {
  if (atual < 0) return ["zerado", "Negativo", "selo-zerado"];
  if (atual === 0) return ["zerado", "Zerado", "selo-zerado"];
  if (atual <= minimo) return ["baixo", "Baixo", "selo-baixo"];
  return ["", "OK", "selo-ok"];
}

function paintRow(row, atual) {
  const minimo = Number(row.dataset.minimo);
  const [cls, label, selo] = situacao(atual, minimo);
  row.classList.remove("baixo", "zerado");
  if (cls) row.classList.add(cls);
  row.dataset.estoque = String(atual);
  $(".estoque-atual", row).textContent = numero(atual);
  const cell = $(".situacao", row);
  cell.replaceChildren(el("span", { class: `selo ${selo}`, text: label }));
}

function buildRow(p) {
  const row = el("tr", { dataProdutoId: String(p.id), dataSku: p.sku, dataMinimo: String(p.estoque_minimo) },
    el("td", { class: "sku", text: p.sku }),
    el("td", { class: "nome" }, el("a", { class: "nome-texto", href: produtoUrl(p.id), text: p.nome }),
      el("span", { class: "sku-movel", text: p.sku })),
    el("td", { class: "num estoque-atual", text: numero(p.estoque_atual) }),
    el("td", { class: "num estoque-minimo", text: numero(p.estoque_minimo) }),
    el("td", { class: "situacao" }));
  paintRow(row, p.estoque_atual);
  return row;
}

function flash(row, direction) {
  row.classList.remove("flash", "flash-sobe", "flash-desce");
  void row.offsetWidth; // restart the animation
  row.classList.add("flash", direction < 0 ? "flash-desce" : "flash-sobe");
}

const pendingRows = new Set();
async function fetchMissingRow(produtoId) {
  // Only a full, unfiltered list takes in new produtos; a page or a search shows them on reload.
  if (!tbody || !config.adicionar_novos || pendingRows.has(produtoId)) return;
  pendingRows.add(produtoId);
  try {
    const resp = await api("GET", `/api/estoque/produtos/${produtoId}/`);
    if (resp.ok && resp.data && String(resp.data.loja_id) === String(config.loja_id)
        && !tbody.querySelector(`tr[data-produto-id="${produtoId}"]`)) {
      $(".sem-produtos", tbody)?.remove();
      const row = buildRow(resp.data);
      tbody.append(row);
      flash(row, 1);
      applySearch();
    }
  } finally {
    pendingRows.delete(produtoId);
  }
}

function onStockChange(ev) {
  const d = ev.data;
  const prev = lastEventForProduto.get(d.produto_id) || 0;
  if (ev.id < prev) return;
  lastEventForProduto.set(d.produto_id, ev.id);
  if (d.sku) knownSku.set(String(d.produto_id), d.sku);
  const row = tbody && tbody.querySelector(`tr[data-produto-id="${d.produto_id}"]`);
  if (d.origem === "shopify_pedido_cancelado" || d.origem === "shopify_reembolso" || d.origem === "manual") {
    addFeedEntry(movementEntry(ev, row));
  }
  if (!row) {
    if (listaAlertas) scheduleAlertRefresh(); // the Painel: alerts without the produtos list
    // A catalog import creates produtos by the thousand: one listing for all of them, not one
    // request per produto.
    if (d.origem === "importacao") scheduleMissingRows();
    else fetchMissingRow(d.produto_id);
    return;
  }
  paintRow(row, d.estoque_atual);
  flash(row, d.quantidade);
  resolveAlertsLocally(d.produto_id, d.estoque_atual, Number(row.dataset.minimo));
}

// A catalog import run by a worker of another process without a shared channel layer (the demo
// without Redis) is not pushed here: bancada.js asks for the produtos when it sees one finish.
let missingTimer = null;
function scheduleMissingRows() {
  clearTimeout(missingTimer);
  missingTimer = setTimeout(addMissingRows, 500);
}

async function addMissingRows() {
  if (!tbody || !config.adicionar_novos || config.loja_id == null) return;
  let url = `/api/estoque/produtos/?loja_id=${config.loja_id}&page_size=500`;
  while (url) {
    const resp = await api("GET", url);
    if (!resp.ok || !resp.data) return;
    for (const p of resp.data.results || []) {
      if (tbody.querySelector(`tr[data-produto-id="${p.id}"]`)) continue;
      $(".sem-produtos", tbody)?.remove();
      tbody.append(buildRow(p));
    }
    url = resp.data.next;
  }
  applySearch();
}

// A produto created or edited (here or on another dashboard): its row follows.
function onProdutoChange(ev) {
  const d = ev.data;
  if (!tbody) return;
  const row = tbody.querySelector(`tr[data-produto-id="${d.produto_id}"]`);
  if (!row) {
    if (!config.adicionar_novos) return;
    $(".sem-produtos", tbody)?.remove();
    const fresh = buildRow({ id: d.produto_id, sku: d.sku, nome: d.nome, estoque_atual: d.estoque_atual,
      estoque_minimo: d.estoque_minimo });
    tbody.append(fresh);
    flash(fresh, 1);
  } else {
    row.dataset.sku = d.sku;
    row.dataset.minimo = String(d.estoque_minimo);
    $(".sku", row).textContent = d.sku;
    $(".nome-texto", row).textContent = d.nome;
    $(".sku-movel", row).textContent = d.sku;
    $(".estoque-minimo", row).textContent = numero(d.estoque_minimo);
    paintRow(row, Number(row.dataset.estoque));
    flash(row, 1);
  }
  applySearch();
}

// ---- search ------------------------------------------------------------------------------------

const busca = $("#busca");
function normalize(s) {
  return s.normalize("NFD").replace(/\p{Diacritic}/gu, "").toLowerCase();
}
function applySearch() {
  if (!tbody || !busca) return;
  const q = normalize(busca.value.trim());
  let visible = 0;
  for (const row of $$("tr[data-produto-id]", tbody)) {
    const hay = normalize(`${row.dataset.sku} ${$(".nome", row).textContent}`);
    const show = !q || hay.includes(q);
    row.hidden = !show;
    if (show) visible += 1;
  }
  $("#busca-vazia").hidden = visible > 0 || !q;
}
busca?.addEventListener("input", applySearch);

// ---- alerts ------------------------------------------------------------------------------------

const listaAlertas = $("#lista-alertas");
const RANK = { critica: 0, alta: 1 };

// SKUs seen in alerts and events: the alerts' listing has ids only, and the Painel has no produtos list.
const knownSku = new Map();
for (const li of $$("li.alerta[data-sku]")) knownSku.set(li.dataset.produtoId, li.dataset.sku);

function alertItem(a) {
  const critica = a.prioridade === "critica";
  const row = tbody?.querySelector(`tr[data-produto-id="${a.produto_id}"]`);
  const sku = a.sku || row?.dataset.sku || knownSku.get(String(a.produto_id)) || `#${a.produto_id}`;
  if (a.sku) knownSku.set(String(a.produto_id), a.sku);
  // The row knows the stock now; the alert carries the stock when it opened.
  const atual = numero(row ? row.dataset.estoque : a.estoque_atual);
  const minimo = numero(row ? row.dataset.minimo : a.estoque_minimo);
  return el("li", {
    class: `alerta alerta-${a.prioridade}`, dataAlertaId: String(a.alerta_id ?? a.id), dataProdutoId: String(a.produto_id), dataSku: sku,
    dataTipo: a.tipo, dataPrioridade: a.prioridade,
  },
  el("span", { class: `selo ${critica ? "selo-zerado" : "selo-baixo"}`, text: critica ? "Crítico" : "Alta" }),
  el("span", { class: "alerta-texto" },
    el("a", { href: produtoUrl(a.produto_id) }, el("strong", { text: sku })),
    ` — ${a.tipo === "estoque_zerado" ? "estoque zerado" : "estoque baixo"} (agora `,
    el("span", { class: "alerta-atual", text: atual }), `, mínimo ${minimo})`));
}

function sortAlerts() {
  const items = $$("li.alerta", listaAlertas);
  items.sort((x, y) => (RANK[x.dataset.prioridade] ?? 9) - (RANK[y.dataset.prioridade] ?? 9)
    || Number(y.dataset.alertaId) - Number(x.dataset.alertaId));
  listaAlertas.append(...items);
  $("#contador-alertas").textContent = String(items.length);
  $("#sem-alertas").hidden = items.length > 0;
}

function onAlert(ev) {
  if (!listaAlertas) return;
  const a = ev.data;
  const same = listaAlertas.querySelector(`li[data-produto-id="${a.produto_id}"][data-tipo="${a.tipo}"]`);
  same?.remove();
  listaAlertas.prepend(alertItem(a));
  sortAlerts();
  if (a.prioridade === "critica") announce(`Alerta crítico: ${a.sku} está com estoque ${numero(a.estoque_atual)}.`);
  scheduleAlertRefresh();
}

function resolveAlertsLocally(produtoId, atual, minimo) {
  if (!listaAlertas) return;
  for (const li of $$(`li[data-produto-id="${produtoId}"]`, listaAlertas)) {
    const num = $(".alerta-atual", li);
    if (num) num.textContent = numero(atual);
    if ((li.dataset.tipo === "estoque_zerado" && atual > 0) || (li.dataset.tipo === "estoque_baixo" && atual > minimo)) {
      li.remove();
    }
  }
  sortAlerts();
  scheduleAlertRefresh();
}

// The server is the judge of which alerts are active: reconcile shortly after changes settle.
let alertTimer = null;
function scheduleAlertRefresh() {
  clearTimeout(alertTimer);
  alertTimer = setTimeout(refreshAlerts, 1500);
}
async function refreshAlerts() {
  if (!listaAlertas) return;
  const resp = await api("GET", `/api/estoque/alertas/?loja_id=${config.loja_id}&status=ativo&page_size=200`);
  if (!resp.ok || !resp.data) return;
  const skuOf = (pid) => tbody?.querySelector(`tr[data-produto-id="${pid}"]`)?.dataset.sku || knownSku.get(String(pid));
  listaAlertas.replaceChildren(...(resp.data.results || []).map((a) => alertItem({ ...a, sku: skuOf(a.produto_id) })));
  sortAlerts();
}

// ---- feed of sales -----------------------------------------------------------------------------

const feed = $("#feed-vendas");

function saleEntry(ev) {
  const d = ev.data;
  const itens = el("ul", { class: "itens" });
  for (const it of d.itens || []) {
    itens.append(el("li", { text: `${it.sku}: −${numero(it.quantidade)} (${numero(it.estoque_anterior)} → ${numero(it.estoque_atual)})` }));
  }
  for (const sku of d.nao_mapeados || []) {
    const li = el("li", { class: "nao-mapeado", dataSku: sku || "", text: `SKU não mapeado: ${sku || "(sem SKU)"}` });
    // bancada.js turns it into a mapeamento (a line without SKU has nothing to map)
    if (sku) li.append(el("button", { type: "button", class: "botao discreto mapear-sku", dataSku: sku, "aria-label": `Mapear ${sku}`, text: "Mapear" }));
    itens.append(li);
  }
  const nome = d.order_name || `#${d.order_id}`;
  return el("li", { class: "entrada venda", dataEventoId: String(ev.id), dataOrderId: String(d.order_id) },
    el("div", { class: "entrada-topo" },
      el("strong", { text: `Pedido ${nome}` }),
      el("time", { datetime: ev.timestamp || "", text: hora(ev.timestamp) })),
    itens);
}

function movementEntry(ev, row) {
  const d = ev.data;
  const sinal = d.quantidade > 0 ? "+" : "−";
  return el("li", { class: "entrada devolucao", dataEventoId: String(ev.id) },
    el("div", { class: "entrada-topo" },
      el("strong", { text: ORIGEM_TEXTO[d.origem] || d.origem }),
      el("time", { datetime: ev.timestamp || "", text: hora(ev.timestamp) })),
    el("ul", { class: "itens" },
      el("li", { text: `${d.sku || row?.dataset.sku}: ${sinal}${numero(Math.abs(d.quantidade))} (${numero(d.estoque_anterior)} → ${numero(d.estoque_atual)})` })));
}

function addFeedEntry(li, { append = false } = {}) {
  if (!feed) return;
  if (feed.querySelector(`li[data-evento-id="${li.dataset.eventoId}"]`)) return;
  if (append) feed.append(li); else feed.prepend(li);
  while (feed.children.length > FEED_MAX) feed.lastElementChild.remove();
  const vazio = $("#sem-vendas");
  if (vazio) vazio.hidden = feed.children.length > 0;
}

// ---- webhooks ----------------------------------------------------------------------------------

function setWebhookBadge(lojaId, status) {
  const badge = $(`li.loja-webhook[data-loja-id="${lojaId}"] .selo-webhook`);
  if (!badge || !status) return;
  badge.className = `selo selo-webhook selo-wh-${status}`;
  badge.dataset.status = status;
  badge.textContent = config.status_labels[status] || status;
}

async function refreshLoja(lojaId) {
  const resp = await api("GET", `/api/lojas/${lojaId}/`);
  if (resp.ok && resp.data) setWebhookBadge(lojaId, resp.data.webhook_status);
}

async function onWebhookAction(button) {
  const lojaId = Number(button.dataset.lojaId);
  const item = button.closest("li.loja-webhook");
  const out = $(".resultado", item);
  const buttons = $$("button", item);
  buttons.forEach((b) => { b.disabled = true; });
  item.setAttribute("aria-busy", "true");
  out.className = "resultado";
  try {
    if (button.dataset.acao === "configurar") {
      out.textContent = "Configurando webhooks…";
      const base = $("#base-domain").value.trim();
      const resp = await api("POST", "/api/sync-realtime/configure-webhook-single/", { loja_id: lojaId, base_domain: base });
      if (resp.ok && (resp.data || {}).ok !== false) {
        const d = resp.data || {};
        const partes = [];
        for (const [k, rotulo] of [["criados", "criados"], ["mantidos", "já corretos"], ["removidos", "removidos"]]) {
          const v = d[k];
          const n = Array.isArray(v) ? v.length : (typeof v === "number" ? v : 0);
          if (n) partes.push(`${n} ${rotulo}`);
        }
        out.textContent = `Webhooks configurados${partes.length ? `: ${partes.join(", ")}` : ""}.`;
        out.classList.add("sucesso");
        if (d.webhook_status) setWebhookBadge(lojaId, d.webhook_status);
        refreshLoja(lojaId);
      } else {
        out.textContent = `Não foi possível configurar: ${resp.ok ? (resp.data.erro || "a Shopify recusou.") : errorText(resp)}`;
        out.classList.add("falha");
        refreshLoja(lojaId);
      }
    } else {
      out.textContent = "Testando conexão com a Shopify…";
      const resp = await api("GET", `/api/sync-realtime/test-connectivity/?loja_id=${lojaId}`);
      const d = resp.data || {};
      if (resp.ok && d.conectado) {
        const nome = (d.shop && (d.shop.name || d.shop.nome || d.shop.myshopifyDomain)) || "a loja";
        const lat = d.latencia_ms != null ? ` em ${Math.round(d.latencia_ms)} ms` : "";
        out.textContent = `Conectado a ${nome}${lat}.`;
        out.classList.add("sucesso");
      } else {
        out.textContent = `Sem conexão: ${resp.ok ? (d.erro || "a Shopify não respondeu.") : errorText(resp)}`;
        out.classList.add("falha");
      }
    }
  } catch (err) {
    out.textContent = "Servidor inacessível. Verifique sua conexão e tente de novo.";
    out.classList.add("falha");
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
    item.removeAttribute("aria-busy");
  }
}

$("#lista-lojas")?.addEventListener("click", (e) => {
  const button = e.target.closest("button[data-acao]");
  if (button) onWebhookAction(button);
});

function onLojaReconectar(ev) {
  const d = ev.data;
  const item = $(`li.loja-webhook[data-loja-id="${d.loja_id}"]`);
  if (item) {
    $(".selo-reconectar", item)?.removeAttribute("hidden");
    $(".botao-reconectar", item)?.removeAttribute("hidden");
    const dica = $(".token-dica", item);
    if (dica) dica.textContent = d.detalhes;
  }
  announce(`${d.nome || d.shop_domain}: ${d.detalhes}`);
}

function onWebhookStatus(ev) {
  const d = ev.data;
  setWebhookBadge(d.loja_id, d.status);
  const out = $(`li.loja-webhook[data-loja-id="${d.loja_id}"] .resultado`);
  if (out && d.detalhes) out.textContent = d.detalhes;
  if (ev.priority === "alta" || ev.priority === "critica") announce(`${d.shop_domain}: ${d.detalhes || d.status}`);
}

// ---- misc --------------------------------------------------------------------------------------

const anuncio = $("#anuncio-critico");
function announce(text) {
  if (!anuncio) return;
  anuncio.textContent = "";
  setTimeout(() => { anuncio.textContent = text; }, 50);
}

const status = $("#rt-status");
function showMode(modo) {
  status.dataset.modo = modo;
  $("#rt-texto").textContent = MODO_TEXTO[modo] || modo;
}

// On a phone the navigation folds into a menu button.
const menu = $("#menu-botao");
menu?.addEventListener("click", () => {
  const aberto = menu.getAttribute("aria-expanded") !== "true";
  menu.setAttribute("aria-expanded", String(aberto));
  $("#navegacao").classList.toggle("aberta", aberto);
});

// The loja picker is a plain GET form with its own "Abrir" button: changing the select does not
// navigate by itself (keyboard users move through the options with the arrow keys).

// ---- start -------------------------------------------------------------------------------------

for (const ev of config.vendas.slice().reverse()) addFeedEntry(saleEntry(ev));

const rt = new RealtimeClient({ lojaId: config.loja_id, cursor: config.cursor });
rt.addEventListener("modo", (e) => showMode(e.detail.modo));
rt.addEventListener("fatal", (e) => {
  showMode("offline");
  $("#rt-texto").textContent = e.detail.motivo;
  if (e.detail.codigo === 4401) setTimeout(() => window.location.reload(), 3000);
});
rt.addEventListener("evento", (e) => {
  const ev = e.detail;
  // A stock event is this page's when it is of the loja's depósito (a sale in another loja of the
  // same depósito moves this stock too); anything else, when it is of this loja.
  if (ev.data && ev.data.deposito_id != null) {
    if (config.deposito_id != null && String(ev.data.deposito_id) !== String(config.deposito_id)) return;
  } else if (ev.data && ev.data.loja_id != null && config.loja_id != null
      && String(ev.data.loja_id) !== String(config.loja_id) && ev.type !== "webhook_status_change"
      && ev.type !== "loja_reconectar") return;
  switch (ev.type) {
    case "estoque_atualizado": onStockChange(ev); break;
    case "produto_atualizado": onProdutoChange(ev); break;
    case "venda_shopify_processada": addFeedEntry(saleEntry(ev)); break;
    case "alerta_estoque_gerado": onAlert(ev); break;
    case "produto_estoque_zero": announce(`Crítico: ${ev.data.nome} (${ev.data.sku}) ficou sem estoque.`); break;
    case "webhook_status_change": onWebhookStatus(ev); break;
    case "loja_reconectar": onLojaReconectar(ev); break;
    case "system_notification": announce(ev.data.message); break;
    case "catalogo_importado": scheduleMissingRows(); announce(`Catálogo importado: ${numero(ev.data.criados)} ${ev.data.criados === 1 ? "produto criado" : "produtos criados"}, ${numero(ev.data.vinculados)} ${ev.data.vinculados === 1 ? "vinculado" : "vinculados"}.`); break;
    default: break;
  }
});
showMode("conectando");
rt.start();
window.chegouhubRealtime = rt; // for the console and the browser tests
window.chegouhubPainel = { addMissingRows }; // for bancada.js
document.documentElement.dataset.painel = "pronto";
