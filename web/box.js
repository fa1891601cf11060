// @ts-check
// The results box above the feed, drawn from a blog's `box` as app/site/templates/_box.html
// draws it: a score (two sides and their points) or rows of label and value.
import { el } from "./dom.js";
import { t } from "./i18n.js";

/**
 * @typedef {{label: string, value: string}} BoxRow
 * @typedef {{kind: "score" | "rows", title: string, rows: BoxRow[], note: string}} Box
 */

/** @param {HTMLElement} section @param {Box | null | undefined} box */
export function drawBox(section, box) {
  section.hidden = !box;
  section.setAttribute("aria-label", box?.title || t("Results"));
  if (!box) {
    section.replaceChildren();
    return;
  }
  const parts = [];
  if (box.title) parts.push(el("h2", "box-title", box.title));
  if (box.kind === "score") {
    const [home, away] = box.rows;
    const score = el("p", "score");
    score.append(
      el("span", "side", home.label), el("span", "points", home.value), el("span", "dash", "–"),
      el("span", "points", away.value), el("span", "side", away.label),
    );
    parts.push(score);
  } else {
    const table = el("table", "box-rows");
    const body = el("tbody");
    for (const row of box.rows) {
      const line = el("tr");
      const label = el("th", "", row.label);
      label.setAttribute("scope", "row");
      line.append(label, el("td", "", row.value));
      body.append(line);
    }
    table.append(body);
    parts.push(table);
  }
  if (box.note) parts.push(el("p", "box-note", box.note));
  section.replaceChildren(...parts);
}
