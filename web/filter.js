// @ts-check
// The filter a reader's page was opened with (app/domain/filters.py): the page shows only
// the entries it lets through, and keeps doing so as entries are posted, edited and deleted.

/**
 * @typedef {{tag: string | null, keyEvents: boolean}} Filter
 * @param {DOMStringMap} data  the page's <body> data attributes
 * @returns {Filter}
 */
export function pageFilter(data) {
  return { tag: data.filterTag ?? null, keyEvents: "filterKeyEvents" in data };
}

/** @param {Filter} filter */
export function filtering(filter) {
  return filter.tag !== null || filter.keyEvents;
}

/**
 * @param {Filter} filter
 * @param {{tags?: string[], key_event: boolean}} entry
 */
export function lets(filter, entry) {
  if (filter.tag !== null && !(entry.tags ?? []).includes(filter.tag)) return false;
  return !filter.keyEvents || entry.key_event;
}

/** The filter as the API's query parameters. @param {Filter} filter */
export function filterParams(filter) {
  const params = new URLSearchParams();
  if (filter.tag !== null) params.set("tag", filter.tag);
  if (filter.keyEvents) params.set("key_events", "1");
  return params;
}
