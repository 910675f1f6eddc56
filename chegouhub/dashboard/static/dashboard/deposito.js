// The depósito section (CONTRACT 10): move this loja to another depósito, turn the push of stock to
// its Shopify store on or off, and watch the pushes live (estoque_sincronizado_shopify events).
// Owns #painel-deposito only; untrusted text goes through textContent.
import { api } from "./http.js";
import { confirmar } from "./confirmar.js";
const config = JSON.parse(document.getElementById("painel-config").textContent);
const section = document.getElementById("painel-deposito"); // absent for a user without lojas
const $ = (sel) => section.querySelector(sel);
const REFRESH_MS = 10000;

function firstError(data) {
  if (!data) return "Sem resposta do servidor.";
  if (data.erro) return data.erro;
  for (const v of Object.values(data)) {
    if (Array.isArray(v) && v.length) return String(v[0]);
    if (typeof v === "string") return v;
  }
  return "Não foi possível.";
}

const FUSO = JSON.parse(document.getElementById("painel-config").textContent).fuso || "America/Sao_Paulo";
const when = (iso) => iso ? new Date(iso).toLocaleString("pt-BR", { dateStyle: "short", timeStyle: "medium", timeZone: FUSO }) : "—";
const fmt = (n) => Number(n).toLocaleString("pt-BR");
const ms = (v) => v == null ? "—" : (v < 1000 ? `${fmt(v)} ms` : `${(v / 1000).toLocaleString("pt-BR", { maximumFractionDigits: 1 })} s`);

async function refresh() {
  if (!section) return; // another page of the app: nothing of this section to refresh
  const resp = await api("GET", `/api/estoque/sincronizacao/?loja_id=${config.loja_id}`);
  const all = await api("GET", "/api/estoque/sincronizacao/");
  if (all.ok) {
    const rows = all.data.lojas.filter((l) => String(l.deposito_id) === String(config.deposito_id));
    $("#sync-lojas").replaceChildren(...rows.map((l) => {
      const tr = document.createElement("tr");
      tr.dataset.lojaId = String(l.loja_id);
      const nome = (document.querySelector(`li.loja-webhook[data-loja-id="${l.loja_id}"] strong`) || {}).textContent;
      for (const text of [nome || `Loja ${l.loja_id}`, l.sincronizar_estoque ? "sim" : "não", String(l.pendentes),
        when(l.ultimo_envio), ms(l.atraso_p99_ms), l.erros ? `${l.erros}: ${l.ultimo_erro}` : "0"]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.append(td);
      }
      return tr;
    }));
  }
  if (resp.ok) {
    $("#sync-envios").replaceChildren(...resp.data.produtos.slice(0, 15).map((p) => {
      const li = document.createElement("li");
      li.dataset.produtoId = String(p.produto_id);
      li.textContent = p.pendente
        ? `${p.sku}: aguardando envio${p.erro ? ` (${p.erro})` : ""}`
        : `${p.sku}: Shopify mostra ${p.quantidade} · ${ms(p.atraso_ms)} após a mudança · ${when(p.em)}`;
      return li;
    }));
  }
  const div = await api("GET", `/api/estoque/divergencias/?loja_id=${config.loja_id}&page_size=10`);
  if (div.ok) {
    $("#sync-divergencias").replaceChildren(...div.data.results.map((d) => {
      const li = document.createElement("li");
      li.textContent = `${d.sku}: a Shopify mostrava ${d.shopify_tinha ?? "—"}, o depósito tinha ${d.esperado} · ${when(d.created_at)}`;
      return li;
    }));
    $("#sem-divergencias").hidden = div.data.results.length > 0;
  }
}

if (section) $("#form-mover-loja").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = e.currentTarget;
  const out = $("#mover-resultado");
  const option = $("#mover-deposito").selectedOptions[0];
  const choice = option?.value || "";
  if (!choice) { out.textContent = "Escolha para qual depósito mover a loja."; return; }
  const loja = form.dataset.lojaNome;
  const n = Number(form.dataset.produtos);
  const produtos = `${fmt(n)} ${n === 1 ? "produto" : "produtos"}`;
  const texto = choice === "novo"
    ? `A loja ${loja} passa a ter um estoque só dela. Vão junto ${produtos}.`
    : `A loja ${loja} passa a vender do estoque de "${option.dataset.nome}", que já tem ${fmt(Number(option.dataset.produtos))} `
      + `produtos e é usado por: ${option.dataset.lojas}. ${n === 1 ? "O produto desta loja passa" : `Os ${produtos} desta loja passam`} `
      + "para lá, e uma venda em qualquer dessas lojas baixa o mesmo estoque.";
  const ok = await confirmar({ titulo: "Mover a loja de depósito?", texto, acao: "Mover loja" });
  if (!ok) { out.textContent = "Nada foi mudado."; return; }
  out.textContent = "Movendo…";
  const resp = choice === "novo"
    ? await api("POST", "/api/depositos/", { nome: `Estoque de ${loja}`.slice(0, 200), lojas: [config.loja_id] })
    : await api("PATCH", `/api/depositos/${choice}/`, { lojas: [config.loja_id] });
  if (!resp.ok) { out.textContent = firstError(resp.data); return; }
  out.textContent = "Loja movida. Recarregando…";
  setTimeout(() => window.location.reload(), 600);
});

// Every depósito of the user: rename, delete an empty one (asked first), create one.
const lista = document.getElementById("lista-depositos");
lista?.addEventListener("submit", async (e) => {
  e.preventDefault();
  const item = e.target.closest("li[data-deposito-id]");
  const out = item.querySelector(".resultado");
  const nome = item.querySelector("input").value.trim();
  if (!nome) { out.textContent = "Informe um nome."; return; }
  const resp = await api("PATCH", `/api/depositos/${item.dataset.depositoId}/`, { nome });
  out.textContent = resp.ok ? "Nome salvo." : firstError(resp.data);
});
lista?.addEventListener("click", async (e) => {
  const button = e.target.closest("button.excluir-deposito");
  if (!button) return;
  const item = button.closest("li[data-deposito-id]");
  const n = Number(item.dataset.produtos);
  const ok = await confirmar({ titulo: "Excluir o depósito?",
    texto: `O depósito "${button.dataset.nome}" não tem lojas. ${n ? `Os ${fmt(n)} produtos dele e seu histórico serão apagados.` : "Ele não tem produtos."} Isso não pode ser desfeito.`,
    acao: "Excluir depósito" });
  if (!ok) return;
  const resp = await api("DELETE", `/api/depositos/${item.dataset.depositoId}/`);
  if (resp.ok || resp.status === 204) item.remove();
  else item.querySelector(".resultado").textContent = firstError(resp.data);
});
document.getElementById("form-novo-deposito")?.addEventListener("submit", async (e) => {
  e.preventDefault();
  const out = document.getElementById("novo-deposito-resultado");
  const nome = document.getElementById("novo-deposito-nome").value.trim();
  if (!nome) { out.textContent = "Informe um nome."; return; }
  const resp = await api("POST", "/api/depositos/", { nome, lojas: [] });
  if (!resp.ok) { out.textContent = firstError(resp.data); return; }
  out.textContent = "Depósito criado. Recarregando…";
  setTimeout(() => window.location.reload(), 600);
});

if (section) $("#form-sincronizar").addEventListener("submit", async (e) => {
  e.preventDefault();
  const out = $("#sincronizar-resultado");
  const resp = await api("PATCH", `/api/lojas/${config.loja_id}/`, {
    sincronizar_estoque: $("#sincronizar-estoque").checked, estoque_reserva: Number($("#estoque-reserva").value || 0) });
  out.textContent = resp.ok ? (resp.data.sincronizar_estoque ? "Estoque enviado à Shopify desta loja." : "Envio desligado.")
    : firstError(resp.data);
  refresh();
});

let pending = null;
function soon() { // a burst of pushes refreshes once
  if (pending) return;
  pending = setTimeout(() => { pending = null; refresh(); }, 500);
}
window.chegouhubRealtime?.addEventListener("evento", (e) => {
  if (e.detail.type === "estoque_sincronizado_shopify") soon();
});
if (section && config.loja_id != null) {
  refresh();
  setInterval(refresh, REFRESH_MS);
}
