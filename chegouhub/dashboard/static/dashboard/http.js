// The dashboard's one way to call the API: JSON in and out, the session's CSRF token on unsafe
// requests, and never a throw: a network failure answers {ok: false, status: 0}.

export function csrfToken() {
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  if (input) return input.value;
  const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

export async function api(method, url, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  let resp;
  try {
    resp = await fetch(url, { method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (_) {
    return { ok: false, status: 0, data: null };
  }
  let data = null;
  try { data = await resp.json(); } catch (_) { /* empty or not JSON */ }
  return { ok: resp.ok, status: resp.status, data };
}
