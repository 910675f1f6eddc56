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
  const params = new URLSearchParams({ days, agrupar });
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

function desenharGrafico(resumo) {
  const inicios = [...new Set(resumo.moedas.flatMap((m) => m.serie.map((p) => p.inicio)))].sort();
  const xs = inicios.map((iso) => Date.parse(iso) / 1000);
  const series = [{}];
  const data = [xs];
  resumo.moedas.forEach((m, i) => {
    const porInicio = new Map(m.serie.map((p) => [p.inicio, Number(p.bruto)]));
    data.push(inicios.map((iso) => porInicio.get(iso) ?? 0));
    series.push({ label: m.moeda, stroke: CORES[i % CORES.length], width: 2, points: { show: true } });
  });
  const alvo = $("#vendas-grafico");
  alvo.setAttribute("aria-label", resumo.moedas.length
    ? `Vendas brutas por ${periodo().agrupar === "hora" ? "hora" : "dia"}: ${resumo.moedas.map((m) => `${m.moeda} ${m.formatado.bruto}`).join(", ")}`
    : "Nenhuma venda no período");
  if (chart) { chart.destroy(); chart = null; }
  if (!xs.length) return;
  const largura = Math.max(280, Math.min(alvo.clientWidth || 600, 900));
  chart = new uPlot({ width: largura, height: 220, series, scales: { x: { time: true } },
                      axes: [{}, { size: 60 }] }, data, alvo);
  alvo.dataset.pontos = String(xs.length);
  alvo.dataset.series = resumo.moedas.map((m) => m.moeda).join(",");
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
  window.chegouhubVendas = { carregar, ultimo: () => ultimo };
  carregar();
}
