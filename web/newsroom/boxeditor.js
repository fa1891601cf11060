// @ts-check
// The results box's editor: the open blog's box in a form; saving shows it to readers.
import { $, button, el } from "../dom.js";
import { t } from "../i18n.js";
import { api, detail } from "./api.js";
import { state } from "./state.js";

const input = (/** @type {string} */ selector) => /** @type {HTMLInputElement} */ ($(selector));

/** @param {string} [label] @param {string} [value] */
function addRow(label = "", value = "") {
  const row = el("div", "box-row");
  const labelInput = /** @type {HTMLInputElement} */ (el("input", "box-label"));
  labelInput.maxLength = 100;
  labelInput.required = true;
  labelInput.value = label;
  labelInput.setAttribute("aria-label", t("Label"));
  const valueInput = /** @type {HTMLInputElement} */ (el("input", "box-value"));
  valueInput.maxLength = 40;
  valueInput.value = value;
  valueInput.setAttribute("aria-label", t("Value"));
  const remove = button(t("Remove"), () => {
    row.remove();
    fitKind();
  }, "box-row-remove");
  row.append(labelInput, valueInput, remove);
  $("#x-rows").append(row);
}

/** A score has two rows (each side and its points); other boxes one or more. */
function fitKind() {
  const score = input("#x-kind").value === "score";
  const rows = $("#x-rows");
  while (score && rows.children.length > 2) rows.lastElementChild?.remove();
  while (rows.children.length < (score ? 2 : 1)) addRow();
  $("#x-add-row").hidden = score;
  for (const remove of rows.querySelectorAll(".box-row-remove")) {
    /** @type {HTMLElement} */ (remove).hidden = score || rows.children.length === 1;
  }
}

/** The open blog's box in the form, unless someone is editing it here. */
export function showBox() {
  if (!state.blog || $("#box-form").contains(document.activeElement)) return;
  const box = state.blog.box;
  input("#x-kind").value = box?.kind || "score";
  input("#x-title").value = box?.title || "";
  input("#x-note").value = box?.note || "";
  $("#x-rows").replaceChildren();
  for (const row of box?.rows || []) addRow(row.label, row.value);
  fitKind();
  $("#x-remove").hidden = !box;
}

/** @param {string} method @param {object} [json] */
async function save(method, json) {
  const answer = await api(method, `/api/blogs/${state.slug}/box`, { json }).catch(() => null);
  const ok = answer && (answer.status === 200 || answer.status === 204);
  $("#x-result").textContent = !answer
    ? t("The server cannot be reached.")
    : ok ? (json ? t("Shown to readers.") : t("Removed.")) : t("Not saved: {reason}", { reason: detail(answer) });
  if (ok && state.blog) {
    state.blog = answer.status === 200 ? answer.data : { ...state.blog, box: null };
    /** @type {HTMLElement} */ (document.activeElement)?.blur();
    showBox();
  }
}

export function wireBox() {
  $("#x-kind").addEventListener("change", fitKind);
  $("#x-add-row").addEventListener("click", () => {
    addRow();
    fitKind();
  });
  $("#box-form").addEventListener("submit", (submit) => {
    submit.preventDefault();
    const rows = [...$("#x-rows").children].map((row) => ({
      label: /** @type {HTMLInputElement} */ (row.querySelector(".box-label")).value,
      value: /** @type {HTMLInputElement} */ (row.querySelector(".box-value")).value,
    }));
    save("PUT", {
      kind: input("#x-kind").value, title: input("#x-title").value, rows, note: input("#x-note").value,
    });
  });
  $("#x-remove").addEventListener("click", () => save("DELETE"));
}
