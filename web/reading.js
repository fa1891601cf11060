// @ts-check
// Reading a live blog one update at a time: deep links to any entry, sharing one, and what
// is new since the reader's last visit.

import { $, el } from "./dom.js";
import { localizeTimes } from "./entry.js";
import { t, tn } from "./i18n.js";

/**
 * `#entry-N` of an entry not on this page (an older one): open the entry's own page, which
 * shows it among its neighbours and follows the blog live. True when it navigates away.
 * @param {string} slug
 */
export function resolveDeepLink(slug) {
  const found = /^#entry-(\d+)$/.exec(location.hash);
  if (!found || document.getElementById(`entry-${found[1]}`)) return false;
  location.replace(`/blogs/${encodeURIComponent(slug)}/entries/${found[1]}#entry-${found[1]}`);
  return true;
}

/** On an entry's own page, bring the entry into view (a shared link has no #fragment). */
export function showFocus() {
  const focus = document.querySelector(".entry.focus");
  if (focus && !location.hash) focus.scrollIntoView({ block: "center" });
}

/**
 * Share buttons: the Web Share API where the browser has one, else the link is copied and
 * the button says so.
 * @param {(message: string) => void} announce  for screen readers
 */
export function enableSharing(announce) {
  for (const button of document.querySelectorAll("[data-share]")) {
    /** @type {HTMLElement} */ (button).hidden = false;
  }
  document.addEventListener("click", async (click) => {
    const target = /** @type {Element} */ (click.target);
    const button = /** @type {HTMLButtonElement | null} */ (target.closest?.("[data-share]"));
    if (!button) return;
    const article = button.closest("article");
    const link = article?.querySelector(".permalink")?.getAttribute("href");
    if (!article || !link) return;
    const url = new URL(link, location.href).href;
    const title = article.querySelector(".headline")?.textContent || document.title;
    if (navigator.share) {
      try {
        await navigator.share({ title, url });
        return;
      } catch (error) {
        if (/** @type {Error} */ (error).name === "AbortError") return;
      }
    }
    let said = t("Link copied");
    try {
      // Bounded: a browser may leave the promise pending (no focus, no permission).
      await Promise.race([
        navigator.clipboard.writeText(url),
        new Promise((_, fail) => setTimeout(() => fail(new Error("no clipboard")), 1500)),
      ]);
    } catch {
      said = url; // no clipboard: show the link itself, to copy by hand
    }
    const label = button.textContent;
    button.textContent = said;
    announce(said === url ? t("Link: {url}", { url }) : t("Link to this update copied"));
    setTimeout(() => (button.textContent = label), 2500);
  });
}

/** @param {Element} article */
function publishedAt(article) {
  const time = article.querySelector(".permalink time");
  return Date.parse(time?.getAttribute("datetime") || "") || 0;
}

/**
 * Marks the entries published since the reader last had this blog open, says how many, and
 * offers a jump to the oldest of them. Returns a function to call with each entry shown
 * live, so that the next visit counts from there.
 * @param {string} slug
 */
export function sinceLastVisit(slug) {
  const key = `liveupdates.seen.${slug}`;
  const articles = [...document.querySelectorAll("[data-feed] > article")];
  let newest = Math.max(0, ...articles.map(publishedAt));
  const before = Number(localStorage.getItem(key)) || 0;
  if (before) {
    const fresh = articles.filter((article) => publishedAt(article) > before);
    for (const article of fresh) article.classList.add("unseen");
    if (fresh.length) {
      const bar = el("div", "since-visit");
      bar.setAttribute("role", "status");
      const count = fresh.length;
      const jump = el("button", "", t("Start with the first"));
      /** @type {HTMLButtonElement} */ (jump).type = "button";
      jump.addEventListener("click", () => {
        const oldest = fresh[fresh.length - 1];
        oldest.scrollIntoView({ block: "center" });
        /** @type {HTMLElement} */ (oldest).focus?.();
      });
      bar.append(
        el("span", "", tn("{n} update since your last visit", "{n} updates since your last visit", count)),
        " ",
        jump,
      );
      $("[data-feed]").before(bar);
    }
  }
  localStorage.setItem(key, String(newest));
  /** @param {string} iso */
  return (iso) => {
    newest = Math.max(newest, Date.parse(iso) || 0);
    localStorage.setItem(key, String(newest));
  };
}

/**
 * "Earlier versions" of an edited entry: a link to the entry's page (#history) without
 * JavaScript; with it, the versions open in place, under the entry, and close again.
 */
export function enableHistory() {
  document.addEventListener("click", async (click) => {
    const target = /** @type {Element} */ (click.target);
    const link = /** @type {HTMLAnchorElement | null} */ (target.closest?.("[data-history]"));
    const article = link?.closest("article");
    if (!link || !article) return;
    click.preventDefault();
    const open = article.querySelector(":scope > .history");
    if (open) {
      open.remove();
      link.setAttribute("aria-expanded", "false");
      return;
    }
    const page = new URL(link.href, location.href);
    // Not answered (offline, or failing): the link itself, as without JavaScript.
    const response = await fetch(`${page.pathname}/history`).catch(() => null);
    if (!response?.ok) return (location.href = link.href);
    // The server's own rendering: entry HTML it sanitised, the rest escaped.
    const holder = el("div");
    holder.innerHTML = await response.text();
    const section = holder.querySelector("section.history");
    if (!section) return;
    section.removeAttribute("id");
    article.append(section);
    link.setAttribute("aria-expanded", "true");
    localizeTimes(section);
    /** @type {HTMLElement} */ (section).focus?.();
  });
}
