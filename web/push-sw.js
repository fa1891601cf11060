// @ts-check
// The Web Push service worker (served at /push-sw.js, so its scope is every page): shows
// what the server sends — a blog's key events and its end, `{title, body, url, tag}` — and
// opens (or brings forward) the page of the one a reader clicks.
/// <reference lib="webworker" />

const worker = /** @type {ServiceWorkerGlobalScope} */ (/** @type {unknown} */ (self));

worker.addEventListener("push", (event) => {
  /** @type {{title?: string, body?: string, url?: string, tag?: string} | null} */
  let message = null;
  try {
    message = event.data ? event.data.json() : null;
  } catch {
    return; // not ours
  }
  if (!message || !message.title) return;
  event.waitUntil(
    worker.registration.showNotification(message.title, {
      body: message.body || "",
      tag: message.tag,
      data: { url: message.url || "/" },
    }),
  );
});

worker.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL(event.notification.data?.url || "/", worker.location.origin).href;
  event.waitUntil(
    (async () => {
      const open = await worker.clients.matchAll({ type: "window", includeUncontrolled: true });
      const page = open.find((client) => client.url === url);
      if (page) return page.focus();
      return worker.clients.openWindow(url);
    })(),
  );
});
