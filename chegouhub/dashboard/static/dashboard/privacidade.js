// The dashboard's privacy section (CONTRACT 13): refreshed from /api/privacidade/pedidos/.
// Separate from painel.js on purpose: it only owns #lista-privacidade.
const list = document.getElementById("lista-privacidade");
const empty = document.getElementById("sem-privacidade");
const EVERY_MS = 5000;
// The request kinds as a merchant reads them (the Shopify topic is for the docs); same words as views.py.
const TIPO = {dados_cliente: "Dados de um cliente", apagar_cliente: "Apagar dados de um cliente", apagar_loja: "Apagar dados da loja"};
const QUANDO = new Intl.DateTimeFormat("pt-BR", {timeZone: "America/Sao_Paulo", day: "2-digit", month: "2-digit",
  year: "numeric", hour: "2-digit", minute: "2-digit"});

function row(p) {
  const li = document.createElement("li");
  li.dataset.pedidoId = String(p.id);
  li.dataset.status = p.status;
  const tipo = document.createElement("strong");
  tipo.textContent = TIPO[p.tipo] || "Pedido de privacidade";
  const resumo = document.createElement("span");
  resumo.className = "selo";
  resumo.textContent = p.resumo;
  const quando = document.createElement("time");
  quando.dateTime = p.recebido_em;
  quando.textContent = QUANDO.format(new Date(p.recebido_em));
  const loja = document.querySelector(`li.loja-webhook[data-loja-id="${p.loja_id}"] strong`);
  li.append(tipo, ` · ${loja ? loja.textContent : "loja removida"} · `, resumo, " ", quando);
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
