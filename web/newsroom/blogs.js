// The blog open in the newsroom: its entries and drafts from the API, then its events live.

import { $, el } from "../dom.js";
import { t, tn } from "../i18n.js";
import { EVENT, STATUS } from "../events.js";
import { follow } from "../follow.js";
import { api } from "./api.js";
import { showBox } from "./boxeditor.js";
import { followDesk, showQuestions } from "./questions.js";
import { restoreCompose } from "./compose.js";
import { removeCard, renderList, renderLists } from "./entries.js";
import { listed, renderQueue } from "./queue.js";
import { BLOG_KEY, isContributor, state } from "./state.js";

// --- blogs -----------------------------------------------------------------------------

// Fields of the settings form changed by hand and not saved yet (their ids): the form shown
// again (a colleague's change, or our own save coming back live) leaves them as typed.
const unsaved = new Set();

/** @param {string} id a settings field's id, edited by hand */
export function settingEdited(id) {
  unsaved.add(id);
}

export function settingsSaved() {
  unsaved.clear();
}

/** The open blog's settings, in the settings form (but for fields being edited). */
export function showBlogSettings() {
  if (!state.blog) return;
  const blog = state.blog;
  const shown = {
    "b-title": blog.title,
    "b-description": blog.description,
    "b-notice": blog.notice || "",
    "b-status": blog.status,
    "b-starts": blog.starts_at ? localInput(new Date(blog.starts_at)) : "",
    "b-language": blog.language,
    "b-show-audience": Boolean(blog.show_audience),
    "b-accepts-questions": Boolean(blog.accepts_questions),
  };
  for (const [id, value] of Object.entries(shown)) {
    if (unsaved.has(id)) continue;
    const field = $(`#${id}`);
    if (typeof value === "boolean") field.checked = value;
    else field.value = value;
  }
}

/** The open blog as the server now has it: its settings and its name in the picker. */
export function blogChanged(blog) {
  state.blog = blog;
  state.blogs = state.blogs.map((b) => (b.slug === blog.slug ? blog : b));
  showBlogSettings();
  showPicker();
}

/** The blog picker, from `state.blogs`. */
export function showPicker() {
  $("#blog-select").replaceChildren(
    ...state.blogs.map((b) => {
      const option = el("option", "", b.status === "ended" ? t("{title} (ended)", { title: b.title }) : b.title);
      option.value = b.slug;
      return option;
    }),
  );
  if (state.slug) $("#blog-select").value = state.slug;
}

/** A moment as a datetime-local input's value, in this browser's zone. @param {Date} moment */
export function localInput(moment) {
  const local = new Date(moment.getTime() - moment.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 16);
}

export async function loadBlogs(select) {
  const answer = await api("GET", "/api/blogs");
  state.blogs = answer.data.blogs;
  showPicker();
  const picker = $("#blog-select");
  const wanted = select || localStorage.getItem(BLOG_KEY);
  const slug = state.blogs.some((b) => b.slug === wanted) ? wanted : state.blogs[0]?.slug;
  if (slug) {
    picker.value = slug;
    await openBlog(slug);
  }
}

export async function openBlog(slug) {
  state.slug = slug;
  localStorage.setItem(BLOG_KEY, slug);
  $("#reader-link").href = `/blogs/${encodeURIComponent(slug)}`;
  restoreCompose();
  state.entries.clear();
  state.drafts.clear();
  state.queue.clear();
  // The blog (and its offset) first: entries read after it are at least as new, and the
  // socket replays from that offset, so nothing falls between the two.
  const blog = await api("GET", `/api/blogs/${slug}`);
  state.blog = blog.data;
  state.offset = blog.data.offset;
  state.epoch = blog.data.epoch;
  settingsSaved(); // edits of another blog's settings are not this one's
  showBlogSettings();
  showBox();
  const [published, drafts, scheduled, submitted, returned] = await Promise.all(
    [STATUS.PUBLISHED, STATUS.DRAFT, STATUS.SCHEDULED, STATUS.SUBMITTED, STATUS.RETURNED]
      .map(async (status) => (await listed(status)) || []),
  );
  for (const e of published) state.entries.set(e.id, e);
  for (const e of [...drafts, ...scheduled]) state.drafts.set(e.id, e);
  for (const e of [...submitted, ...returned]) state.queue.set(e.id, e);
  renderLists();
  connect();
  if (!isContributor()) followDesk();
  refreshAudience();
}

export const AUDIENCE_SECONDS = 5;

/** How many read the open blog now (counted by the server; this costs it no query). */
export async function refreshAudience() {
  if (!state.slug || !state.token) return;
  const slug = state.slug;
  const answer = await api("GET", `/api/blogs/${slug}/audience`).catch(() => null);
  if (!answer || answer.status !== 200 || slug !== state.slug) return;
  $("#audience").textContent = tn("{n} reading", "{n} reading", answer.data.readers);
}

export async function refreshDrafts() {
  if (isContributor()) return; // drafts are editors' and reporters'
  const [drafts, scheduled] = await Promise.all([listed(STATUS.DRAFT), listed(STATUS.SCHEDULED)]);
  if (!drafts || !scheduled) return; // the next round will tell
  state.drafts.clear();
  for (const e of [...drafts, ...scheduled]) state.drafts.set(e.id, e);
  renderList($("#drafts"), state.drafts, t("No drafts."));
}

// --- live ------------------------------------------------------------------------------

export function setConnection(label) {
  const badge = $("#connection");
  badge.dataset.state = label;
  badge.textContent = { live: t("live"), reconnecting: t("reconnecting"), offline: t("offline") }[label] || label;
}

export function connect() {
  state.following?.stop();
  const slug = state.slug;
  state.following = follow({
    slug,
    offset: state.offset,
    epoch: state.epoch,
    inAudience: false, // the newsroom watching is not an audience
    onEvent: (event) => {
      state.offset = event.offset;
      apply(event);
    },
    onStatus: setConnection,
    onReset: () => openBlog(slug), // the blog was reset behind us: start again from the API
  });
}

export function apply(event) {
  if (event.type === EVENT.ENTRY_CREATED || event.type === EVENT.ENTRY_UPDATED) {
    const entry = event.entry;
    const known = state.entries.get(entry.id);
    if (known && known.version > entry.version) return;
    state.entries.set(entry.id, entry);
    renderList($("#entries"), state.entries, t("Nothing published yet."));
    // A draft, a scheduled entry or an approved submission went out.
    if (state.drafts.delete(entry.id)) removeCard($("#drafts"), entry.id, state.drafts, t("No drafts."));
    if (state.queue.delete(entry.id)) renderQueue();
  } else if (event.type === EVENT.ENTRY_DELETED) {
    state.entries.delete(event.entry_id);
    removeCard($("#entries"), event.entry_id, state.entries, t("Nothing published yet."));
  } else if (event.type === EVENT.AUTHOR_UPDATED) {
    // A profile changed: the cards bylined with it show it so.
    const author = event.author;
    for (const map of [state.entries, state.drafts, state.queue]) {
      for (const entry of map.values()) {
        entry.authors = (entry.authors || []).map((a) => (a.id === author.id ? author : a));
      }
    }
    renderList($("#entries"), state.entries, t("Nothing published yet."));
    if (state.drafts.size) renderList($("#drafts"), state.drafts, t("No drafts."));
    renderQueue();
  } else if (event.type === EVENT.BLOG_UPDATED) {
    blogChanged(event.blog);
    showBox();
    showQuestions();
  }
}
