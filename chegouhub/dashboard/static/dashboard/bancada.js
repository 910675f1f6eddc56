// The workbench: what a person running the lojas does without the API or the admin. Record a
// receipt or an adjustment, read a produto's history, map an unmapped Shopify SKU, import the
// catalog and watch it, connect a store, see the webhook deliveries and replay one. Every change
// goes through the public API; the stock table, the alerts and the feed (painel.js) follow the
// events it causes, on every open dashboard. Untrusted text only ever goes through textContent.
import { api } from "./http.js";
import { confirmar, LIMITE_ESTOQUE } from "./confirmar.js";

const config = JSON.parse(document.getElementById("painel-config").textContent);
const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

const ORIGEM = {
  inicial: "Estoque inicial", manual: "Ajuste manual", importacao: "Importação da Shopify",
  shopify_pedido_pago: "Venda", shopify_pedido_cancelado: "Pedido cancelado", shopify_reembolso: "Reembolso",
};
const TOPICO = {
  "orders/paid": "pedido pago", "orders/cancelled": "pedido cancelado", "refunds/create": "devolução",
  "app/uninstalled": "app desinstalado", "customers/data_request": "pedido de dados", "customers/redact": "remoção de cliente",
  "shop/redact": "remoção da loja",
};
const ENTREGA = {
  processing: "processando", processed: "processada", ignored: "ignorada", failed: "falhou",
  dead: "morta (tentativas esgotadas)", invalid: "inválida",
};

function erro(resp) {
  const d = resp.data;
  if (resp.status === 0) return "Servidor inacessível. Verifique sua conexão e tente de novo.";
  if (d && typeof d === "object") {
    if (d.campos && typeof d.campos === "object") {
      const [campo, msg] = Object.entries(d.campos)[0] || [];
      if (campo) return `${campo}: ${[].concat(msg).join(" ")}`;
    }
    if (typeof d.erro === "string") return d.erro;
    if (typeof d.detail === "string") return d.detail;
  }
  return `O servidor respondeu ${resp.status}.`;
}

function say(node, text, ok) {
  if (!node) return;
  node.textContent = text;
  node.classList.toggle("sucesso", ok === true);
  node.classList.toggle("falha", ok === false);
}

const FUSO = JSON.parse(document.getElementById("painel-config").textContent).fuso || "America/Sao_Paulo";
function quando(iso) {
  return iso ? new Date(iso).toLocaleString("pt-BR", { dateStyle: "short", timeStyle: "medium", timeZone: FUSO }) : "";
}
const fmt = (n) => Number(n).toLocaleString("pt-BR");
const conta = (n, um, varios) => `${fmt(n)} ${Number(n) === 1 ? um : varios}`; // "1 variante", "2 variantes"

// ---- create a produto (Produtos) or edit one (its page) -----------------------------------------

const formProduto = $("#form-produto");
formProduto?.addEventListener("submit", async (e) => {
  e.preventDefault();
  const out = $("#prod-resultado");
  const body = { sku: $("#prod-sku").value.trim(), nome: $("#prod-nome").value.trim(),
    estoque_minimo: Number($("#prod-minimo").value || 0) };
  if (!body.sku || !body.nome) return say(out, "Informe o SKU e o nome.", false);
  if (!Number.isInteger(body.estoque_minimo) || body.estoque_minimo < 0) return say(out, "O mínimo deve ser um inteiro de 0 para cima.", false);
  const id = formProduto.dataset.produtoId || "";
  let resp;
  if (id) resp = await api("PATCH", `/api/estoque/produtos/${id}/`, body);
  else {
    const inicial = Number($("#prod-inicial").value || 0);
    if (!Number.isInteger(inicial)) return say(out, "O estoque inicial deve ser um número inteiro.", false);
    resp = await api("POST", "/api/estoque/produtos/", { ...body, loja_id: config.loja_id, estoque_atual: inicial });
  }
  if (resp.ok) {
    say(out, id ? `Produto ${resp.data.sku} atualizado.` : `Produto ${resp.data.sku} criado.`, true);
    if (!id) { formProduto.reset(); $("#prod-minimo").value = "0"; $("#prod-inicial").value = "0"; }
  } else {
    say(out, `Não salvo: ${erro(resp)}`, false);
  }
});

// ---- change the stock: "Ajustar" (add or take) or "Definir" (the counted number), with a reason ---

const formMovimento = $("#form-movimento");
function modo() { return $("input[name=modo]:checked", formMovimento)?.value || "ajustar"; }
function estoqueAtual() {
  return Number($(`#linhas-estoque tr[data-produto-id="${formMovimento.dataset.produtoId}"]`)?.dataset.estoque);
}
formMovimento?.addEventListener("change", (e) => {
  if (e.target.name === "modo") {
    const definir = modo() === "definir";
    $("#mov-quantidade-rotulo").textContent = definir ? "Novo estoque (contado)" : "Quantidade";
    $("#mov-dica").textContent = definir ? "O número de unidades que você contou; a diferença fica no histórico."
      : "Positiva para entrada (recebimento), negativa para saída (perda, avaria).";
  }
  if (e.target.id === "mov-motivo") $("#campo-motivo-outro").hidden = e.target.value !== "Outro";
});
formMovimento?.addEventListener("submit", async (e) => {
  e.preventDefault();
  const out = $("#mov-resultado");
  const produto = formMovimento.dataset.produtoId;
  const valor = Number($("#mov-quantidade").value);
  const escolhido = $("#mov-motivo").value;
  const motivo = escolhido === "Outro" ? $("#mov-motivo-outro").value.trim() : escolhido;
  const raw = $("#mov-quantidade").value.trim();
  if (!raw || !Number.isInteger(valor)) return say(out, "Informe um número inteiro.", false);
  const atual = estoqueAtual();
  const definir = modo() === "definir";
  if (definir && valor < 0) return say(out, "O estoque contado não pode ser negativo.", false);
  const quantidade = definir ? valor - atual : valor;
  if (quantidade === 0) return say(out, definir ? `O estoque já é ${fmt(atual)}: nada a mudar.` : "Informe uma quantidade diferente de zero.", false);
  if (!motivo) return say(out, "Informe o motivo.", false);
  if (Math.abs(quantidade) > LIMITE_ESTOQUE) {
    const sku = formMovimento.closest("main").querySelector("#linhas-estoque tr")?.dataset.sku || "";
    const ok = await confirmar({ titulo: "Confirmar mudança grande de estoque",
      texto: `O estoque de ${sku} vai de ${fmt(atual)} para ${fmt(atual + quantidade)} (${quantidade > 0 ? "+" : "−"}${fmt(Math.abs(quantidade))} unidades). `
        + "Todas as lojas que usam este depósito passam a mostrar o novo número.",
      acao: "Mudar o estoque" });
    if (!ok) return say(out, "Nada foi mudado.");
  }
  const button = $("button[type=submit]", formMovimento);
  button.disabled = true;
  const resp = await api("POST", `/api/estoque/produtos/${produto}/movimentacoes/`, { quantidade, motivo });
  button.disabled = false;
  if (resp.ok) {
    const m = resp.data;
    say(out, `Registrado: ${m.quantidade > 0 ? "+" : "−"}${fmt(Math.abs(m.quantidade))} (${fmt(m.estoque_anterior)} → ${fmt(m.estoque_atual)}).`, true);
    $("#mov-quantidade").value = "";
    showHistory(produto);
  } else {
    say(out, `Não registrado: ${erro(resp)}`, false);
  }
});

// ---- history -----------------------------------------------------------------------------------

let historyFor = null;
async function showHistory(produtoId) {
  historyFor = produtoId;
  const list = $("#lista-historico");
  const resp = await api("GET", `/api/estoque/movimentacoes/?produto_id=${produtoId}&page_size=50`);
  if (!resp.ok) { list.replaceChildren(); $("#historico-vazio").hidden = false; $("#historico-vazio").textContent = erro(resp); return; }
  const items = (resp.data.results || []).map((m) => {
    const li = document.createElement("li");
    li.dataset.movimentoId = String(m.id);
    const sinal = m.quantidade > 0 ? "+" : "−";
    const quem = m.referencia ? ` · pedido ${m.referencia}` : "";
    const motivo = m.motivo ? ` · ${m.motivo}` : "";
    li.textContent = `${quando(m.created_at)} · ${ORIGEM[m.origem] || m.origem}: ${sinal}${fmt(Math.abs(m.quantidade))} `
      + `(${fmt(m.estoque_anterior)} → ${fmt(m.estoque_atual)})${quem}${motivo}`;
    return li;
  });
  list.replaceChildren(...items);
  $("#historico-vazio").textContent = "Nenhuma movimentação ainda.";
  $("#historico-vazio").hidden = items.length > 0;
}
const historico = $("#form-historico");
if (historico) showHistory(historico.dataset.produtoId);

// ---- mapping an unmapped SKU from the sales feed (two clicks: "Mapear", then "Salvar") ----------
// The picker searches the loja's produtos through the API: a catalog of thousands stays usable.

const formMapear = $("#form-mapear");
async function buscarProdutos() {
  const select = $("#mapear-produto");
  const q = $("#mapear-busca").value.trim();
  const params = new URLSearchParams({ loja_id: config.loja_id, page_size: "50" });
  if (q) params.set("search", q);
  const resp = await api("GET", `/api/estoque/produtos/?${params}`);
  const lista = (resp.ok && resp.data.results) || [];
  select.replaceChildren(...lista.map((p) => {
    const o = document.createElement("option");
    o.value = p.id;
    o.textContent = `${p.sku} — ${p.nome}`;
    return o;
  }));
  formMapear.dataset.carregado = String(Date.now());
}
let buscaTimer = null;
$("#mapear-busca")?.addEventListener("input", () => { clearTimeout(buscaTimer); buscaTimer = setTimeout(buscarProdutos, 250); });
document.addEventListener("click", (e) => {
  const button = e.target.closest("button.mapear-sku");
  if (!button || !formMapear) return;
  $("#mapear-sku").textContent = button.dataset.sku;
  formMapear.dataset.sku = button.dataset.sku;
  say($("#mapear-resultado"), "");
  formMapear.hidden = false;
  $("#mapear-busca").value = "";
  buscarProdutos();
  $("#mapear-busca").focus();
});
$("#mapear-cancelar")?.addEventListener("click", () => { formMapear.hidden = true; });
formMapear?.addEventListener("submit", async (e) => {
  e.preventDefault();
  const out = $("#mapear-resultado");
  const sku = formMapear.dataset.sku;
  const produto = Number($("#mapear-produto").value);
  const resp = await api("POST", "/api/estoque/mapeamentos/", { loja_id: config.loja_id, shopify_sku: sku, produto_id: produto });
  if (resp.ok) {
    say(out, `Mapeado: as próximas vendas de ${sku} baixam o estoque do produto escolhido.`, true);
    for (const b of $$(`button.mapear-sku[data-sku="${CSS.escape(sku)}"]`)) b.remove();
  } else {
    say(out, `Não mapeado: ${erro(resp)}`, false);
  }
});

// The stats' unmapped SKUs: the same two clicks as the feed's.
async function loadUnmapped() {
  const list = $("#lista-nao-mapeados");
  if (!list) return;
  const resp = await api("GET", `/api/estoque/webhook/stats/?days=7&loja_id=${config.loja_id}`);
  const mapped = new Set();
  const maps = await api("GET", `/api/estoque/mapeamentos/?loja_id=${config.loja_id}&page_size=500`);
  for (const m of (maps.ok && maps.data.results) || []) mapped.add(m.shopify_sku);
  const items = ((resp.ok && resp.data.skus_nao_mapeados) || [])
    .filter((x) => x.sku && !mapped.has(x.sku))
    .map((x) => {
      const li = document.createElement("li");
      li.dataset.sku = x.sku;
      li.textContent = `${x.sku} · ${x.ocorrencias} ${x.ocorrencias === 1 ? "venda" : "vendas"} `;
      const b = document.createElement("button");
      b.type = "button";
      b.className = "botao discreto mapear-sku";
      b.dataset.sku = x.sku;
      b.setAttribute("aria-label", `Mapear ${x.sku}`);
      b.textContent = "Mapear";
      li.append(b);
      return li;
    });
  list.replaceChildren(...items);
  $("#nao-mapeados-vazio").hidden = items.length > 0;
}
$("#carregar-nao-mapeados")?.addEventListener("click", loadUnmapped);
if (config.loja_id != null) loadUnmapped();

// ---- catalog import and its progress -----------------------------------------------------------

const bar = $("#progresso-importacao");
const status = $("#importacao-status");
let pollTimer = null;
let watching = null; // the import this page saw running

function showImport(imp) {
  if (!bar || !imp) return;
  const running = imp.status === "na_fila" || imp.status === "executando";
  if (running) watching = imp.id;
  else if (watching === imp.id) {
    watching = null;
    if (imp.criados) window.chegouhubPainel?.addMissingRows();
  }
  bar.hidden = false;
  bar.max = Math.max(imp.total || 0, 1);
  bar.value = imp.status === "concluida" ? bar.max : Math.min(imp.processados || 0, bar.max);
  bar.setAttribute("aria-valuetext", `${fmt(imp.processados)} de ${imp.total ? fmt(imp.total) : "?"} variantes`);
  if (imp.status === "na_fila") say(status, "Importação na fila…");
  else if (imp.status === "executando") say(status, `Importando: ${fmt(imp.processados)} de ${imp.total ? fmt(imp.total) : "?"} variantes…`);
  else if (imp.status === "concluida") {
    say(status, `Importação concluída: ${conta(imp.criados, "produto criado", "produtos criados")}, `
      + `${conta(imp.vinculados, "vinculado", "vinculados")}, ${conta(imp.sem_sku, "variante sem SKU", "variantes sem SKU")}.`, true);
  } else say(status, `A importação falhou: ${(imp.erros || []).slice(-1)[0] || "erro desconhecido"}`, false);
  $("#importar-catalogo").disabled = running;
  clearTimeout(pollTimer);
  if (running) pollTimer = setTimeout(() => followImport(imp.id), 1000);
}

async function followImport(id) {
  const resp = await api("GET", `/api/importacoes/${id}/`);
  if (resp.ok) showImport(resp.data);
  else pollTimer = setTimeout(() => followImport(id), 3000);
}

async function latestImport() {
  if (config.loja_id == null || !bar) return;
  const resp = await api("GET", `/api/importacoes/?loja_id=${config.loja_id}&page_size=1`);
  const imp = resp.ok && resp.data && (resp.data.results || [])[0];
  if (imp) showImport(imp);
}

$("#importar-catalogo")?.addEventListener("click", async () => {
  const resp = await api("POST", `/api/lojas/${config.loja_id}/importar-catalogo/`);
  if (resp.ok) followImport(resp.data.importacao_id);
  else say(status, `Não foi possível importar: ${erro(resp)}`, false);
});
latestImport();

// ---- the loja's Shopify location ----------------------------------------------------------------

$("#carregar-locais")?.addEventListener("click", async () => {
  const out = $("#local-resultado");
  say(out, "Consultando a Shopify…");
  const resp = await api("GET", `/api/lojas/${config.loja_id}/locais/`);
  if (!resp.ok) return say(out, `Não foi possível listar os locais: ${erro(resp)}`, false);
  const select = $("#local-estoque");
  select.replaceChildren(...resp.data.locais.map((l) => {
    const o = document.createElement("option");
    o.value = l.id;
    o.textContent = l.principal ? `${l.nome} (principal)` : l.nome;
    return o;
  }));
  const atual = resp.data.location_id || (resp.data.locais.find((l) => l.principal) || {}).id;
  if (atual) select.value = atual;
  say(out, resp.data.locais.length === 1 ? "1 local na Shopify." : `${resp.data.locais.length} locais na Shopify.`, true);
});
$("#salvar-local")?.addEventListener("click", async () => {
  const out = $("#local-resultado");
  const location = $("#local-estoque").value;
  const resp = await api("PATCH", `/api/lojas/${config.loja_id}/`, { location_id: location });
  if (resp.ok) say(out, location ? "Local salvo: as próximas importações usam este local." : "Usando o local principal.", true);
  else say(out, `Não salvo: ${erro(resp)}`, false);
});

// ---- connecting a store (the install flow) -----------------------------------------------------

for (const form of $$("#form-conectar")) {
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const shop = $("#conectar-shop", form).value.trim().toLowerCase();
    if (!/^[a-z0-9][a-z0-9-]*\.myshopify\.com$/.test(shop)) {
      say($("#conectar-resultado", form), "Use o domínio da loja do tipo minha-loja.myshopify.com.", false);
      return;
    }
    // A navigation, not a form submission: the server sends the browser on to Shopify.
    window.location.assign(`/shopify/instalar/?shop=${encodeURIComponent(shop)}`);
  });
}

$("#form-token")?.addEventListener("submit", async (e) => {
  e.preventDefault();
  const out = $("#token-resultado");
  const body = { shop_domain: $("#token-shop").value.trim().toLowerCase(), access_token: $("#token-acesso").value.trim(),
    webhook_secret: $("#token-segredo").value.trim() };
  if (!body.shop_domain || !body.access_token || !body.webhook_secret) {
    return say(out, "Preencha o domínio, o token e o segredo.", false);
  }
  const button = $("button[type=submit]", e.target);
  button.disabled = true;
  say(out, "Testando a conexão com a Shopify…");
  const resp = await api("POST", "/api/lojas/conectar/", body);
  button.disabled = false;
  if (resp.ok) {
    say(out, `Conectado a ${resp.data.shop.nome || body.shop_domain}. Abrindo a loja…`, true);
    window.location.assign(`/?loja=${resp.data.loja.id}`);
  } else {
    say(out, erro(resp), false);
  }
});

// ---- webhook deliveries: failed and dead first, replay -----------------------------------------

async function loadDeliveries() {
  const list = $("#lista-entregas");
  const base = `/api/estoque/webhook/entregas/?loja_id=${config.loja_id}&page_size=20`;
  const [dead, failed, recent] = await Promise.all([
    api("GET", `${base}&status=dead`), api("GET", `${base}&status=failed`), api("GET", base)]);
  const seen = new Set();
  const rows = [];
  for (const resp of [dead, failed, recent]) {
    for (const d of (resp.ok && resp.data && resp.data.results) || []) {
      if (seen.has(d.id)) continue;
      seen.add(d.id);
      rows.push(deliveryItem(d));
    }
  }
  list.replaceChildren(...rows);
  $("#entregas-vazio").hidden = rows.length > 0;
}

function deliveryItem(d) {
  const li = document.createElement("li");
  li.className = `entrega entrega-${d.status}`;
  li.dataset.entregaId = String(d.id);
  const text = document.createElement("span");
  const pedido = d.order_id ? ` · pedido ${d.order_id}` : "";
  const falha = d.last_error ? ` · ${d.last_error}` : "";
  text.textContent = `${TOPICO[d.topic] || d.topic} · ${ENTREGA[d.status] || d.status} · ${d.attempts} ${d.attempts === 1 ? "tentativa" : "tentativas"}${pedido} · ${quando(d.created_at)}${falha}`;
  li.append(text);
  if (d.status === "failed" || d.status === "dead") {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "botao discreto";
    button.textContent = "Reprocessar";
    button.setAttribute("aria-label", `Reprocessar entrega ${d.id} (${TOPICO[d.topic] || d.topic})`);
    button.addEventListener("click", async () => {
      button.disabled = true;
      const resp = await api("POST", `/api/estoque/webhook/entregas/${d.id}/replay/`);
      if (resp.ok) li.replaceWith(deliveryItem(resp.data));
      else { button.disabled = false; text.textContent += ` · não reprocessada: ${erro(resp)}`; }
    });
    li.append(" ", button);
  }
  return li;
}
$("#carregar-entregas")?.addEventListener("click", loadDeliveries);

// ---- live: what others change shows here too ---------------------------------------------------

const rt = window.chegouhubRealtime;
rt?.addEventListener("evento", (e) => {
  const ev = e.detail;
  if (ev.type === "estoque_atualizado" && historyFor && String(ev.data.produto_id) === String(historyFor)) {
    showHistory(historyFor);
  }
  if (ev.type === "importacao_progresso" && String(ev.data.loja_id) === String(config.loja_id)) {
    showImport({ id: ev.data.importacao_id, status: "executando", ...ev.data }); // pushed by the worker
  }
  if (ev.type === "catalogo_importado" && String(ev.data.loja_id) === String(config.loja_id)) {
    watching = ev.data.importacao_id; // seen finishing here: bring in its produtos
    followImport(ev.data.importacao_id);
  }
  if (ev.type === "estoque_atualizado" && ev.data.origem === "importacao" && watching == null) {
    latestImport(); // another dashboard (or the install flow) started one: follow it
  }
});
document.documentElement.dataset.bancada = "pronta";
