// @ts-check
// An entry's poll, drawn as app/site/templates/_poll.html draws it (a form that votes
// without JavaScript, with the results so far), kept current from the results the server
// sends every few seconds, and voted in without leaving the page.
import { el } from "./dom.js";
import { t, tn } from "./i18n.js";

/**
 * @typedef {{options: string[], closes_at: string | null, closed_at: string | null}} Poll
 * @typedef {{results: number[], total: number, closed: boolean}} Results
 */

/** The latest results known of each poll (entry id -> results), so that an entry drawn
 * again (edited, closed) keeps them. @type {Map<string, Results>} */
const latest = new Map();

/** @param {Poll} poll */
export function isClosed(poll) {
  return Boolean(poll.closed_at) || (Boolean(poll.closes_at) && new Date(poll.closes_at) <= new Date());
}

/**
 * @param {{id: number, blog: string, poll: Poll}} entry
 * @param {boolean} [voting]  false: the results only (the newsroom's cards)
 */
export function renderPoll(entry, voting = true) {
  const closed = isClosed(entry.poll);
  const form = /** @type {HTMLFormElement} */ (el("form", "poll"));
  form.setAttribute("method", "post");
  form.setAttribute("action", `/blogs/${entry.blog}/entries/${entry.id}/vote`);
  form.dataset.poll = String(entry.id);
  if (closed) form.dataset.closed = "";
  entry.poll.options.forEach((option, index) => {
    const label = el("label", "poll-option");
    const input = /** @type {HTMLInputElement} */ (el("input"));
    input.type = "radio";
    input.name = "option";
    input.value = String(index);
    input.required = true;
    if (closed || !voting) input.disabled = true;
    const bar = /** @type {HTMLProgressElement} */ (el("progress", "poll-bar"));
    const count = el("span", "poll-count");
    count.dataset.count = "";
    label.append(input, el("span", "poll-label", option), count, bar);
    form.append(label);
  });
  const foot = el("p", "poll-foot");
  const total = el("span", "poll-total");
  total.dataset.total = "";
  foot.append(total);
  if (closed) {
    foot.append(el("span", "poll-closed", t("Poll closed")));
  } else if (voting) {
    const vote = /** @type {HTMLButtonElement} */ (el("button", "", t("Vote")));
    vote.type = "submit";
    foot.append(vote);
  }
  const status = el("span", "poll-status");
  status.setAttribute("role", "status");
  status.dataset.pollStatus = "";
  foot.append(status);
  form.append(foot);
  const known = latest.get(String(entry.id));
  showResults(form, known || { results: entry.poll.options.map(() => 0), total: 0, closed });
  return form;
}

/** New results (by entry id), shown in every form of the page. @param {Record<string, Results>} polls */
export function updateResults(polls) {
  for (const [id, results] of Object.entries(polls)) {
    latest.set(id, results);
    for (const form of document.querySelectorAll(`form.poll[data-poll="${id}"]`)) {
      showResults(/** @type {HTMLElement} */ (form), results);
    }
  }
}

/** @param {HTMLElement} form @param {Results} results */
function showResults(form, results) {
  const counts = form.querySelectorAll("[data-count]");
  const bars = form.querySelectorAll("progress");
  results.results.forEach((n, index) => {
    if (counts[index]) counts[index].textContent = String(n);
    bars[index]?.setAttribute("value", String(n));
    bars[index]?.setAttribute("max", String(results.total || 1));
  });
  const total = form.querySelector("[data-total]");
  if (total) total.textContent = tn("{n} vote", "{n} votes", results.total);
}

/** Votes from the page, in place: one per reader (the server keeps count by a cookie).
 * The results the page was rendered with are the latest known. @param {Document} root */
export function enablePolls(root) {
  for (const form of root.querySelectorAll("form.poll")) {
    const results = [...form.querySelectorAll("[data-count]")].map((n) => Number(n.textContent));
    const total = results.reduce((a, b) => a + b, 0);
    latest.set(/** @type {HTMLElement} */ (form).dataset.poll || "", { results, total, closed: false });
  }
  root.addEventListener("submit", async (submit) => {
    const form = /** @type {HTMLFormElement} */ (submit.target);
    if (!form.matches?.("form.poll")) return;
    submit.preventDefault();
    const chosen = /** @type {HTMLInputElement | null} */ (form.querySelector("input[name=option]:checked"));
    const status = /** @type {HTMLElement} */ (form.querySelector("[data-poll-status]"));
    if (!chosen) return;
    const slug = document.body.dataset.blog;
    const answer = await fetch(`/api/blogs/${slug}/entries/${form.dataset.poll}/votes`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ option: Number(chosen.value) }),
    }).catch(() => null);
    if (answer && (answer.status === 201 || answer.status === 409)) {
      for (const input of form.querySelectorAll("input")) /** @type {HTMLInputElement} */ (input).disabled = true;
      form.querySelector("button[type=submit]")?.remove();
      status.textContent = answer.status === 201
        ? t("Thank you for voting.")
        : t("This poll is closed, or you have voted in it.");
    } else {
      status.textContent = answer && answer.status === 429
        ? t("Too many votes from here for now: please try again later.")
        : t("Your vote was not counted: please try again.");
    }
  });
}
