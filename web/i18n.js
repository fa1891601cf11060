// @ts-check
// The page's language: its words (from the server's gettext catalogs, put in the page as
// JSON by app/site/i18n.py), plural forms by CLDR category (Intl.PluralRules, the same rules the
// server's Babel uses) and dates in that language (Intl, in the reader's own time zone).
// Without a catalog (English, the code's own language) the words are the message ids.

const root = document.documentElement;
/** The page's BCP 47 tag: the blog's on reader pages, the user's in the newsroom. */
export const lang = root.lang || "en";

/** @type {{words?: Record<string, string>, plurals?: Record<string, Record<string, string>>}} */
const catalog = JSON.parse(document.getElementById("catalog")?.textContent || "{}");
const pluralRules = new Intl.PluralRules(lang);
const numbers = new Intl.NumberFormat(lang);

/**
 * @param {string} text  with `{name}` placeholders
 * @param {Record<string, string | number>} values
 */
function fill(text, values) {
  return text.replace(/\{(\w+)\}/g, (whole, name) => {
    const value = values[name];
    if (value === undefined) return whole;
    return typeof value === "number" ? numbers.format(value) : value;
  });
}

/**
 * A message in the page's language: `t("Live")`, `t("Link: {url}", {url})`.
 * @param {string} message
 * @param {Record<string, string | number>} [values]
 */
export function t(message, values = {}) {
  return fill(catalog.words?.[message] || message, values);
}

/**
 * A message with a count, in the plural form the language uses for it:
 * `tn("{n} new update", "{n} new updates", 5)`.
 * @param {string} singular
 * @param {string} plural
 * @param {number} n
 * @param {Record<string, string | number>} [values]
 */
export function tn(singular, plural, n, values = {}) {
  const forms = catalog.plurals?.[singular];
  const text = forms
    ? forms[pluralRules.select(n)] || forms.other
    : n === 1 ? singular : plural;
  return fill(text, { n, ...values });
}

export const formats = {
  time: new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" }),
  day: new Intl.DateTimeFormat(lang, { day: "numeric", month: "short" }),
  full: new Intl.DateTimeFormat(lang, { dateStyle: "full", timeStyle: "short" }),
  relative: new Intl.RelativeTimeFormat(lang, { numeric: "auto" }),
};

/**
 * A message with elements in it, as a list to `append`: `parts(t("Updated {time}"), {time})`
 * keeps the language's word order around the element.
 * @param {string} text  translated, with `{name}` placeholders
 * @param {Record<string, Node | string>} nodes
 * @returns {(Node | string)[]}
 */
export function parts(text, nodes) {
  return text.split(/(\{\w+\})/).filter(Boolean).map((piece) => {
    const name = /^\{(\w+)\}$/.exec(piece)?.[1];
    return name && name in nodes ? nodes[name] : piece;
  });
}
