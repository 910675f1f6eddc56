// "Ativar notificações": Web Push for this browser (CONTRACT section 11). Permission is asked only
// when the button is clicked; the state shown is the browser's and the server's (ativas, bloqueadas
// pelo navegador, não suportadas, desativadas). Also registers the service worker (/sw.js), which
// makes the dashboard installable, and highlights the produto a notification opened (?produto=).
import { api } from "./http.js";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

const TEXTO = {
  verificando: "Verificando…",
  ativas: "Notificações ativas neste navegador.",
  desativadas: "Notificações desativadas neste navegador.",
  bloqueadas: "Bloqueadas pelo navegador: permita as notificações deste site nas configurações do navegador.",
  nao_suportadas: "Não suportadas neste navegador (ou a página não está em HTTPS).",
  ativando: "Ativando…",
};

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
  return navigator.serviceWorker.ready;
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
    throw new Falha(resp.status === 0 ? "o servidor está inacessível."
      : `o servidor recusou a inscrição${erro ? `: ${erro}` : "."}`);
  }
  inscricaoId = resp.data.id;
}

// The browser's own errors are in English and name no cause a person can act on: each becomes a
// sentence in Portuguese. Our own errors (Falha) already are one.
class Falha extends Error {}
const PRAZO_MS = (window.__CHEGOUHUB_PUSH__ || {}).prazoMs || 20000;

function comPrazo(promessa, ms = PRAZO_MS) {
  let timer;
  const prazo = new Promise((_, rejeitar) => {
    const s = Math.max(1, Math.round(ms / 1000));
    timer = setTimeout(() => rejeitar(new Falha(`o navegador não respondeu em ${s} ${s === 1 ? "segundo" : "segundos"}. `
      + "Verifique a conexão com a internet e tente de novo.")), ms);
  });
  return Promise.race([promessa, prazo]).finally(() => clearTimeout(timer));
}

export function motivo(err) {
  if (err instanceof Falha) return err.message;
  switch (err && err.name) {
    case "NotAllowedError": return "o navegador recusou a permissão. Permita as notificações deste site nas configurações do navegador.";
    case "AbortError": return "o serviço de notificações do navegador está inacessível agora. Tente de novo em alguns minutos.";
    case "NotSupportedError": return "este navegador não aceita notificações deste site.";
    case "InvalidStateError": return "o navegador já tem uma inscrição antiga. Desative e ative de novo.";
    case "SecurityError": return "as notificações só funcionam com o site aberto em HTTPS.";
    default: return "erro inesperado do navegador. Tente de novo; se persistir, use outro navegador.";
  }
}

async function ativar() {
  mostrar("ativando");
  try {
    const permissao = await Notification.requestPermission();
    if (permissao === "denied") return mostrar("bloqueadas");
    if (permissao !== "granted") return mostrar("desativadas", "Permissão não concedida. Clique de novo para tentar.");
    const reg = await comPrazo(registro());
    let sub = await comPrazo(reg.pushManager.getSubscription());
    if (!sub) {
      const chave = await api("GET", "/api/push/chave-publica/");
      if (!chave.ok) throw new Falha(chave.status === 0 ? "o servidor está inacessível." : "o servidor ainda não tem as chaves de notificação configuradas.");
      sub = await comPrazo(reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: chaveBytes(chave.data.chave) }));
    }
    await enviar(sub);
    mostrar("ativas");
  } catch (err) {
    mostrar("desativadas", `Não foi possível ativar: ${motivo(err)}`);
  }
}

async function desativar() {
  try {
    const reg = await registro();
    const sub = await reg.pushManager.getSubscription();
    if (inscricaoId) await api("DELETE", `/api/push/inscricoes/${inscricaoId}/`);
    if (sub) await sub.unsubscribe();
    inscricaoId = null;
    mostrar("desativadas");
  } catch (err) {
    mostrar("ativas", `Não foi possível desativar: ${motivo(err)}`);
  }
}

async function verificar() {
  if (!suportado()) return mostrar("nao_suportadas");
  try {
    const reg = await registro();
    if (Notification.permission === "denied") return mostrar("bloqueadas");
    const sub = await reg.pushManager.getSubscription();
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
    mostrar("desativadas", `Não foi possível verificar: ${motivo(err)}`);
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
      mostrar("ativas", `Não foi possível salvar: ${motivo(err)}`);
    }
  });
  verificar();
} else if (suportado()) {
  registro().catch(() => {});
}
