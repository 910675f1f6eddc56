// The dashboard's privacy section (CONTRACT 13): refreshed from /api/privacidade/pedidos/.
// Separate from painel.js on purpose: it only owns #lista-privacidade.
const list = document.getElementById("lista-privacidade");
const empty = document.getElementById("sem-privacidade");
const EVERY_MS = 5000;
const FUSO = JSON.parse(document.getElementById("painel-config").textContent).fuso || "America/Sao_Paulo";
const LOJAS = JSON.parse(document.getElementById("painel-config").textContent).lojas || {};

function row(p) {
  const li = document.createElement("li");
  li.dataset.pedidoId = String(p.id);
  li.dataset.status = p.status;
  const tipo = document.createElement("strong");
  tipo.textContent = p.tipo_descricao;
  const resumo = document.createElement("span");
  resumo.className = "selo";
  resumo.textContent = p.resumo;
  const quando = document.createElement("time");
  quando.dateTime = p.recebido_em;
  quando.textContent = new Date(p.recebido_em).toLocaleString("pt-BR", {dateStyle: "short", timeStyle: "short", timeZone: FUSO});
  li.append(tipo, ` · ${LOJAS[p.loja_id] || "loja removida"} · `, resumo, " ", quando);
  return li;
}

async function refresh() {
  try {
    const r = await fetch("/api/privacidade/pedidos/", {credentials: "same-origin", headers: {Accept: "application/json"}});
    if (!r.ok) return;
    const {results} = await r.json();
    list.replaceChildren(...results.slice(0, 10).map(row));
    empty.hidden = results.length > 0;
  } catch (_) { /* offline: the next tick tries again */ }
}

if (list) setInterval(refresh, EVERY_MS);
