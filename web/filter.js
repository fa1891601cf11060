// @ts-check
// The filter a reader's page was opened with (app/domain/filters.py): the page shows only
// the entries it lets through, and keeps doing so as entries are posted, edited and deleted.

/**
 * @typedef {{tag: string | null, keyEvents: boolean, author: number | null}} Filter
 * @param {DOMStringMap} data  the page's <body> data attributes
 * @returns {Filter}
 */
export function pageFilter(data) {
  return {
    tag: data.filterTag ?? null,
    keyEvents: "filterKeyEvents" in data,
    author: data.filterAuthor ? Number(data.filterAuthor) : null,
  };
}

/** @param {Filter} filter */
export function filtering(filter) {
  return filter.tag !== null || filter.keyEvents || filter.author !== null;
}

/**
 * @param {Filter} filter
 * @param {{tags?: string[], key_event: boolean, authors?: {id: number}[]}} entry
 */
export function lets(filter, entry) {
  if (filter.tag !== null && !(entry.tags ?? []).includes(filter.tag)) return false;
  if (filter.author !== null && !(entry.authors ?? []).some((a) => a.id === filter.author)) {
    return false;
  }
  return !filter.keyEvents || entry.key_event;
}

/** The filter as the API's query parameters. @param {Filter} filter */
export function filterParams(filter) {
  const params = new URLSearchParams();
  if (filter.tag !== null) params.set("tag", filter.tag);
  if (filter.keyEvents) params.set("key_events", "1");
  if (filter.author !== null) params.set("author", String(filter.author));
  return params;
}
