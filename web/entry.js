// @ts-check
// An entry as readers and the newsroom see it: the same markup as the server's
// app/site/templates/_entry.html. `entry.html` is sanitised by the server; everything else goes
// in as text. Times arrive in UTC and are shown in the reader's own zone, relative while
// recent, in the page's language (i18n.js).

import { el } from "./dom.js";
import { enableEmbeds } from "./embeds.js";
import { SUMMARY_LENGTH } from "./events.js";
import { formats, parts, t } from "./i18n.js";
import { renderPoll } from "./poll.js";

/** @param {Date} date */
export function label(date) {
  const minutes = Math.round((Date.now() - date.getTime()) / 60000);
  if (minutes >= 0 && minutes < 60) {
    return minutes < 1 ? formats.relative.format(0, "second") : formats.relative.format(-minutes, "minute");
  }
  const today = new Date().toDateString() === date.toDateString();
  return formats.time.format(date) + (today ? "" : " " + formats.day.format(date));
}

/** @param {ParentNode} root */
export function localizeTimes(root) {
  for (const time of root.querySelectorAll("time[data-time]")) {
    const date = new Date(time.getAttribute("datetime") || "");
    if (Number.isNaN(date.getTime())) continue;
    time.textContent = time.classList.contains("updated-time")
      ? formats.time.format(date)
      : label(date);
    /** @type {HTMLElement} */ (time).title = formats.full.format(date);
  }
}

/**
 * @param {string} iso
 * @param {string} [className]
 */
export function timeElement(iso, className) {
  const time = /** @type {HTMLTimeElement} */ (el("time", className));
  time.dateTime = iso;
  time.dataset.time = "";
  return time;
}

/**
 * @typedef {{id: number, blog: string, headline: string | null, html: string,
 *   author: string, key_event: boolean, pinned: boolean, published_at: string,
 *   updated_at: string | null, version: number, status?: string,
 *   publish_at?: string | null, corrections?: Correction[], tags?: string[],
 *   authors?: Author[]}} Entry
 * @typedef {{id: number, name: string, role: string, photo_url: string | null,
 *   url: string | null}} Author
 * @typedef {{note: string, at: string, version: number}} Correction
 */

/**
 * @param {Entry} entry
 * @param {{prefix?: string, at?: string, link?: string, share?: boolean, voting?: boolean}} [options]
 *   `at`: the time shown (published, or when a scheduled entry goes out); `link`: where the
 *   time links to (the entry's own page); `share`: a share button (reading.js).
 */
export function renderEntry(entry, options = {}) {
  const {
    prefix = "entry",
    at = entry.published_at,
    link = `/blogs/${encodeURIComponent(entry.blog)}/entries/${entry.id}`,
    share = true,
  } = options;
  const article = el(
    "article",
    "entry" + (entry.key_event ? " key-event" : "") + (entry.pinned ? " pinned" : ""),
  );
  article.id = `${prefix}-${entry.id}`;
  article.dataset.id = String(entry.id);
  article.dataset.version = String(entry.version);
  article.dataset.published = entry.published_at;
  const meta = el("header", "entry-meta");
  const permalink = /** @type {HTMLAnchorElement} */ (el("a", "permalink"));
  permalink.href = link;
  permalink.title = t("Link to this update");
  permalink.append(timeElement(at));
  meta.append(permalink);
  if (entry.key_event) meta.append(el("span", "badge key", t("Key event")));
  if (entry.pinned) meta.append(el("span", "badge pin", t("Pinned")));
  article.append(meta);
  if (entry.headline) article.append(el("h2", "headline", entry.headline));
  const content = el("div", "body");
  content.innerHTML = entry.html;
  enableEmbeds(content);
  article.append(content);
  if (entry.poll) article.append(renderPoll(entry, options.voting ?? true));
  if (entry.tags?.length) article.append(tagList(entry));
  const foot = el("footer", "entry-foot");
  if (entry.authors?.length) {
    const names = el("span", "bylines");
    names.append(...entry.authors.map((author) => renderByline(author, entry.blog)));
    foot.append(names);
  } else {
    foot.append(el("bdi", "author", entry.author));
  }
  if (entry.updated_at) {
    const updated = el("span", "updated");
    updated.append(...parts(t("Updated {time}"), { time: timeElement(entry.updated_at, "updated-time") }));
    foot.append(updated);
    const history = /** @type {HTMLAnchorElement} */ (el("a", "history-link", t("Earlier versions")));
    history.href = `${link}#history`;
    history.dataset.history = "";
    foot.append(history);
  }
  if (share) {
    const button = /** @type {HTMLButtonElement} */ (el("button", "share", t("Share")));
    button.type = "button";
    button.dataset.share = "";
    foot.append(button);
  }
  article.append(foot);
  if (entry.corrections?.length) article.append(corrections(entry.corrections));
  localizeTimes(article);
  return article;
}

/**
 * One author of an entry, as app/site/templates/_byline.html draws it: photo, name (a link
 * to their entries in the blog), role, a link to their profile.
 * @param {Author} author
 * @param {string} slug
 */
export function renderByline(author, slug) {
  const byline = el("span", "byline");
  byline.dataset.author = String(author.id);
  if (author.photo_url) {
    const photo = /** @type {HTMLImageElement} */ (el("img", "byline-photo"));
    photo.src = author.photo_url;
    photo.alt = "";
    photo.width = photo.height = 32;
    photo.loading = "lazy";
    byline.append(photo);
  }
  const name = /** @type {HTMLAnchorElement} */ (el("a", "byline-name"));
  name.href = `/blogs/${encodeURIComponent(slug)}?author=${author.id}`;
  name.append(el("bdi", "", author.name));
  byline.append(name);
  if (author.role) byline.append(" ", el("span", "byline-role", author.role));
  if (author.url && /^https?:\/\//.test(author.url)) {
    const profile = /** @type {HTMLAnchorElement} */ (el("a", "byline-profile", t("Profile")));
    profile.href = author.url;
    profile.rel = "author";
    byline.append(" ", profile);
  }
  return byline;
}

/**
 * An entry's tags, each a link to the blog's page filtered by it. @param {Entry} entry
 */
function tagList(entry) {
  const list = el("ul", "tags");
  list.setAttribute("aria-label", t("Tags"));
  for (const tag of entry.tags ?? []) {
    const link = /** @type {HTMLAnchorElement} */ (el("a", "", `#${tag}`));
    link.href = `/blogs/${encodeURIComponent(entry.blog)}?tag=${encodeURIComponent(tag)}`;
    link.rel = "tag";
    const item = el("li");
    item.append(link);
    list.append(item);
  }
  return list;
}

/**
 * The notes of an entry's corrections, oldest first: what readers must see of an edit.
 * @param {Correction[]} list
 */
function corrections(list) {
  const box = el("aside", "corrections");
  for (const correction of list) {
    const line = el("p", "correction");
    line.append(el("strong", "", t("Correction:")), " ", el("span", "", correction.note), " ");
    line.append(timeElement(correction.at, "updated-time"));
    box.append(line);
  }
  return box;
}

/**
 * A line of text for an entry: its headline, or the start of its text, cut as the server
 * cuts it (app/site/metadata.py: summary). @param {Entry} entry
 */
export function summary(entry) {
  if (entry.headline) return entry.headline;
  const text = document.createElement("template"); // parsed inert: no image loads
  text.innerHTML = entry.html;
  const plain = (text.content.textContent || "").replace(/\s+/g, " ").trim();
  if (plain.length <= SUMMARY_LENGTH) return plain;
  return plain.slice(0, SUMMARY_LENGTH - 1).trimEnd() + "…";
}
