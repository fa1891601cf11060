// @ts-check
// "Alert me to key events": a reader opts in to a blog's notifications (Web Push). The
// browser subscribes with the server's VAPID key; the server keeps the subscription and
// sends key events and the blog's end to it (web/push-sw.js shows them). Browsers without
// push, or a blog that has ended, show no button.

import { t } from "./i18n.js";

const WORKER = "/push-sw.js";
/** @param {string} slug */
const remembered = (slug) => `liveupdates.push.${slug}`;

/** @param {string} text base64url */
function bytes(text) {
  const plain = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(plain, (c) => c.charCodeAt(0));
}

/**
 * @param {HTMLButtonElement} button
 * @param {string} slug
 */
export function enablePush(button, slug) {
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    return;
  }
  const status = /** @type {HTMLElement | null} */ (button.nextElementSibling);
  let on = localStorage.getItem(remembered(slug)) === "1";
  const show = () => {
    button.textContent = on ? t("Stop alerts") : t("Alert me to key events");
    button.setAttribute("aria-pressed", String(on));
  };
  const say = (/** @type {string} */ text) => {
    if (status) status.textContent = text;
  };
  button.hidden = false;
  show();
  button.addEventListener("click", async () => {
    button.disabled = true;
    say("");
    try {
      if (on) await stop();
      else await start();
    } catch {
      say(t("Alerts could not be set up in this browser."));
    } finally {
      button.disabled = false;
      show();
    }
  });

  async function start() {
    if ((await Notification.requestPermission()) !== "granted") {
      say(t("Alerts need your browser's permission to show notifications."));
      return;
    }
    const registration = await navigator.serviceWorker.register(WORKER);
    const key = await (await fetch("/api/push/key")).json();
    const subscription = await registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: bytes(key.public_key),
    });
    const answer = await fetch(`/api/blogs/${encodeURIComponent(slug)}/push`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(subscription.toJSON()),
    });
    if (!answer.ok) throw new Error(`subscribing: ${answer.status}`);
    on = true;
    localStorage.setItem(remembered(slug), "1");
    say(t("You will be alerted to key events."));
  }

  async function stop() {
    const registration = await navigator.serviceWorker.getRegistration(WORKER);
    const subscription = await registration?.pushManager.getSubscription();
    if (subscription) {
      // The browser keeps its subscription: other blogs' alerts may use it.
      await fetch(`/api/blogs/${encodeURIComponent(slug)}/push`, {
        method: "DELETE",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ endpoint: subscription.endpoint }),
      });
    }
    on = false;
    localStorage.removeItem(remembered(slug));
    say(t("Alerts are off."));
  }
}
