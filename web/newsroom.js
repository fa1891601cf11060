// The newsroom: compose, curate and manage live blogs through the REST API.
//
// Built for bad connections: every post goes through an outbox kept in localStorage with
// its own Idempotency-Key, and is retried until the server answers, so a post is never
// lost and never doubled; what is being typed survives a reload.

import { $, button, el } from "./dom.js";
import { renderEntry } from "./entry.js";
import { EVENT } from "./events.js";
import { follow } from "./follow.js";

const TOKEN_KEY = "liveupdates.token";
const OUTBOX_KEY = "liveupdates.outbox";
const BLOG_KEY = "liveupdates.blog";
const composeKey = (slug) => `liveupdates.compose.${slug}`;

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  me: null,
  blogs: [],
  slug: null,
  blog: null,
  entries: new Map(), // id -> entry, published ones
  drafts: new Map(), // id -> entry, drafts and scheduled ones
  offset: 0,
  following: null, // the blog's events, from follow.js
};

class NetworkError extends Error {}

// One call to the API. Answers {status, data}; throws NetworkError when nothing came back.
async function api(method, path, { json, form, headers = {} } = {}) {
  const init = { method, headers: { Authorization: `Bearer ${state.token}`, ...headers } };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.body = form;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new NetworkError(String(error));
  }
  const text = await response.text().catch(() => "");
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text.slice(0, 200) };
  }
  return { status: response.status, data, headers: response.headers };
}

function detail(answer) {
  const d = answer.data && answer.data.detail;
  if (Array.isArray(d)) return d.map((p) => `${(p.loc || []).slice(-1)[0]}: ${p.msg}`).join("; ");
  return d || `error ${answer.status}`;
}

// --- signing in ------------------------------------------------------------------------

async function signIn(token) {
  state.token = token;
  let answer;
  try {
    answer = await api("GET", "/api/me");
  } catch {
    $("#sign-in-error").textContent = "The server cannot be reached; try again.";
    return false;
  }
  if (answer.status !== 200) {
    state.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    $("#sign-in-error").textContent = "That token is unknown or revoked.";
    return false;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  state.me = answer.data;
  $("#who").textContent = `${state.me.name} · ${state.me.role}`;
  $("#sign-in").hidden = true;
  $("#sign-out").hidden = false;
  $("#desk").hidden = false;
  $("#admin").hidden = state.me.role !== "admin";
  await loadBlogs();
  flushOutbox();
  if (state.me.role === "admin") loadTokens();
  return true;
}

function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  location.reload();
}

// --- blogs -----------------------------------------------------------------------------

async function loadBlogs(select) {
  const answer = await api("GET", "/api/blogs");
  state.blogs = answer.data.blogs;
  const picker = $("#blog-select");
  picker.replaceChildren(
    ...state.blogs.map((b) => {
      const option = el("option", "", b.status === "ended" ? `${b.title} (ended)` : b.title);
      option.value = b.slug;
      return option;
    }),
  );
  const wanted = select || localStorage.getItem(BLOG_KEY);
  const slug = state.blogs.some((b) => b.slug === wanted) ? wanted : state.blogs[0]?.slug;
  if (slug) {
    picker.value = slug;
    await openBlog(slug);
  }
}

async function openBlog(slug) {
  state.slug = slug;
  localStorage.setItem(BLOG_KEY, slug);
  $("#reader-link").href = `/blogs/${encodeURIComponent(slug)}`;
  restoreCompose();
  state.entries.clear();
  state.drafts.clear();
  // The blog (and its offset) first: entries read after it are at least as new, and the
  // socket replays from that offset, so nothing falls between the two.
  const blog = await api("GET", `/api/blogs/${slug}`);
  state.blog = blog.data;
  state.offset = blog.data.offset;
  showBlogSettings();
  const base = `/api/blogs/${slug}/entries?limit=100`;
  const [published, drafts, scheduled] = await Promise.all([
    api("GET", base),
    api("GET", `${base}&status=draft`),
    api("GET", `${base}&status=scheduled`),
  ]);
  for (const e of published.data.entries) state.entries.set(e.id, e);
  for (const e of [...drafts.data.entries, ...scheduled.data.entries]) state.drafts.set(e.id, e);
  renderLists();
  connect();
}

async function refreshDrafts() {
  const base = `/api/blogs/${state.slug}/entries?limit=100`;
  const [drafts, scheduled] = await Promise.all([
    api("GET", `${base}&status=draft`),
    api("GET", `${base}&status=scheduled`),
  ]);
  state.drafts.clear();
  for (const e of [...drafts.data.entries, ...scheduled.data.entries]) state.drafts.set(e.id, e);
  renderList($("#drafts"), state.drafts, "No drafts.");
}

// --- live ------------------------------------------------------------------------------

function setConnection(label) {
  const badge = $("#connection");
  badge.dataset.state = label;
  badge.textContent = label;
}

function connect() {
  state.following?.stop();
  const slug = state.slug;
  state.following = follow({
    slug,
    offset: state.offset,
    onEvent: (event) => {
      state.offset = event.offset;
      apply(event);
    },
    onStatus: setConnection,
    onReset: () => openBlog(slug), // the blog was reset behind us: start again from the API
  });
}

function apply(event) {
  if (event.type === EVENT.ENTRY_CREATED || event.type === EVENT.ENTRY_UPDATED) {
    const entry = event.entry;
    const known = state.entries.get(entry.id);
    if (known && known.version > entry.version) return;
    state.entries.set(entry.id, entry);
    state.drafts.delete(entry.id); // a draft or scheduled entry went out
    renderList($("#entries"), state.entries, "Nothing published yet.");
    removeCard($("#drafts"), entry.id, state.drafts, "No drafts.");
  } else if (event.type === EVENT.ENTRY_DELETED) {
    state.entries.delete(event.entry_id);
    removeCard($("#entries"), event.entry_id, state.entries, "Nothing published yet.");
  } else if (event.type === EVENT.BLOG_UPDATED) {
    state.blog = event.blog;
    showBlogSettings();
  }
}

// --- entries ---------------------------------------------------------------------------

function newestFirst(map) {
  return [...map.values()].sort(
    (a, b) => (b.pinned - a.pinned) || b.published_at.localeCompare(a.published_at) || b.id - a.id,
  );
}

function renderLists() {
  renderList($("#entries"), state.entries, "Nothing published yet.");
  renderList($("#drafts"), state.drafts, "No drafts.");
}

function renderList(container, map, empty) {
  // A card being edited stays as it is; what changed under it shows when it is saved.
  const editing = new Map(
    [...container.querySelectorAll(".entry.editing")].map((node) => [node.dataset.id, node]),
  );
  const cards = newestFirst(map).map((entry) => editing.get(String(entry.id)) || card(entry));
  container.replaceChildren(...(cards.length ? cards : [el("p", "empty", empty)]));
}

function removeCard(container, id, map, empty) {
  const existing = container.querySelector(`[data-id="${id}"]`);
  if (existing) existing.remove();
  if (!map.size) container.replaceChildren(el("p", "empty", empty));
}

// The entry as readers see it (entry.js), with what the newsroom does to it.
function card(entry) {
  const when = entry.status === "scheduled" ? entry.publish_at : entry.published_at;
  const link = `/blogs/${encodeURIComponent(entry.blog)}#entry-${entry.id}`;
  const article = renderEntry(entry, { prefix: "card", at: when, link });
  if (entry.status !== "published") {
    article.querySelector(".entry-meta").append(el("span", `badge ${entry.status}`, entry.status));
  }
  const actions = el("div", "actions");
  if (entry.status !== "published") {
    actions.append(button("Publish now", () => change(entry, { status: "published" }), "primary"));
  }
  actions.append(
    button("Edit", () => edit(article, entry)),
    button(entry.pinned ? "Unpin" : "Pin", () => change(entry, { pinned: !entry.pinned })),
    button(entry.key_event ? "Not a key event" : "Key event", () =>
      change(entry, { key_event: !entry.key_event }),
    ),
    button("Delete", () => remove(entry)),
  );
  article.append(actions);
  return article;
}

function track(entry) {
  const map = entry.status === "published" ? state.entries : state.drafts;
  (map === state.entries ? state.drafts : state.entries).delete(entry.id);
  const known = map.get(entry.id);
  if (!known || known.version <= entry.version) map.set(entry.id, entry);
  renderLists();
}

function say(message) {
  const note = $("#c-upload");
  note.textContent = message;
}

async function change(entry, fields) {
  const answer = await api("PATCH", `/api/blogs/${state.slug}/entries/${entry.id}`, {
    json: fields,
    headers: { "If-Match": `"${entry.version}"` },
  }).catch(() => null);
  if (!answer) return say("Not changed: the server cannot be reached.");
  if (answer.status === 412) {
    say("Someone changed this entry meanwhile: it has been reloaded; try again.");
    await reloadEntry(entry.id);
    return;
  }
  if (answer.status !== 200) return say(`Not changed: ${detail(answer)}`);
  track(answer.data);
}

async function reloadEntry(id) {
  const answer = await api("GET", `/api/blogs/${state.slug}/entries/${id}`);
  if (answer.status === 200) track(answer.data);
}

async function remove(entry) {
  const what = entry.status === "published" ? "Readers will see it disappear." : "It was never published.";
  if (!confirm(`Delete this entry? ${what}`)) return;
  const answer = await api("DELETE", `/api/blogs/${state.slug}/entries/${entry.id}`, {
    headers: { "If-Match": `"${entry.version}"` },
  }).catch(() => null);
  if (!answer) return say("Not deleted: the server cannot be reached.");
  if (answer.status === 412) {
    say("Someone changed this entry meanwhile: check it, then delete again.");
    await reloadEntry(entry.id);
    return;
  }
  if (answer.status !== 204) return say(`Not deleted: ${detail(answer)}`);
  state.entries.delete(entry.id);
  state.drafts.delete(entry.id);
  renderLists();
}

// Edit in place, with the version it started from: a save over someone else's change is
// refused by the server (412) and shown, never silently overwritten.
function edit(article, entry) {
  article.classList.add("editing");
  const form = el("form", "edit-form");
  const headline = el("input");
  headline.value = entry.headline || "";
  headline.placeholder = "Headline (optional)";
  headline.setAttribute("aria-label", "Headline");
  const body = el("textarea");
  body.value = entry.body;
  body.setAttribute("aria-label", "Body");
  const conflict = el("div", "conflict");
  conflict.hidden = true;
  conflict.setAttribute("role", "alert");
  let version = entry.version;
  const save = el("button", "", "Save");
  save.type = "submit";
  form.append(headline, body, conflict, el("div", "actions"));
  form.lastChild.append(
    save,
    button("Cancel", () => {
      article.classList.remove("editing");
      renderLists();
    }),
  );
  form.addEventListener("submit", async (submit) => {
    submit.preventDefault();
    const answer = await api("PATCH", `/api/blogs/${state.slug}/entries/${entry.id}`, {
      json: { headline: headline.value, body: body.value },
      headers: { "If-Match": `"${version}"` },
    }).catch(() => null);
    if (!answer) {
      conflict.hidden = false;
      conflict.textContent = "Not saved: the server cannot be reached. Your text is still here.";
      return;
    }
    if (answer.status === 412) {
      const theirs = await api("GET", `/api/blogs/${state.slug}/entries/${entry.id}`);
      conflict.hidden = false;
      conflict.replaceChildren(
        el("strong", "", "Someone else changed this entry while you were editing. "),
        el("span", "", `Their version (${theirs.data.version}) is below; your text is kept.`),
      );
      const preview = el("div", "body");
      preview.innerHTML = theirs.data.html;
      conflict.append(
        preview,
        button("Use their version", () => {
          headline.value = theirs.data.headline || "";
          body.value = theirs.data.body;
          version = theirs.data.version;
          conflict.hidden = true;
        }),
        button("Save mine over theirs", () => {
          version = theirs.data.version;
          form.requestSubmit();
        }),
      );
      return;
    }
    if (answer.status !== 200) {
      conflict.hidden = false;
      conflict.textContent = `Not saved: ${detail(answer)}`;
      return;
    }
    article.classList.remove("editing");
    track(answer.data);
  });
  article.replaceChildren(form);
  body.focus();
}

// --- composing and the outbox ----------------------------------------------------------

function composeFields() {
  return {
    headline: $("#c-headline").value,
    body: $("#c-body").value,
    key_event: $("#c-key").checked,
    pinned: $("#c-pinned").checked,
    when: $("#c-when").value,
    at: $("#c-at").value,
  };
}

function saveCompose() {
  if (state.slug) localStorage.setItem(composeKey(state.slug), JSON.stringify(composeFields()));
}

function restoreCompose() {
  let saved = {};
  try {
    saved = JSON.parse(localStorage.getItem(composeKey(state.slug)) || "{}");
  } catch {
    saved = {};
  }
  $("#c-headline").value = saved.headline || "";
  $("#c-body").value = saved.body || "";
  $("#c-key").checked = Boolean(saved.key_event);
  $("#c-pinned").checked = Boolean(saved.pinned);
  $("#c-when").value = saved.when || "now";
  $("#c-at").value = saved.at || "";
  $("#c-at").hidden = $("#c-when").value !== "schedule";
  preview();
}

function readOutbox() {
  try {
    return JSON.parse(localStorage.getItem(OUTBOX_KEY) || "[]");
  } catch {
    return [];
  }
}

function writeOutbox(items) {
  localStorage.setItem(OUTBOX_KEY, JSON.stringify(items));
  renderOutbox(items);
}

function renderOutbox(items) {
  $("#outbox").replaceChildren(
    ...items.map((item) => {
      const li = el("li");
      li.dataset.state = item.state;
      const what = item.payload.headline || item.payload.body.slice(0, 60);
      const status = item.state === "failed" ? `Not posted: ${item.error}` : "Sending… (kept until the server has it)";
      li.append(el("strong", "", what), el("span", "", ` — ${status} `));
      if (item.state === "failed") {
        li.append(
          button("Back to the editor", () => {
            $("#c-headline").value = item.payload.headline || "";
            $("#c-body").value = item.payload.body;
            writeOutbox(readOutbox().filter((i) => i.key !== item.key));
            saveCompose();
            preview();
          }),
          button("Discard", () => writeOutbox(readOutbox().filter((i) => i.key !== item.key))),
        );
      }
      return li;
    }),
  );
}

function post() {
  const fields = composeFields();
  if (!fields.body.trim() || !state.slug) return;
  const payload = { body: fields.body, key_event: fields.key_event, pinned: fields.pinned };
  if (fields.headline.trim()) payload.headline = fields.headline;
  if (fields.when === "draft") payload.status = "draft";
  if (fields.when === "schedule") {
    const at = new Date(fields.at);
    if (Number.isNaN(at.getTime())) {
      say("Pick a time to schedule it for.");
      return;
    }
    payload.publish_at = at.toISOString();
  }
  // The key is made once, here: every retry of this post carries the same one.
  const item = { key: crypto.randomUUID(), slug: state.slug, payload, state: "sending" };
  writeOutbox([...readOutbox(), item]);
  $("#c-headline").value = "";
  $("#c-body").value = "";
  $("#c-key").checked = false;
  $("#c-pinned").checked = false;
  $("#c-when").value = "now";
  $("#c-at").hidden = true;
  saveCompose();
  preview();
  flushOutbox();
}

let flushing = false;
let flushDelay = 500;

async function flushOutbox() {
  if (flushing || !state.token) return;
  flushing = true;
  let retryLater = false;
  try {
    for (const item of readOutbox()) {
      if (item.state !== "sending") continue;
      let answer;
      try {
        answer = await api("POST", `/api/blogs/${item.slug}/entries`, {
          json: item.payload,
          headers: { "Idempotency-Key": item.key },
        });
      } catch (error) {
        if (!(error instanceof NetworkError)) throw error;
        retryLater = true; // offline or the answer was lost: the same key, later
        break;
      }
      if (answer.status === 201) {
        writeOutbox(readOutbox().filter((i) => i.key !== item.key));
        if (item.slug === state.slug) track(answer.data);
      } else if (answer.status === 429 || answer.status >= 500) {
        retryLater = true;
        break;
      } else {
        writeOutbox(
          readOutbox().map((i) => (i.key === item.key ? { ...i, state: "failed", error: detail(answer) } : i)),
        );
      }
    }
  } finally {
    flushing = false;
  }
  if (retryLater) {
    setTimeout(flushOutbox, flushDelay);
    flushDelay = Math.min(flushDelay * 2, 15000);
  } else {
    flushDelay = 500;
  }
}

let previewTimer = null;
let previewSeq = 0;

function preview() {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(async () => {
    const text = $("#c-body").value;
    const target = $("#c-preview");
    if (!text.trim() || !state.token) {
      target.replaceChildren();
      return;
    }
    const seq = ++previewSeq;
    const answer = await api("POST", "/api/preview", { json: { body: text } }).catch(() => null);
    if (seq !== previewSeq) return; // a newer preview is on its way
    if (answer && answer.status === 200) {
      target.innerHTML = answer.data.html; // the server's own renderer and sanitiser
    } else {
      target.replaceChildren(el("p", "nr-hint", "Preview unavailable; the text is kept."));
    }
  }, 250);
}

// --- images ----------------------------------------------------------------------------

function markdownTitle(text) {
  return text.replace(/["\\]/g, "\\$&").replace(/\s+/g, " ").trim();
}

async function upload(file) {
  if (!file || !file.type.startsWith("image/")) {
    say("Only images can be added here.");
    return;
  }
  say(`Uploading ${file.name || "image"}…`);
  const form = new FormData();
  form.append("file", file, file.name || "pasted.png");
  let answer;
  try {
    answer = await api("POST", "/api/media", { form });
  } catch {
    say("Upload failed: the server cannot be reached.");
    return;
  }
  if (answer.status !== 201) {
    say(`Upload refused: ${detail(answer)}`);
    return;
  }
  const caption = $("#c-caption").value.trim();
  const credit = $("#c-credit").value.trim();
  const title = [caption, credit].filter(Boolean).join(" | ");
  const alt = caption.replace(/[[\]]/g, "") || "Image";
  const markdown = `![${alt}](${answer.data.url}${title ? ` "${markdownTitle(title)}"` : ""})`;
  const area = $("#c-body");
  const before = area.value.slice(0, area.selectionStart).replace(/\s*$/, "");
  const after = area.value.slice(area.selectionEnd).replace(/^\s*/, "");
  area.value = [before, markdown, after].filter(Boolean).join("\n\n");
  $("#c-caption").value = "";
  $("#c-credit").value = "";
  $("#c-file").value = "";
  say(`Image added (${answer.data.width}×${answer.data.height}).`);
  saveCompose();
  preview();
}

// --- admin -----------------------------------------------------------------------------

function showBlogSettings() {
  if (!state.blog) return;
  $("#b-title").value = state.blog.title;
  $("#b-description").value = state.blog.description;
  $("#b-notice").value = state.blog.notice || "";
  $("#b-status").value = state.blog.status;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

async function loadTokens() {
  const answer = await api("GET", "/api/tokens");
  if (answer.status !== 200) return;
  $("#token-rows").replaceChildren(
    ...answer.data.tokens.map((t) => {
      const row = el("tr");
      if (t.revoked_at) row.dataset.revoked = "";
      row.append(
        el("td", "", t.name),
        el("td", "", t.role),
        el("td", "", dateTime.format(new Date(t.created_at))),
        el("td", "", t.revoked_at ? "revoked" : "active"),
      );
      const cell = el("td");
      if (!t.revoked_at && t.id !== state.me.id) {
        cell.append(
          button("Revoke", async () => {
            if (!confirm(`Revoke the token "${t.name}"? It stops working at once.`)) return;
            await api("DELETE", `/api/tokens/${t.id}`);
            loadTokens();
          }),
        );
      }
      row.append(cell);
      return row;
    }),
  );
}

function wireAdmin() {
  $("#blog-form").addEventListener("submit", async (submit) => {
    submit.preventDefault();
    const answer = await api("PATCH", `/api/blogs/${state.slug}`, {
      json: {
        title: $("#b-title").value,
        description: $("#b-description").value,
        notice: $("#b-notice").value,
        status: $("#b-status").value,
      },
    }).catch(() => null);
    $("#b-result").textContent = !answer
      ? "Not saved: the server cannot be reached."
      : answer.status === 200 ? "Saved." : `Not saved: ${detail(answer)}`;
    if (answer && answer.status === 200) {
      state.blog = answer.data;
      loadBlogs(state.slug);
    }
  });
  $("#new-blog-form").addEventListener("submit", async (submit) => {
    submit.preventDefault();
    const answer = await api("POST", "/api/blogs", {
      json: {
        slug: $("#nb-slug").value,
        title: $("#nb-title").value,
        description: $("#nb-description").value,
      },
    }).catch(() => null);
    if (!answer || answer.status !== 201) {
      $("#nb-result").textContent = answer ? `Not created: ${detail(answer)}` : "The server cannot be reached.";
      return;
    }
    $("#nb-result").textContent = "Created.";
    submit.target.reset();
    loadBlogs(answer.data.slug);
  });
  $("#token-form").addEventListener("submit", async (submit) => {
    submit.preventDefault();
    const answer = await api("POST", "/api/tokens", {
      json: { name: $("#t-name").value, role: $("#t-role").value },
    }).catch(() => null);
    if (!answer || answer.status !== 201) {
      $("#t-new").textContent = answer ? `Not created: ${detail(answer)}` : "The server cannot be reached.";
      return;
    }
    $("#t-new").textContent = `New ${answer.data.role} token for ${answer.data.name} (shown once): ${answer.data.token}`;
    submit.target.reset();
    loadTokens();
  });
}

// --- wiring ----------------------------------------------------------------------------

function wire() {
  $("#sign-in-form").addEventListener("submit", (submit) => {
    submit.preventDefault();
    $("#sign-in-error").textContent = "";
    signIn($("#token-input").value.trim());
  });
  $("#sign-out").addEventListener("click", signOut);
  $("#blog-select").addEventListener("change", (change) => openBlog(change.target.value));
  const form = $("#compose-form");
  form.addEventListener("submit", (submit) => {
    submit.preventDefault();
    post();
  });
  form.addEventListener("input", () => {
    saveCompose();
    preview();
  });
  form.addEventListener("keydown", (key) => {
    if (key.key === "Enter" && (key.ctrlKey || key.metaKey)) {
      key.preventDefault();
      post();
    }
  });
  $("#c-when").addEventListener("change", () => {
    $("#c-at").hidden = $("#c-when").value !== "schedule";
    saveCompose();
  });
  $("#c-file").addEventListener("change", () => upload($("#c-file").files[0]));
  const area = $("#c-body");
  area.addEventListener("paste", (paste) => {
    const file = [...paste.clipboardData.files].find((f) => f.type.startsWith("image/"));
    if (file) {
      paste.preventDefault();
      upload(file);
    }
  });
  area.addEventListener("dragover", (drag) => {
    drag.preventDefault();
    area.classList.add("dropping");
  });
  area.addEventListener("dragleave", () => area.classList.remove("dropping"));
  area.addEventListener("drop", (drop) => {
    drop.preventDefault();
    area.classList.remove("dropping");
    upload(drop.dataTransfer.files[0]);
  });
  window.addEventListener("online", flushOutbox);
  // Drafts send no events: colleagues' new ones show on a timer and when the tab is back.
  setInterval(() => state.slug && state.token && refreshDrafts(), 30000);
  window.addEventListener("focus", () => state.slug && state.token && refreshDrafts());
  wireAdmin();
  renderOutbox(readOutbox());
}

wire();
if (state.token) signIn(state.token);
