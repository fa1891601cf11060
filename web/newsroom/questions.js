// @ts-check
// Readers' questions on the newsroom's desk: pushed live by the server's desk stream
// (GET /api/blogs/{slug}/desk, Server-Sent Events read through fetch, which can send the
// token), each with an answer box: answering publishes an entry that quotes it.
import { $, button, el } from "../dom.js";
import { DESK } from "../events.js";
import { t, tn } from "../i18n.js";
import { api, detail } from "./api.js";
import { state } from "./state.js";

/** @typedef {{id: number, question: string, name: string, asked_at: string}} Question */

/** @type {Map<number, Question>} */
const open = new Map();
let following = null; // the desk stream's AbortController
const timeFormat = new Intl.DateTimeFormat(document.documentElement.lang, { timeStyle: "short" });

/** The open questions, drawn (a card being written in stays as it is). */
export function showQuestions() {
  const list = $("#questions");
  const drafts = new Map(
    [...list.querySelectorAll("[data-question]")].map((card) => [card.dataset.question, card]),
  );
  const cards = [...open.values()].map((q) => drafts.get(String(q.id)) || card(q));
  list.replaceChildren(...cards);
  if (!cards.length) {
    const accepting = state.blog?.accepts_questions;
    list.append(el("p", "empty", accepting
      ? t("No questions waiting.")
      : t("This blog does not take questions: an admin can turn them on in its settings.")));
  }
  $("#questions-count").textContent = open.size ? tn("{n} waiting", "{n} waiting", open.size) : "";
}

/** @param {Question} question */
function card(question) {
  const article = el("article", "entry question");
  article.dataset.question = String(question.id);
  const quote = el("blockquote", "", question.question);
  const who = el("p", "entry-meta", `— ${question.name} · ${timeFormat.format(new Date(question.asked_at))}`);
  const headline = /** @type {HTMLInputElement} */ (el("input", "answer-headline"));
  headline.maxLength = 200;
  headline.placeholder = t("Headline (optional)");
  headline.setAttribute("aria-label", t("Headline (optional)"));
  const answer = /** @type {HTMLTextAreaElement} */ (el("textarea", "answer-body"));
  answer.rows = 3;
  answer.placeholder = t("Your answer (Markdown)");
  answer.setAttribute("aria-label", t("Your answer (Markdown)"));
  const result = el("span", "nr-hint");
  result.setAttribute("role", "status");
  const publish = button(t("Publish the answer"), async () => {
    if (!answer.value.trim()) return answer.focus();
    const json = { answer: answer.value, ...(headline.value.trim() ? { headline: headline.value } : {}) };
    const sent = await api("POST", `/api/blogs/${state.slug}/questions/${question.id}/answer`, { json }).catch(() => null);
    if (sent && sent.status === 201) close(question.id);
    else result.textContent = sent ? detail(sent) : t("The server cannot be reached.");
  }, "answer");
  const dismiss = button(t("Dismiss"), async () => {
    const sent = await api("DELETE", `/api/blogs/${state.slug}/questions/${question.id}`).catch(() => null);
    if (sent && (sent.status === 204 || sent.status === 404)) close(question.id);
    else result.textContent = sent ? detail(sent) : t("The server cannot be reached.");
  }, "danger");
  const actions = el("div", "entry-actions");
  actions.append(publish, dismiss, result);
  article.append(quote, who, headline, answer, actions);
  return article;
}

/** @param {number} id */
function close(id) {
  open.delete(id);
  $(`[data-question="${id}"]`)?.remove();
  showQuestions();
}

/** @param {any} notice */
function apply(notice) {
  if (notice.type === DESK.QUESTIONS) {
    open.clear();
    for (const q of notice.questions) open.set(q.id, q);
    showQuestions();
  } else if (notice.type === DESK.QUESTION_ASKED) {
    open.set(notice.question.id, notice.question);
    showQuestions();
  } else if (notice.type === DESK.QUESTION_CLOSED) {
    close(notice.question_id);
  }
}

/** Follow the open blog's desk (again, after a drop, with growing pauses). */
export function followDesk() {
  following?.abort();
  open.clear();
  $("#questions").replaceChildren();
  showQuestions();
  const controller = new AbortController();
  following = controller;
  const slug = state.slug;
  let pause = 500;
  (async () => {
    while (!controller.signal.aborted) {
      try {
        await readDesk(slug, controller.signal, (notice) => {
          pause = 500;
          apply(notice);
        });
      } catch {
        // the stream broke, or the server refused it: try again shortly
      }
      if (controller.signal.aborted) return;
      await new Promise((done) => setTimeout(done, pause * (0.5 + Math.random())));
      pause = Math.min(pause * 2, 15000);
    }
  })();
}

export function stopDesk() {
  following?.abort();
  following = null;
}

/**
 * One desk stream until it ends: each `data:` line of an event is JSON (our own server's
 * Server-Sent Events; EventSource could not send the token).
 * @param {string} slug @param {AbortSignal} signal @param {(notice: any) => void} onNotice
 */
async function readDesk(slug, signal, onNotice) {
  const answer = await fetch(`/api/blogs/${slug}/desk`, {
    headers: { Authorization: `Bearer ${state.token}` }, signal,
  });
  if (answer.status !== 200 || !answer.body) throw new Error(`desk: ${answer.status}`);
  const reader = answer.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const data = buffer.slice(0, end).split("\n")
        .filter((line) => line.startsWith("data: ")).map((line) => line.slice(6)).join("\n");
      buffer = buffer.slice(end + 2);
      if (data) onNotice(JSON.parse(data));
    }
  }
}
