// The lists of published entries and drafts: cards, curation, edits in place.

import { $, button, el } from "../dom.js";
import { STATUS } from "../events.js";
import { t } from "../i18n.js";
import { renderEntry } from "../entry.js";
import { isClosed } from "../poll.js";
import { api, detail, unreachable } from "./api.js";
import { isContributor, state } from "./state.js";

// --- entries ---------------------------------------------------------------------------

export function newestFirst(map) {
  return [...map.values()].sort(
    (a, b) => (b.pinned - a.pinned) || b.published_at.localeCompare(a.published_at) || b.id - a.id,
  );
}

// Lists drawn whenever the entries' are (the approval queue: main.js adds queue.js's).
const alsoRendered = [];

/** Draw `render` too whenever the newsroom's lists are drawn. */
export function renderAlso(render) {
  alsoRendered.push(render);
}

export function renderLists() {
  renderList($("#entries"), state.entries, t("Nothing published yet."));
  renderList($("#drafts"), state.drafts, t("No drafts."));
  for (const render of alsoRendered) render();
}

export function renderList(container, map, empty) {
  // A card being edited stays as it is; what changed under it shows when it is saved.
  const editing = new Map(
    [...container.querySelectorAll(".entry.editing")].map((node) => [node.dataset.id, node]),
  );
  const cards = newestFirst(map).map((entry) => editing.get(String(entry.id)) || card(entry));
  container.replaceChildren(...(cards.length ? cards : [el("p", "empty", empty)]));
}

export function removeCard(container, id, map, empty) {
  const existing = container.querySelector(`[data-id="${id}"]`);
  if (existing) existing.remove();
  if (!map.size) container.replaceChildren(el("p", "empty", empty));
}

// The entry as readers see it (entry.js), with what the newsroom does to it.
export function card(entry) {
  const when = entry.status === STATUS.SCHEDULED ? entry.publish_at : entry.published_at;
  const article = renderEntry(entry, { prefix: "card", at: when, share: false, voting: false });
  if (entry.status !== STATUS.PUBLISHED) {
    article.querySelector(".entry-meta").append(el("span", `badge ${entry.status}`, statusName(entry.status)));
  }
  if (isContributor()) return article; // theirs to read, editors' to curate
  const actions = el("div", "actions");
  if (entry.status !== STATUS.PUBLISHED) {
    actions.append(button(t("Publish now"), () => change(entry, { status: STATUS.PUBLISHED }), "primary"));
  }
  actions.append(
    button(t("Edit"), () => edit(article, entry)),
    button(entry.pinned ? t("Unpin") : t("Pin"), () => change(entry, { pinned: !entry.pinned })),
    button(entry.key_event ? t("Not a key event") : t("Key event"), () =>
      change(entry, { key_event: !entry.key_event }),
    ),
    button(t("Delete"), () => remove(entry)),
  );
  if (entry.poll && entry.status === STATUS.PUBLISHED && !isClosed(entry.poll)) {
    actions.append(button(t("Close the poll"), () => closePoll(entry)));
  }
  article.append(actions);
  return article;
}

/** The newsroom's list an entry belongs in, by its status. */
function listOf(entry) {
  if (entry.status === STATUS.PUBLISHED) return state.entries;
  if (entry.status === STATUS.SUBMITTED || entry.status === STATUS.RETURNED) return state.queue;
  return state.drafts;
}

export function track(entry) {
  const map = listOf(entry);
  for (const other of [state.entries, state.drafts, state.queue]) {
    if (other !== map) other.delete(entry.id);
  }
  const known = map.get(entry.id);
  if (!known || known.version <= entry.version) map.set(entry.id, entry);
  renderLists();
}

export function say(message) {
  const note = $("#c-upload");
  note.textContent = message;
}

export async function change(entry, fields) {
  const answer = await api("PATCH", `/api/blogs/${state.slug}/entries/${entry.id}`, {
    json: fields,
    headers: { "If-Match": `"${entry.version}"` },
  }).catch(() => null);
  if (!answer) return say(t("Not changed: the server cannot be reached."));
  if (answer.status === 412) {
    say(t("Someone changed this entry meanwhile: it has been reloaded; try again."));
    await reloadEntry(entry.id);
    return;
  }
  if (answer.status !== 200) return say(t("Not changed: {reason}", { reason: detail(answer) }));
  track(answer.data);
}

/** Close an entry's poll now: its result is final. */
async function closePoll(entry) {
  const answer = await api("POST", `/api/blogs/${state.slug}/entries/${entry.id}/poll/close`).catch(() => null);
  if (answer && answer.status === 200) track(answer.data);
  else say(answer ? detail(answer) : t("The server cannot be reached."));
}

export async function reloadEntry(id) {
  const answer = await api("GET", `/api/blogs/${state.slug}/entries/${id}`).catch(unreachable);
  if (answer?.status === 200) track(answer.data);
}

export async function remove(entry) {
  const question = entry.status === STATUS.PUBLISHED
    ? t("Delete this entry? Readers will see it disappear.")
    : t("Delete this entry? It was never published.");
  if (!confirm(question)) return;
  const answer = await api("DELETE", `/api/blogs/${state.slug}/entries/${entry.id}`, {
    headers: { "If-Match": `"${entry.version}"` },
  }).catch(() => null);
  if (!answer) return say(t("Not deleted: the server cannot be reached."));
  if (answer.status === 412) {
    say(t("Someone changed this entry meanwhile: check it, then delete again."));
    await reloadEntry(entry.id);
    return;
  }
  if (answer.status !== 204) return say(t("Not deleted: {reason}", { reason: detail(answer) }));
  state.entries.delete(entry.id);
  state.drafts.delete(entry.id);
  state.queue.delete(entry.id);
  renderLists();
}

// Edit in place, with the version it started from: a save over someone else's change is
// refused by the server (412) and shown, never silently overwritten.
/** Tags as typed: separated by commas or spaces, `#` or not. @param {string} text */
export function tagList(text) {
  return text.split(/[\s,]+/).filter(Boolean);
}

export function edit(article, entry) {
  article.classList.add("editing");
  const form = el("form", "edit-form");
  const headline = el("input");
  headline.value = entry.headline || "";
  headline.placeholder = t("Headline (optional)");
  headline.setAttribute("aria-label", t("Headline"));
  const body = el("textarea");
  body.value = entry.body;
  body.setAttribute("aria-label", t("Body"));
  const tags = /** @type {HTMLInputElement} */ (el("input", "edit-tags"));
  tags.value = (entry.tags || []).join(", ");
  const tagsBefore = tags.value;
  tags.placeholder = t("Tags, e.g. kharkiv, energy");
  tags.setAttribute("aria-label", t("Tags"));
  // A published entry's edit may say what it corrects; readers see the note.
  const correction = /** @type {HTMLInputElement} */ (el("input", "correction-note"));
  correction.maxLength = 500;
  correction.placeholder = t("Correction note (optional): what was wrong");
  correction.setAttribute("aria-label", t("Correction note"));
  correction.hidden = entry.status !== STATUS.PUBLISHED;
  const conflict = el("div", "conflict");
  conflict.hidden = true;
  conflict.setAttribute("role", "alert");
  let version = entry.version;
  const save = el("button", "", t("Save"));
  save.type = "submit";
  form.append(headline, body, tags, correction, conflict, el("div", "actions"));
  form.lastChild.append(
    save,
    button(t("Cancel"), () => {
      article.classList.remove("editing");
      renderLists();
    }),
  );
  form.addEventListener("submit", async (submit) => {
    submit.preventDefault();
    const answer = await api("PATCH", `/api/blogs/${state.slug}/entries/${entry.id}`, {
      json: {
        headline: headline.value,
        body: body.value,
        // Sent only when changed: the list shows the entry's #hashtags too.
        ...(tags.value !== tagsBefore ? { tags: tagList(tags.value) } : {}),
        ...(correction.value.trim() ? { correction: correction.value } : {}),
      },
      headers: { "If-Match": `"${version}"` },
    }).catch(() => null);
    if (!answer) {
      conflict.hidden = false;
      conflict.textContent = t("Not saved: the server cannot be reached. Your text is still here.");
      return;
    }
    if (answer.status === 412) {
      const theirs = await api("GET", `/api/blogs/${state.slug}/entries/${entry.id}`);
      conflict.hidden = false;
      conflict.replaceChildren(
        el("strong", "", t("Someone else changed this entry while you were editing.")),
        " ",
        el("span", "", t("Their version ({version}) is below; your text is kept.", { version: String(theirs.data.version) })),
      );
      const preview = el("div", "body");
      preview.innerHTML = theirs.data.html;
      conflict.append(
        preview,
        button(t("Use their version"), () => {
          headline.value = theirs.data.headline || "";
          body.value = theirs.data.body;
          version = theirs.data.version;
          conflict.hidden = true;
        }),
        button(t("Save mine over theirs"), () => {
          version = theirs.data.version;
          form.requestSubmit();
        }),
      );
      return;
    }
    if (answer.status !== 200) {
      conflict.hidden = false;
      conflict.textContent = t("Not saved: {reason}", { reason: detail(answer) });
      return;
    }
    article.classList.remove("editing");
    track(answer.data);
  });
  article.replaceChildren(form);
  body.focus();
}

/** @param {string} status */
export function statusName(status) {
  return {
    [STATUS.DRAFT]: t("draft"),
    [STATUS.SCHEDULED]: t("scheduled"),
    [STATUS.SUBMITTED]: t("submitted"),
    [STATUS.RETURNED]: t("returned"),
    [STATUS.PUBLISHED]: t("published"),
  }[status] || status;
}
