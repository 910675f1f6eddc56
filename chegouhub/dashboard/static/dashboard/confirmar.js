// The app's one confirmation: a modal <dialog> (in _app.html) that says what will happen before an
// action that merges, deletes, disconnects or moves a lot of stock. Resolves true only on "Confirmar".

export const LIMITE_ESTOQUE = 100; // a change of stock above this many units asks first

export function confirmar({ titulo, texto, acao = "Confirmar" }) {
  const dialog = document.getElementById("confirmacao");
  if (!dialog || typeof dialog.showModal !== "function") return Promise.resolve(window.confirm(texto));
  document.getElementById("confirmacao-titulo").textContent = titulo;
  document.getElementById("confirmacao-texto").textContent = texto;
  const sim = document.getElementById("confirmacao-sim");
  const nao = document.getElementById("confirmacao-nao");
  sim.textContent = acao;
  const anterior = document.activeElement;
  return new Promise((resolve) => {
    const fim = (ok) => {
      sim.removeEventListener("click", onSim);
      nao.removeEventListener("click", onNao);
      dialog.removeEventListener("cancel", onNao);
      if (dialog.open) dialog.close();
      anterior?.focus?.();
      resolve(ok);
    };
    const onSim = () => fim(true);
    const onNao = (e) => { e?.preventDefault?.(); fim(false); };
    sim.addEventListener("click", onSim);
    nao.addEventListener("click", onNao);
    dialog.addEventListener("cancel", onNao); // Esc
    dialog.showModal();
    nao.focus(); // the safe choice has the focus
  });
}
