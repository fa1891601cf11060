// @ts-check
// Embeds with consent. The server turns a link to a video, a social post or a podcast
// into a placeholder (app/domain/embeds.py): the provider's name and the link, nothing loaded from
// the provider. Here the placeholder says what loading it means and offers a button; only
// when the reader presses it is the provider's frame (or audio) created, and a reader may
// allow a provider always (remembered in this browser).

import { el } from "./dom.js";
import { t } from "./i18n.js";

const ALWAYS = "liveupdates.embeds.allow."; // + provider

/** @param {string} provider */
const allowed = (provider) => localStorage.getItem(ALWAYS + provider) === "1";

/**
 * Placeholders under `root` get their notice and button, or load at once where the reader
 * always allows the provider.
 * @param {ParentNode} root
 */
export function enableEmbeds(root) {
  for (const node of root.querySelectorAll("figure.embed:not([data-ready])")) {
    const figure = /** @type {HTMLElement} */ (node);
    figure.dataset.ready = "";
    const provider = figure.dataset.provider || "";
    if (allowed(provider)) {
      load(figure);
      continue;
    }
    const name = figure.querySelector("figcaption")?.textContent || provider;
    const notice = el("p", "embed-notice",
      t("This shows content from {provider}. Loading it lets {provider} set cookies and see that you read this page.", { provider: name }));
    const show = /** @type {HTMLButtonElement} */ (el("button", "embed-show", t("Show {provider} content", { provider: name })));
    show.type = "button";
    const always = /** @type {HTMLInputElement} */ (el("input"));
    always.type = "checkbox";
    const label = el("label", "embed-always");
    label.append(always, " ", t("Always allow {provider}", { provider: name }));
    show.addEventListener("click", () => {
      if (always.checked) {
        localStorage.setItem(ALWAYS + provider, "1");
        // Every placeholder of this provider on the page loads now.
        for (const other of document.querySelectorAll(`figure.embed[data-provider="${CSS.escape(provider)}"]`)) {
          load(/** @type {HTMLElement} */ (other));
        }
      }
      load(figure);
    });
    const controls = el("div", "embed-controls");
    controls.append(show, label);
    figure.append(notice, controls);
  }
}

/** @param {HTMLElement} figure */
function load(figure) {
  if ("loaded" in figure.dataset) return;
  const src = figure.dataset.src || "";
  if (!src.startsWith("https://")) return;
  figure.dataset.loaded = "";
  for (const node of figure.querySelectorAll(".embed-notice, .embed-controls")) node.remove();
  const name = figure.querySelector("figcaption")?.textContent || "";
  if (figure.dataset.kind === "audio") {
    const audio = /** @type {HTMLAudioElement} */ (el("audio"));
    audio.controls = true;
    audio.preload = "none";
    audio.src = src;
    figure.prepend(audio);
    return;
  }
  const frame = /** @type {HTMLIFrameElement} */ (el("iframe"));
  frame.src = src;
  frame.title = name;
  frame.loading = "lazy";
  frame.referrerPolicy = "strict-origin-when-cross-origin";
  frame.allow = "encrypted-media; picture-in-picture; fullscreen";
  frame.setAttribute("sandbox", "allow-scripts allow-same-origin allow-popups allow-presentation");
  figure.prepend(frame);
}
