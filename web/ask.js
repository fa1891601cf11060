// @ts-check
// Readers' questions to the newsroom: the page's form (app/site/templates/_ask.html) sent
// without leaving the page. Without JavaScript the form posts and a page answers.
import { t } from "./i18n.js";

/** @param {HTMLFormElement} form @param {string} slug */
export function enableAsking(form, slug) {
  const status = /** @type {HTMLElement} */ (form.querySelector("[data-ask-status]"));
  const button = /** @type {HTMLButtonElement} */ (form.querySelector("button"));
  form.addEventListener("submit", async (submit) => {
    submit.preventDefault();
    const fields = new FormData(form);
    button.disabled = true;
    status.textContent = t("Sending…");
    const answer = await fetch(`/api/blogs/${slug}/questions`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        question: fields.get("question"), name: fields.get("name"), website: fields.get("website"),
      }),
    }).catch(() => null);
    button.disabled = false;
    if (answer && answer.status === 201) {
      /** @type {HTMLTextAreaElement} */ (form.elements.namedItem("question")).value = "";
      status.textContent = t("Thank you: the newsroom has your question.");
    } else if (!answer) {
      status.textContent = t("Not sent: the server cannot be reached.");
    } else {
      status.textContent = t("Not sent: {reason}", { reason: refusal(answer.status) });
    }
  });
}

/** @param {number} code */
function refusal(code) {
  if (code === 429) return t("too many questions for now; please try again later");
  if (code === 409) return t("this live blog has ended");
  if (code === 422) return t("please check your question and your name");
  return t("this live blog does not take questions");
}
