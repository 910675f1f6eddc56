// Sales on the dashboard (CONTRACT section 12): totals per currency and converted, formatted for
// pt-BR by the server (Babel), and a chart of sales by hour or day (uPlot, served with the project).
// Refreshed live: each venda_shopify_processada (and each refund's stock event) of the open loja
// reloads the summary; every 30 s it reloads anyway, for the other lojas' sales.

import uPlot from "./uPlot.esm.js";

const $ = (sel, root = document) => root.querySelector(sel);
const painel = $("#painel-vendas");
const CORES = ["#1d6f42", "#1f5fa8", "#a8551f", "#7a3aa8", "#a81f4a"];
let chart = null;
let timer = null;
let ultimo = null; // the last summary drawn, for the browser tests

function periodo() {
  const option = $("#vendas-periodo").selectedOptions[0];
  return { days: option.value, agrupar: option.dataset.agrupar || "dia" };
}

async function carregar() {
  const { days, agrupar } = periodo();
  const params = new URLSearchParams({ days, agrupar, fuso: FUSO }); // days cut at the user's midnight
  const loja = $("#vendas-loja").value; // every loja by default: sales in every currency they sell in
  if (loja) params.set("loja_id", loja);
  const resp = await fetch(`/api/vendas/resumo/?${params}`, { credentials: "same-origin",
                                                              headers: { Accept: "application/json" } });
  if (!resp.ok) {
    $("#vendas-estado").textContent = "Não foi possível carregar as vendas agora.";
    return;
  }
  const resumo = await resp.json();
  ultimo = resumo;
  desenharTotais(resumo);
  desenharGrafico(resumo);
  painel.dataset.atualizado = String(Date.now());
}

function desenharTotais(resumo) {
  const lista = $("#vendas-totais");
  lista.replaceChildren();
  for (const m of resumo.moedas) {
    const li = document.createElement("li");
    li.dataset.moeda = m.moeda;
    const valor = document.createElement("strong");
    valor.textContent = m.formatado.liquido;
    const detalhe = document.createElement("span");
    detalhe.className = "dica";
    detalhe.textContent = ` líquido · ${m.pedidos} pedido${m.pedidos === 1 ? "" : "s"}, ${m.unidades} unidade${m.unidades === 1 ? "" : "s"}, bruto ${m.formatado.bruto}`;
    li.append(valor, detalhe);
    lista.append(li);
  }
  const c = resumo.convertido;
  let texto = resumo.moedas.length ? `Total convertido (${c.moeda}): ${c.formatado.liquido}` : "Nenhuma venda no período.";
  if (c.sem_taxa.length) texto += ` — sem taxa de câmbio para ${c.sem_taxa.join(", ")} (cadastre em Configurações)`;
  if (resumo.sem_valor) texto += ` — ${resumo.sem_valor} ${resumo.sem_valor === 1 ? "pedido" : "pedidos"} sem valor registrado`;
  $("#vendas-convertido").textContent = texto;
  $("#vendas-estado").textContent = "";
}

// Times in the merchant's zone (Configurações; Brasília by default), numbers and money as a Brazilian writes them.
const FUSO = JSON.parse(document.getElementById("painel-config").textContent).fuso || "America/Sao_Paulo";
const HORA = new Intl.DateTimeFormat("pt-BR", { timeZone: FUSO, hour: "2-digit", minute: "2-digit" });
const DIA = new Intl.DateTimeFormat("pt-BR", { timeZone: FUSO, day: "2-digit", month: "2-digit" });
const DIA_LONGO = new Intl.DateTimeFormat("pt-BR", { timeZone: FUSO, day: "numeric", month: "long", hour: "2-digit", minute: "2-digit" });
const dinheiro = new Map();
function formatoMoeda(moeda, compacto) {
  const chave = `${moeda}:${compacto}`;
  if (!dinheiro.has(chave)) {
    dinheiro.set(chave, new Intl.NumberFormat("pt-BR", { style: "currency", currency: moeda,
      ...(compacto ? { notation: "compact", maximumFractionDigits: 1 } : {}) }));
  }
  return dinheiro.get(chave);
}

function desenharGrafico(resumo) {
  const { agrupar } = periodo();
  const inicios = [...new Set(resumo.moedas.flatMap((m) => m.serie.map((p) => p.inicio)))].sort();
  const xs = inicios.map((iso) => Date.parse(iso) / 1000);
  // The period's real range, not the data's: "7 dias" always spans seven days up to now.
  const fim = Date.now() / 1000;
  const inicio = fim - Number(resumo.dias || periodo().days) * 86400;
  const rotuloX = (t) => (agrupar === "hora" ? HORA : DIA).format(new Date(t * 1000));
  const series = [{ label: agrupar === "hora" ? "Hora" : "Dia", value: (u, t) => (t == null ? "—" : DIA_LONGO.format(new Date(t * 1000))) }];
  const data = [xs];
  // One scale per currency: reais and dólares are never drawn against the same numbers.
  const axes = [{ values: (u, ticks) => ticks.map(rotuloX), space: 50 }];
  resumo.moedas.forEach((m, i) => {
    const porInicio = new Map(m.serie.map((p) => [p.inicio, Number(p.bruto)]));
    data.push(inicios.map((iso) => porInicio.get(iso) ?? 0));
    series.push({ label: m.moeda, scale: m.moeda, stroke: CORES[i % CORES.length], width: 2, points: { show: true },
                  value: (u, v) => (v == null ? "—" : formatoMoeda(m.moeda, false).format(v)) });
    if (i < 2) {
      axes.push({ scale: m.moeda, side: i === 0 ? 3 : 1, stroke: CORES[i % CORES.length], grid: { show: i === 0 },
                  size: 72, values: (u, ticks) => ticks.map((v) => formatoMoeda(m.moeda, true).format(v)) });
    }
  });
  const alvo = $("#vendas-grafico");
  alvo.setAttribute("aria-label", resumo.moedas.length
    ? `Vendas brutas por ${agrupar === "hora" ? "hora" : "dia"}: ${resumo.moedas.map((m) => `${m.moeda} ${m.formatado.bruto}`).join(", ")}`
    : "Nenhuma venda no período");
  if (chart) { chart.destroy(); chart = null; }
  if (!xs.length) return;
  const largura = Math.max(260, Math.min(alvo.clientWidth || 600, 900));
  const scales = { x: { time: true, range: () => [inicio, fim] } };
  for (const m of resumo.moedas) scales[m.moeda] = { range: (u, min, max) => [0, Math.max(max, 1) * 1.1] };
  chart = new uPlot({ width: largura, height: 240, series, scales, axes,
                      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), FUSO) }, data, alvo);
  alvo.dataset.pontos = String(xs.length);
  alvo.dataset.series = resumo.moedas.map((m) => m.moeda).join(",");
  alvo.dataset.inicio = String(Math.round(inicio));
  alvo.dataset.fim = String(Math.round(fim));
}

function agendar() {
  clearTimeout(timer);
  timer = setTimeout(carregar, 400); // a burst of sales costs one reload
}

if (painel) {
  $("#vendas-periodo").addEventListener("change", carregar);
  $("#vendas-loja").addEventListener("change", carregar);
  window.chegouhubRealtime?.addEventListener("evento", (e) => {
    const tipo = e.detail.type;
    if (tipo === "venda_shopify_processada" || (tipo === "estoque_atualizado" && e.detail.data.origem === "shopify_reembolso")) {
      agendar();
    }
  });
  // The page's socket carries the open loja's events; the other lojas' sales show within 30 s.
  setInterval(() => { if (!document.hidden) carregar(); }, 30000);
  // for the browser tests: the axes' labels as drawn (uPlot keeps them per axis)
  window.chegouhubVendas = { carregar, ultimo: () => ultimo, rotulos: () => (chart ? chart.axes.map((a) => a._values || []) : []) };
  carregar();
}
