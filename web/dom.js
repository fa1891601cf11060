// @ts-check
// Small DOM helpers both pages use.

/** @param {string} selector */
export const $ = (selector) => /** @type {HTMLElement} */ (document.querySelector(selector));

/**
 * @param {string} tag
 * @param {string} [className]
 * @param {string} [text]
 */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * @param {string} label
 * @param {(event: MouseEvent) => void} onClick
 * @param {string} [className]
 */
export function button(label, onClick, className) {
  const node = /** @type {HTMLButtonElement} */ (el("button", className, label));
  node.type = "button";
  node.addEventListener("click", onClick);
  return node;
}
