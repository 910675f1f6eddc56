// ChegouHub's service worker, served at /sw.js (root scope): shows Web Push notifications and
// opens the dashboard on the produto or loja a notification is about.
// Payload (CONTRACT section 11): {"type","title","body","url","id","tag"}.

"use strict";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

function notificationFrom(data) {
  const url = typeof data.url === "string" && data.url.startsWith("/") ? data.url : "/";
  return {
    title: data.title || "ChegouHub",
    options: {
      body: data.body || "",
      tag: data.tag || data.type || "chegouhub",
      renotify: Boolean(data.tag),
      icon: "/painel/static/icon-192.png",
      badge: "/painel/static/icon-192.png",
      lang: "pt-BR",
      data: { url, id: data.id ?? null, type: data.type || "" },
    },
  };
}

self.addEventListener("push", (event) => {
  let data = {};
  try { data = event.data ? event.data.json() : {}; } catch (_) { data = { body: event.data.text() }; }
  const { title, options } = notificationFrom(data);
  event.waitUntil(self.registration.showNotification(title, options));
});

// What a click does: focus an open dashboard tab (taken to the notification's page), or open one.
async function abrirNotificacao(notification) {
  const target = new URL((notification.data && notification.data.url) || "/", self.location.origin).href;
  notification.close();
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const open = windows.find((c) => new URL(c.url).origin === self.location.origin);
  if (open) {
    try {
      const client = open.url === target ? open : (await open.navigate(target)) || open;
      try { await client.focus(); } catch (_) { /* focus needs the click's user activation */ }
      return client;
    } catch (_) {
      // A tab this worker does not control yet cannot be navigated: open a new one.
    }
  }
  return self.clients.openWindow(target);
}

self.addEventListener("notificationclick", (event) => {
  event.waitUntil(abrirNotificacao(event.notification));
});
