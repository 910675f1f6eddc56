// "Ativar notificações": Web Push for this browser (CONTRACT section 11). Permission is asked only
// when the button is clicked; the state shown is the browser's and the server's (ativas, bloqueadas
// pelo navegador, não suportadas, desativadas). Also registers the service worker (/sw.js), which
// makes the dashboard installable, and highlights the produto a notification opened (?produto=).
// Every step after the permission prompt has a deadline, and every failure is told in Portuguese:
// browsers reject with English text ("Registration failed - permission denied") or never answer
// when their push service is unreachable.
import { api } from "./http.js";
import { confirmar } from "./confirmar.js";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

const TEXTO = {
  verificando: "Verificando…",
  ativas: "Notificações ativas neste navegador.",
  desativadas: "Notificações desativadas neste navegador.",
  bloqueadas: "Bloqueadas pelo navegador: permita as notificações deste site nas configurações do navegador.",
  nao_suportadas: "Não suportadas neste navegador: use o Chrome, o Edge, o Firefox ou o Safari atualizados "
    + "(no iPhone, adicione o site à tela de início) e abra o painel pelo endereço https.",
  ativando: "Ativando…",
};

// Knob for the browser tests (window.__CHEGOUHUB_PUSH__ = {timeoutMs}); a person waits 15 s at most.
const PRAZO_MS = (window.__CHEGOUHUB_PUSH__ && window.__CHEGOUHUB_PUSH__.timeoutMs) || 15000;

const FALHA = {
  permissao: "O navegador negou a permissão de notificações para este site. Permita as notificações nas "
    + "configurações do site (o cadeado ao lado do endereço) e clique em Ativar de novo.",
  prazo: `O serviço de notificações do navegador não respondeu em ${Math.round(PRAZO_MS / 1000)} segundos. `
    + "Verifique sua conexão e tente de novo; nada foi salvo.",
  servico: "O serviço de notificações do navegador está inacessível. Verifique sua conexão (ou se uma "
    + "rede da empresa bloqueia as notificações) e tente de novo; nada foi salvo.",
  suporte: TEXTO.nao_suportadas,
  outra: "O navegador não conseguiu ativar as notificações. Recarregue a página e tente de novo.",
};

// A failure already worded for the merchant (the server's answer), kept as is.
class Recusa extends Error {}

class Prazo extends Error {}

function comPrazo(promessa) {
  let timer;
  const prazo = new Promise((_, rejeitar) => { timer = setTimeout(() => rejeitar(new Prazo()), PRAZO_MS); });
  return Promise.race([promessa, prazo]).finally(() => clearTimeout(timer));
}

// The browser's error (a DOMException with English text) as a sentence for the merchant.
function explicar(err) {
  if (err instanceof Recusa) return err.message;
  if (err instanceof Prazo) return FALHA.prazo;
  const nome = (err && err.name) || "";
  const texto = String((err && err.message) || err || "").toLowerCase();
  if (nome === "NotAllowedError" || texto.includes("permission denied")) return FALHA.permissao;
  if (nome === "NotSupportedError" || texto.includes("not supported") || nome === "SecurityError") return FALHA.suporte;
  if (nome === "AbortError" || nome === "NetworkError" || nome === "TypeError" || texto.includes("push service")) {
    return FALHA.servico;
  }
  return FALHA.outra;
}

const secao = $("#notificacoes");
let inscricaoId = null;

function suportado() {
  return window.isSecureContext && "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
}

function mostrar(estado, detalhe) {
  if (!secao) return;
  const texto = $("#push-estado");
  texto.dataset.estado = estado;
  texto.textContent = detalhe || TEXTO[estado] || estado;
  const ativar = $("#push-ativar");
  const desativar = $("#push-desativar");
  ativar.hidden = estado === "ativas";
  ativar.disabled = estado === "bloqueadas" || estado === "nao_suportadas" || estado === "ativando";
  desativar.hidden = estado !== "ativas";
  document.documentElement.dataset.push = estado;
}

function escolhas() {
  const lojas = $$("input[name=push-loja]");
  const marcadas = lojas.filter((i) => i.checked).map((i) => Number(i.value));
  return {
    lojas: marcadas.length === lojas.length ? [] : marcadas, // todas: also the lojas added later
    tipos: $$("input[name=push-tipo]").filter((i) => i.checked).map((i) => i.value),
  };
}

function aplicarEscolhas(inscricao) {
  const lojas = new Set(inscricao.lojas);
  for (const i of $$("input[name=push-loja]")) i.checked = lojas.size === 0 || lojas.has(Number(i.value));
  const tipos = new Set(inscricao.tipos);
  for (const i of $$("input[name=push-tipo]")) i.checked = tipos.has(i.value);
}

function chaveBytes(base64url) {
  const b64 = base64url.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (base64url.length % 4)) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

async function registro() {
  await navigator.serviceWorker.register("/sw.js", { scope: "/" });
  return comPrazo(navigator.serviceWorker.ready);
}

async function inscricaoDe(endpoint) {
  const resp = await api("GET", "/api/push/inscricoes/?page_size=100");
  if (!resp.ok) return null;
  return (resp.data.results || []).find((i) => i.endpoint === endpoint) || null;
}

async function enviar(sub) {
  const json = sub.toJSON();
  const { lojas, tipos } = escolhas();
  const resp = await api("POST", "/api/push/inscricoes/", { endpoint: json.endpoint, keys: json.keys, lojas, tipos });
  if (!resp.ok) {
    const erro = resp.data && (resp.data.erro || resp.data.detail);
    if (resp.status === 0) throw new Recusa("Servidor inacessível. Verifique sua conexão e tente de novo; nada foi salvo.");
    throw new Recusa(erro ? `O servidor recusou a inscrição: ${erro}` : `O servidor respondeu ${resp.status}; nada foi salvo.`);
  }
  inscricaoId = resp.data.id;
}

async function ativar() {
  if (!suportado()) return mostrar("nao_suportadas");
  mostrar("ativando");
  try {
    // No deadline on the prompt itself: the person is reading it.
    const permissao = await Notification.requestPermission();
    if (permissao === "denied") return mostrar("bloqueadas", FALHA.permissao);
    if (permissao !== "granted") return mostrar("desativadas", "Permissão não concedida. Clique de novo para tentar.");
    const reg = await registro();
    let sub = await comPrazo(reg.pushManager.getSubscription());
    if (!sub) {
      const chave = await api("GET", "/api/push/chave-publica/");
      if (!chave.ok) throw new Recusa((chave.data && chave.data.erro) || "O servidor não informou a chave das notificações.");
      sub = await comPrazo(reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: chaveBytes(chave.data.chave) }));
    }
    await comPrazo(enviar(sub));
    mostrar("ativas");
  } catch (err) {
    mostrar("desativadas", `Não foi possível ativar. ${explicar(err)}`);
  }
}

async function desativar() {
  const sim = await confirmar({ titulo: "Desativar as notificações?", confirmar: "Desativar", linhas: [
    "Este navegador deixa de receber avisos de estoque zerado, alertas e webhooks de todas as lojas escolhidas.",
    "Os outros navegadores e celulares em que você ativou continuam recebendo.",
  ] });
  if (!sim) return;
  try {
    const reg = await registro();
    const sub = await comPrazo(reg.pushManager.getSubscription());
    if (inscricaoId) await api("DELETE", `/api/push/inscricoes/${inscricaoId}/`);
    if (sub) await comPrazo(sub.unsubscribe());
    inscricaoId = null;
    mostrar("desativadas");
  } catch (err) {
    mostrar("ativas", `Não foi possível desativar. ${explicar(err)}`);
  }
}

async function verificar() {
  if (!suportado()) return mostrar("nao_suportadas");
  try {
    const reg = await registro();
    if (Notification.permission === "denied") return mostrar("bloqueadas");
    const sub = await comPrazo(reg.pushManager.getSubscription());
    if (sub && Notification.permission === "granted") {
      const inscricao = await inscricaoDe(sub.endpoint);
      if (inscricao) {
        inscricaoId = inscricao.id;
        aplicarEscolhas(inscricao);
        return mostrar("ativas");
      }
    }
    mostrar("desativadas");
  } catch (err) {
    mostrar("desativadas", `Não foi possível verificar. ${explicar(err)}`);
  }
}

function destacarProduto() {
  const id = new URLSearchParams(location.search).get("produto");
  if (!id || !/^\d+$/.test(id)) return;
  const linha = $(`tr[data-produto-id="${id}"]`);
  if (!linha) return;
  linha.classList.add("destacado");
  linha.setAttribute("tabindex", "-1");
  linha.scrollIntoView({ block: "center" });
  linha.focus({ preventScroll: true });
}

destacarProduto();
if (secao) {
  $("#push-ativar").addEventListener("click", ativar);
  $("#push-desativar").addEventListener("click", desativar);
  // Changing lojas or tipos while active updates the same inscrição (the endpoint is its key).
  secao.addEventListener("change", async () => {
    if ($("#push-estado").dataset.estado !== "ativas") return;
    try {
      const sub = await (await registro()).pushManager.getSubscription();
      if (sub) await enviar(sub);
      mostrar("ativas", "Preferências salvas.");
    } catch (err) {
      mostrar("ativas", `Não foi possível salvar. ${explicar(err)}`);
    }
  });
  verificar();
} else if (suportado()) {
  registro().catch(() => {});
}
