// Contributors' submissions. Editors see every submission waiting for approval, and
// approve it (now, or at a time), edit it or return it with a note; a contributor sees
// their own, with the editor's note, and edits, resubmits or withdraws them. Submissions
// send no events (readers must not know of them): the queue is read again every few
// seconds while the newsroom is open.

import { $, button, el } from "../dom.js";
import { STATUS } from "../events.js";
import { renderEntry } from "../entry.js";
import { t, tn } from "../i18n.js";
import { api, unreachable } from "./api.js";
import { change, edit, remove, say, statusName } from "./entries.js";
import { isContributor, state } from "./state.js";

export const QUEUE_SECONDS = 5;

/** Entries of one status for the open blog: [] when the token may not list them, null
 * when the server could not say (unreachable, or failing): what is shown then stays. */
export async function listed(status) {
  const answer = await api("GET", `/api/blogs/${state.slug}/entries?limit=100&status=${status}`)
    .catch(unreachable);
  if (!answer || answer.status >= 500) return null;
  return answer.status === 200 ? answer.data.entries : [];
}

export async function refreshQueue() {
  if (!state.slug || !state.token) return;
  const slug = state.slug;
  const [submitted, returned] = await Promise.all([listed(STATUS.SUBMITTED), listed(STATUS.RETURNED)]);
  if (slug !== state.slug) return; // another blog was opened meanwhile
  if (!submitted || !returned) return; // the next round will tell
  const known = new Map(state.queue);
  state.queue.clear();
  for (const entry of [...submitted, ...returned]) {
    const before = known.get(entry.id);
    state.queue.set(entry.id, before && before.version > entry.version ? before : entry);
  }
  renderQueue();
}

export function renderQueue() {
  const container = $("#queue");
  const editing = new Map(
    [...container.querySelectorAll(".entry.editing")].map((node) => [node.dataset.id, node]),
  );
  const waiting = [...state.queue.values()].sort((a, b) => a.published_at.localeCompare(b.published_at));
  const cards = waiting.map((entry) => editing.get(String(entry.id)) || queueCard(entry));
  const empty = isContributor() ? t("Nothing submitted.") : t("Nothing waiting for approval.");
  container.replaceChildren(...(cards.length ? cards : [el("p", "empty", empty)]));
  const count = waiting.filter((entry) => entry.status === STATUS.SUBMITTED).length;
  $("#queue-count").textContent = count ? tn("{n} waiting", "{n} waiting", count) : "";
}

function queueCard(entry) {
  // The time shown is when it was submitted (it takes its published time on approval).
  const article = renderEntry(entry, { prefix: "queued", share: false, voting: false });
  const meta = article.querySelector(".entry-meta");
  meta.append(el("span", `badge ${entry.status}`, statusName(entry.status)));
  if (entry.review_note) {
    const note = el("p", "review-note");
    note.append(el("strong", "", t("Returned:")), " ", el("span", "", entry.review_note));
    article.insertBefore(note, article.querySelector(".body"));
  }
  const actions = el("div", "actions");
  if (isContributor()) {
    if (entry.status === STATUS.RETURNED) {
      actions.append(button(t("Resubmit"), () => change(entry, { status: STATUS.SUBMITTED }), "primary"));
    }
    actions.append(
      button(t("Edit"), () => edit(article, entry)),
      button(t("Withdraw"), () => remove(entry)),
    );
  } else {
    actions.append(
      button(t("Approve and publish"), () => change(entry, { status: STATUS.PUBLISHED }), "primary"),
      button(t("Approve for later…"), () => schedule(entry)),
      button(t("Edit"), () => edit(article, entry)),
      button(t("Return…"), () => giveBack(entry)),
    );
  }
  article.append(actions);
  return article;
}

function schedule(entry) {
  const answer = prompt(t("Publish at (your local time, e.g. 2026-11-27 09:30):"));
  if (!answer) return;
  const at = new Date(answer.replace(" ", "T"));
  if (Number.isNaN(at.getTime())) return say(t("Pick a time to schedule it for."));
  change(entry, { publish_at: at.toISOString() });
}

function giveBack(entry) {
  const note = prompt(t("What should the contributor change? They will see this note."));
  if (note && note.trim()) change(entry, { status: STATUS.RETURNED, review_note: note });
}
