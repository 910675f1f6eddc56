// Configurações: the exchange rates the sales totals convert with (/api/cambio/), shown and set here.
import { api } from "./http.js";

const secao = document.getElementById("secao-cambio");
const FUSO = JSON.parse(document.getElementById("painel-config").textContent).fuso || "America/Sao_Paulo";
const $ = (sel) => document.querySelector(sel);

function erro(resp) {
  if (resp.status === 0) return "Servidor inacessível. Verifique sua conexão e tente de novo.";
  const d = resp.data || {};
  const campos = d.campos && typeof d.campos === "object" ? d.campos : d;
  for (const v of Object.values(campos)) {
    if (typeof v === "string") return v;
    if (Array.isArray(v) && v.length) return String(v[0]);
  }
  return "Não foi possível salvar.";
}

const taxaTexto = (t) => Number(t).toLocaleString("pt-BR", { maximumFractionDigits: 6 });
const dia = (iso) => new Date(`${iso}T12:00:00`).toLocaleDateString("pt-BR");

async function carregar() {
  const resp = await api("GET", "/api/cambio/?page_size=100");
  if (!resp.ok) return;
  const itens = (resp.data.results || []).map((t) => {
    const li = document.createElement("li");
    li.dataset.moeda = t.moeda;
    li.textContent = `1 ${t.moeda} = ${taxaTexto(t.taxa)} ${t.moeda_relatorio} (desde ${dia(t.vigente_desde)})`;
    return li;
  });
  $("#lista-cambio").replaceChildren(...itens);
  $("#sem-cambio").hidden = itens.length > 0;
}

if (secao) {
  $("#form-cambio").addEventListener("submit", async (e) => {
    e.preventDefault();
    const out = $("#cambio-resultado");
    const taxa = $("#cambio-taxa").value.trim().replace(/\./g, "").replace(",", ".");
    const moeda = $("#cambio-moeda").value.trim().toUpperCase();
    const relatorio = $("#cambio-relatorio").value.trim().toUpperCase();
    if (!/^[A-Z]{3}$/.test(moeda) || !/^[A-Z]{3}$/.test(relatorio)) { out.textContent = "Use o código de três letras da moeda (ex.: USD)."; return; }
    if (!(Number(taxa) > 0)) { out.textContent = "Informe uma taxa maior que zero (ex.: 5,25)."; return; }
    const hoje = new Intl.DateTimeFormat("en-CA", { timeZone: FUSO }).format(new Date()); // AAAA-MM-DD
    const resp = await api("POST", "/api/cambio/", { moeda, moeda_relatorio: relatorio, taxa, vigente_desde: hoje });
    out.textContent = resp.ok ? `Taxa salva: 1 ${moeda} = ${taxaTexto(taxa)} ${relatorio}.` : erro(resp);
    if (resp.ok) carregar();
  });
  carregar();
}
