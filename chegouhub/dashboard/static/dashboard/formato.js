// How the dashboard writes numbers, words and times for a Brazilian merchant: pt-BR digits
// (1.234; 6,8), singular or plural, and every time in America/Sao_Paulo with the zone marked, so a
// page never mixes the browser's zone with unmarked UTC.
export const FUSO = "America/Sao_Paulo";

const INTEIRO = new Intl.NumberFormat("pt-BR");
const DECIMAL = new Intl.NumberFormat("pt-BR", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const DATA_HORA = new Intl.DateTimeFormat("pt-BR", { timeZone: FUSO, dateStyle: "short", timeStyle: "medium" });
const HORA = new Intl.DateTimeFormat("pt-BR", { timeZone: FUSO, hour: "2-digit", minute: "2-digit", second: "2-digit" });

// Integers: 1.234, −5 (the typographic minus, as the movements show it).
export const inteiro = (n) => INTEIRO.format(n).replace("-", "−");
export const decimal = (n) => DECIMAL.format(n).replace("-", "−");

// "1 variante", "2 variantes"; `plural` for the irregular ones ("ocorrência"/"ocorrências" is regular).
export function contagem(n, singular, plural = `${singular}s`) {
  return `${inteiro(n)} ${Number(n) === 1 ? singular : plural}`;
}

// Date and time in Brasília's zone, marked: "08/12/2026, 14:03:09 (horário de Brasília)".
export function dataHora(iso) {
  return iso ? `${DATA_HORA.format(new Date(iso))} (horário de Brasília)` : "—";
}

// Only the time, for the live feed; the section's heading names the zone.
export function hora(iso) {
  return HORA.format(iso ? new Date(iso) : new Date());
}

// A delay for people: "850 ms", "6,8 s".
export const duracao = (ms) => ms == null ? "—" : (ms < 1000 ? `${inteiro(ms)} ms` : `${decimal(ms / 1000)} s`);
