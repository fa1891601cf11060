// The reader's live client. The page is complete without it; with it, the page follows
// the blog: it resumes from the offset the page was rendered at, applies each event once,
// in order, and never moves the text under a reader who has scrolled down.

import { enableAsking } from "./ask.js";
import { enablePush } from "./push.js";
import { drawBox } from "./box.js";
import { enablePolls, updateResults } from "./poll.js";
import { $, el } from "./dom.js";
import {
  label, localizeTimes, renderByline, renderEntry, summary, timeElement,
} from "./entry.js";
import { enableEmbeds } from "./embeds.js";
import { BLOG_STATUS, EVENT } from "./events.js";
import { filterParams, filtering, lets, pageFilter } from "./filter.js";
import { follow } from "./follow.js";
import { t, tn } from "./i18n.js";
import {
  enableHistory, enableSharing, resolveDeepLink, showFocus, sinceLastVisit,
} from "./reading.js";

const body = document.body;
const slug = body.dataset.blog;

if (slug) {
  const pushButton = document.querySelector("[data-push]");
  if (pushButton && !("archive" in body.dataset)) {
    enablePush(/** @type {HTMLButtonElement} */ (pushButton), slug);
  }
  const askForm = document.querySelector("[data-ask-form]");
  if (askForm) enableAsking(/** @type {HTMLFormElement} */ (askForm), slug);
  enablePolls(document);
  localizeTimes(document);
  enableEmbeds(document);
  setInterval(() => localizeTimes(document), 60_000);
  const onEntryPage = "entry" in body.dataset;
  if (onEntryPage || (!keepReadingOrder() && !resolveDeepLink(slug))) {
    const seen = onEntryPage || "archive" in body.dataset ? () => {} : sinceLastVisit(slug);
    if (!("archive" in body.dataset)) followBlog(seen);
    enableSharing((message) => ($("[data-announcer]").textContent = message));
    enableHistory();
    showFocus();
    enableOlder();
    reportHeight();
  }
}

/** @param {(publishedAt: string) => void} seen  told of each entry shown live */
function followBlog(seen) {
  const feed = $("[data-feed]");
  const pinnedArea = $("[data-pinned]");
  const keyList = $("[data-key-events]");
  const newButton = $("[data-new-updates]");
  const announcer = $("[data-announcer]");
  const baseTitle = document.title;
  let offset = Number(body.dataset.offset) || 0;
  let ended = body.dataset.status === BLOG_STATUS.ENDED;
  let upcoming = body.dataset.status === BLOG_STATUS.UPCOMING;
  let held = []; // new entries waiting behind the "N new updates" button, oldest first
  const oldestFirst = body.dataset.order === "oldest";
  const filter = pageFilter(body.dataset);
  let following = null;

  function setStatus(state) {
    body.dataset.connection = state;
    const text = {
      live: upcoming ? t("Starting soon") : t("Live"),
      reconnecting: t("Reconnecting…"), ended: t("Ended"), offline: t("Offline"),
    };
    $("[data-status-text]").textContent = text[state];
    $("[data-status-dot]").title = text[state];
  }

  function readerIsBelowTheTop() {
    return feed.getBoundingClientRect().top < 0;
  }

  function showHeld() {
    for (const article of held) feed.prepend(article);
    held = [];
    newButton.hidden = true;
    document.title = baseTitle;
  }

  function updateButton() {
    newButton.hidden = held.length === 0;
    newButton.textContent = tn("{n} new update", "{n} new updates", held.length);
    document.title = held.length ? `(${held.length}) ${baseTitle}` : baseTitle;
  }

  newButton.addEventListener("click", () => {
    showHeld();
    feed.scrollIntoView({ behavior: "smooth", block: "start" });
  });
  window.addEventListener("scroll", () => {
    if (held.length && !readerIsBelowTheTop()) showHeld();
  }, { passive: true });

  // Change the feed above the reader without moving what they are reading.
  function keepingPlace(change) {
    const anchor = [...feed.querySelectorAll(":scope > article")].find(
      (article) => article.getBoundingClientRect().bottom > 0,
    );
    const top = anchor?.getBoundingClientRect().top;
    change();
    if (anchor?.isConnected && top !== undefined && top < 0) {
      window.scrollBy(0, anchor.getBoundingClientRect().top - top);
    }
  }

  // An entry the filter now lets through, where it belongs among those shown (by its
  // published time); not at all if that is on a later page.
  function place(article, entry) {
    const at = Date.parse(entry.published_at);
    const comes = (other) => Date.parse(other.dataset.published);
    const next = [...feed.querySelectorAll(":scope > article")].find(
      (other) => (oldestFirst ? comes(other) > at : comes(other) < at),
    );
    $("[data-feed-empty]")?.remove();
    if (next) keepingPlace(() => next.before(article));
    else if (!$(oldestFirst ? "[data-newer]" : "[data-older]")) feed.append(article);
  }

  function upsertPinned(entry) {
    if (filtering(filter)) return; // a filtered page shows no pinned area
    const existing = document.getElementById(`pinned-${entry.id}`);
    if (entry.pinned) {
      const article = renderEntry(entry, { prefix: "pinned" });
      if (existing) existing.replaceWith(article);
      else pinnedArea.prepend(article);
    } else if (existing) {
      existing.remove();
    }
    pinnedArea.hidden = !pinnedArea.querySelector("article");
  }

  function upsertKeyEvent(entry) {
    const existing = keyList.querySelector(`li[data-id="${entry.id}"]`);
    if (entry.key_event) {
      const item = el("li");
      item.dataset.id = entry.id;
      const link = el("a");
      link.href = `#entry-${entry.id}`;
      link.append(timeElement(entry.published_at), " ", el("span", "key-title", summary(entry)));
      item.append(link);
      localizeTimes(item);
      if (existing) existing.replaceWith(item);
      else keyList.prepend(item);
    } else if (existing) {
      existing.remove();
    }
    $("[data-key-events-empty]").hidden = Boolean(keyList.querySelector("li"));
  }

  function created(entry) {
    if (document.getElementById(`entry-${entry.id}`) || held.some((a) => a.dataset.id == entry.id)) {
      return updated(entry); // already on the page (rendered after its event was logged)
    }
    upsertKeyEvent(entry); // the key events of the whole blog, whatever the filter
    if (!lets(filter, entry)) return;
    const article = renderEntry(entry);
    $("[data-feed-empty]")?.remove();
    if (oldestFirst) {
      // At the end, below what the reader is looking at; on a later page if there is one.
      if (!$("[data-newer]")) feed.append(article);
    } else if (readerIsBelowTheTop()) {
      held.push(article);
      updateButton();
    } else {
      feed.prepend(article);
    }
    upsertPinned(entry);
    seen(entry.published_at);
    announcer.textContent = t("New update: {summary}", { summary: summary(entry) });
  }

  function updated(entry) {
    const article = renderEntry(entry);
    const existing = document.getElementById(`entry-${entry.id}`);
    const isHeld = held.some((a) => a.dataset.id == entry.id);
    if (!lets(filter, entry)) { // edited out of what the page shows
      if (existing) keepingPlace(() => existing.remove());
      held = held.filter((a) => a.dataset.id != entry.id);
      updateButton();
    } else if (existing) {
      existing.replaceWith(article); // in place: edits never reorder
    } else if (isHeld) {
      held = held.map((a) => (a.dataset.id == entry.id ? article : a));
    } else {
      place(article, entry); // edited into what the page shows
    }
    upsertPinned(entry);
    upsertKeyEvent(entry);
  }

  function removed(id) {
    const nodes = document.querySelectorAll(`#entry-${id}, #pinned-${id}`);
    keepingPlace(() => nodes.forEach((node) => node.remove()));
    keyList.querySelector(`li[data-id="${id}"]`)?.remove();
    $("[data-key-events-empty]").hidden = Boolean(keyList.querySelector("li"));
    pinnedArea.hidden = !pinnedArea.querySelector("article");
    held = held.filter((a) => a.dataset.id != id);
    updateButton();
  }

  // A profile changed: every byline of it on the page (and held back) shows it so.
  function renamed(author) {
    const selector = `.byline[data-author="${Number(author.id)}"]`;
    for (const root of [document, ...held]) {
      for (const byline of root.querySelectorAll(selector)) {
        byline.replaceWith(renderByline(author, slug));
      }
    }
  }

  function showAudience(readers) {
    const audience = $("[data-audience]");
    audience.textContent = tn("{n} reading", "{n} reading", readers);
    audience.hidden = false;
  }

  function applyBlog(blog) {
    if (!blog.show_audience) $("[data-audience]").hidden = true;
    if (blog.language && blog.language !== document.documentElement.lang) {
      return location.reload(); // the page's words and layout are the blog's language's
    }
    $("[data-title]").textContent = blog.title;
    $("[data-description]").textContent = blog.description;
    const notice = $("[data-notice]");
    notice.textContent = blog.notice || "";
    notice.hidden = !blog.notice;
    drawBox($("[data-box]"), blog.box);
    const push = document.querySelector(".push");
    if (push) /** @type {HTMLElement} */ (push).hidden = blog.status === BLOG_STATUS.ENDED;
    const ask = $("[data-ask]");
    if (ask) ask.hidden = !blog.accepts_questions || blog.status === BLOG_STATUS.ENDED;
    const wasEnded = ended;
    ended = blog.status === BLOG_STATUS.ENDED;
    upcoming = blog.status === BLOG_STATUS.UPCOMING;
    body.dataset.status = blog.status;
    const startsNote = $("[data-starts]");
    startsNote.hidden = !upcoming;
    if (upcoming && blog.starts_at) {
      startsNote.textContent = t("This live blog starts at {time}.", { time: label(new Date(blog.starts_at)) });
    }
    if (!ended && body.dataset.connection) setStatus(body.dataset.connection);
    const endedNote = $("[data-ended]");
    endedNote.hidden = !ended;
    if (ended && blog.ended_at) {
      endedNote.textContent = t("This live blog has ended: last update {time}.", { time: label(new Date(blog.ended_at)) });
    }
    if (ended) {
      setStatus("ended");
      following?.stop();
    } else if (wasEnded) {
      start();
    }
  }

  function apply(event) {
    offset = event.offset;
    switch (event.type) {
      case EVENT.ENTRY_CREATED: return created(event.entry);
      case EVENT.ENTRY_UPDATED: return updated(event.entry);
      case EVENT.ENTRY_DELETED: return removed(event.entry_id);
      case EVENT.BLOG_UPDATED: return applyBlog(event.blog);
      case EVENT.AUTHOR_UPDATED: return renamed(event.author);
    }
  }

  // Our position is no good (the blog was restored from a backup): the page, from the
  // server, shows the blog as it is. A page that keeps being refused waits between tries.
  function startOver() {
    const key = "liveupdates.startedOver";
    const last = Number(sessionStorage.getItem(key)) || 0;
    sessionStorage.setItem(key, String(Date.now()));
    setTimeout(() => location.reload(), Date.now() - last < 10000 ? 5000 : 0);
  }

  function start() {
    following = follow({
      slug,
      offset,
      epoch: body.dataset.epoch,
      onEvent: apply,
      onReset: startOver,
      onHello: (hello) => hello.blog && applyBlog(hello.blog),
      onAudience: showAudience,
      onPolls: updateResults,
      onStatus: (state) => setStatus(ended ? "ended" : state),
      eventSourceFallback: true,
    });
  }

  if (ended) setStatus("ended");
  else start();
}

// The reading order is a link either way; the choice is remembered per browser, and the
// switch keeps the reader's place (the entry at the top of the window).
function keepReadingOrder() {
  const key = "liveupdates.order";
  for (const link of document.querySelectorAll("[data-order-choice]")) {
    link.addEventListener("click", (click) => {
      click.preventDefault();
      localStorage.setItem(key, link.dataset.orderChoice);
      const top = [...document.querySelectorAll("[data-feed] > article")].find(
        (article) => article.getBoundingClientRect().bottom > 0,
      );
      location.href = link.href + (top ? `#${top.id}` : "");
    });
  }
  const wanted = localStorage.getItem(key);
  const params = new URLSearchParams(location.search);
  if (wanted === "oldest" && !params.has("order") && !params.has("before")) {
    params.set("order", "oldest");
    location.replace(`?${params}${location.hash}`);
    return true;
  }
  return false;
}

// "Load older updates" works as a link without JavaScript; with it, older updates are
// added below without leaving the page.
function enableOlder() {
  const link = $("[data-older]");
  if (!link) return;
  link.addEventListener("click", async (click) => {
    click.preventDefault();
    const params = filterParams(pageFilter(body.dataset));
    params.set("limit", "20");
    params.set("before", link.dataset.older);
    const url = `/api/blogs/${encodeURIComponent(slug)}/entries?${params}`;
    const response = await fetch(url).catch(() => null);
    if (!response?.ok) return (location.href = link.href); // as without JavaScript
    const page = await response.json();
    const feed = $("[data-feed]");
    for (const entry of page.entries) {
      if (!document.getElementById(`entry-${entry.id}`)) feed.append(renderEntry(entry));
    }
    if (page.next) {
      link.dataset.older = page.next;
      params.set("before", page.next);
      params.delete("limit");
      link.href = `?${params}`;
    } else {
      link.parentElement.remove();
    }
  });
}

// Inside the embed's iframe, tell the host page how tall the blog is.
function reportHeight() {
  if (window.parent === window || !("ResizeObserver" in window)) return;
  new ResizeObserver(() => {
    window.parent.postMessage(
      { type: "liveupdates:height", height: document.documentElement.scrollHeight },
      "*",
    );
  }).observe(document.body);
}
