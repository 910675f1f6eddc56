// One confirmation for every action that cannot be taken back without work (moving a loja's stock,
// turning notifications off, a large or negative stock change): a modal <dialog> that says what
// will happen, in the merchant's words. Resolves true only on "Confirmar"; Esc and "Cancelar" say no.
const dialog = document.getElementById("confirmacao");

export function confirmar({ titulo, linhas, confirmar: rotulo = "Confirmar" }) {
  if (!dialog) return Promise.resolve(false);
  dialog.querySelector("#confirmacao-titulo").textContent = titulo;
  dialog.querySelector("#confirmacao-texto").replaceChildren(...linhas.map((texto) => {
    const p = document.createElement("p");
    p.textContent = texto;
    return p;
  }));
  dialog.querySelector("#confirmacao-sim").textContent = rotulo;
  dialog.returnValue = "";
  const voltarPara = document.activeElement;
  dialog.showModal();
  dialog.querySelector("#confirmacao-nao").focus(); // the safe answer is the default one
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      if (voltarPara && voltarPara.focus) voltarPara.focus();
      resolve(dialog.returnValue === "sim");
    }, { once: true });
  });
}

export { inteiro } from "./formato.js";
