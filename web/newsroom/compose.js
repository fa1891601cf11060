// Composing: the form, its preview, images, and the outbox that gets every post through.

import { $, button, el } from "../dom.js";
import { STATUS } from "../events.js";
import { enableEmbeds } from "../embeds.js";
import { t } from "../i18n.js";
import { NetworkError, api, detail } from "./api.js";
import { chosenAuthors } from "./bylines.js";
import { say, tagList, track } from "./entries.js";
import { OUTBOX_KEY, composeKey, state } from "./state.js";

// --- composing and the outbox ----------------------------------------------------------

export function composeFields() {
  return {
    headline: $("#c-headline").value,
    body: $("#c-body").value,
    tags: $("#c-tags").value,
    key_event: $("#c-key").checked,
    pinned: $("#c-pinned").checked,
    when: $("#c-when").value,
    at: $("#c-at").value,
  };
}

export function saveCompose() {
  if (state.slug) localStorage.setItem(composeKey(state.slug), JSON.stringify(composeFields()));
}

export function restoreCompose() {
  let saved = {};
  try {
    saved = JSON.parse(localStorage.getItem(composeKey(state.slug)) || "{}");
  } catch {
    saved = {};
  }
  $("#c-headline").value = saved.headline || "";
  $("#c-body").value = saved.body || "";
  $("#c-tags").value = saved.tags || "";
  $("#c-key").checked = Boolean(saved.key_event);
  $("#c-pinned").checked = Boolean(saved.pinned);
  $("#c-when").value = saved.when || "now";
  $("#c-at").value = saved.at || "";
  $("#c-at").hidden = $("#c-when").value !== "schedule";
  preview();
}

export function readOutbox() {
  try {
    return JSON.parse(localStorage.getItem(OUTBOX_KEY) || "[]");
  } catch {
    return [];
  }
}

export function writeOutbox(items) {
  localStorage.setItem(OUTBOX_KEY, JSON.stringify(items));
  renderOutbox(items);
}

export function renderOutbox(items) {
  $("#outbox").replaceChildren(
    ...items.map((item) => {
      const li = el("li");
      li.dataset.state = item.state;
      const what = item.payload.headline || item.payload.body.slice(0, 60);
      const status = item.state === "failed"
        ? t("Not posted: {reason}", { reason: item.error })
        : t("Sending… (kept until the server has it)");
      li.append(el("strong", "", what), el("span", "", ` — ${status} `));
      if (item.state === "failed") {
        li.append(
          button(t("Back to the editor"), () => {
            $("#c-headline").value = item.payload.headline || "";
            $("#c-body").value = item.payload.body;
            $("#c-tags").value = (item.payload.tags || []).join(", ");
            writeOutbox(readOutbox().filter((i) => i.key !== item.key));
            saveCompose();
            preview();
          }),
          button(t("Discard"), () => writeOutbox(readOutbox().filter((i) => i.key !== item.key))),
        );
      }
      return li;
    }),
  );
}

export function post() {
  const fields = composeFields();
  if (!fields.body.trim() || !state.slug) return;
  const payload = { body: fields.body, key_event: fields.key_event, pinned: fields.pinned };
  if (fields.headline.trim()) payload.headline = fields.headline;
  const tags = tagList(fields.tags);
  if (tags.length) payload.tags = tags;
  const authors = chosenAuthors();
  if (authors) payload.authors = authors;
  const options = [...document.querySelectorAll(".c-option")]
    .map((input) => /** @type {HTMLInputElement} */ (input).value.trim()).filter(Boolean);
  if (options.length === 1) {
    say(t("A poll needs two options or more."));
    return;
  }
  if (options.length) {
    const closes = $("#c-poll-closes").value;
    payload.poll = { options, ...(closes ? { closes_at: new Date(closes).toISOString() } : {}) };
  }
  if (fields.when === STATUS.DRAFT) payload.status = STATUS.DRAFT;
  if (fields.when === "schedule") {
    const at = new Date(fields.at);
    if (Number.isNaN(at.getTime())) {
      say(t("Pick a time to schedule it for."));
      return;
    }
    payload.publish_at = at.toISOString();
  }
  // The key is made once, here: every retry of this post carries the same one.
  const item = { key: crypto.randomUUID(), slug: state.slug, payload, state: "sending" };
  writeOutbox([...readOutbox(), item]);
  $("#c-headline").value = "";
  $("#c-body").value = "";
  $("#c-tags").value = "";
  $("#c-key").checked = false;
  $("#c-pinned").checked = false;
  for (const input of document.querySelectorAll(".c-option")) /** @type {HTMLInputElement} */ (input).value = "";
  $("#c-poll-closes").value = "";
  $("#c-when").value = "now";
  $("#c-at").hidden = true;
  saveCompose();
  preview();
  flushOutbox();
}

export let flushing = false;
export let flushDelay = 500;

export async function flushOutbox() {
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

export let previewTimer = null;
export let previewSeq = 0;

export function preview() {
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
      enableEmbeds(target);
    } else {
      target.replaceChildren(el("p", "nr-hint", t("Preview unavailable; the text is kept.")));
    }
  }, 250);
}

// --- images ----------------------------------------------------------------------------

export function markdownTitle(text) {
  return text.replace(/["\\]/g, "\\$&").replace(/\s+/g, " ").trim();
}

export async function upload(file) {
  if (!file || !file.type.startsWith("image/")) {
    say(t("Only images can be added here."));
    return;
  }
  say(t("Uploading {name}…", { name: file.name || t("image") }));
  const form = new FormData();
  form.append("file", file, file.name || "pasted.png");
  let answer;
  try {
    answer = await api("POST", "/api/media", { form });
  } catch {
    say(t("Upload failed: the server cannot be reached."));
    return;
  }
  if (answer.status !== 201) {
    say(t("Upload refused: {reason}", { reason: detail(answer) }));
    return;
  }
  const caption = $("#c-caption").value.trim();
  const credit = $("#c-credit").value.trim();
  const title = [caption, credit].filter(Boolean).join(" | ");
  const alt = caption.replace(/[[\]]/g, "") || t("Image");
  const markdown = `![${alt}](${answer.data.url}${title ? ` "${markdownTitle(title)}"` : ""})`;
  const area = $("#c-body");
  const before = area.value.slice(0, area.selectionStart).replace(/\s*$/, "");
  const after = area.value.slice(area.selectionEnd).replace(/^\s*/, "");
  area.value = [before, markdown, after].filter(Boolean).join("\n\n");
  $("#c-caption").value = "";
  $("#c-credit").value = "";
  $("#c-file").value = "";
  say(t("Image added ({width}×{height}).", { width: String(answer.data.width), height: String(answer.data.height) }));
  saveCompose();
  preview();
}
