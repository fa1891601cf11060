// One call to the REST API, with the token; what went wrong, in words.

import { state } from "./state.js";

export class NetworkError extends Error {}

// Leaving the page (a reload, the language switched) aborts its requests: that is no error
// to report, so such a request never settles. (Not `beforeunload`: a navigation may still be
// called off after it, and the outbox needs its errors to retry.)
let leaving = false;
addEventListener("pagehide", () => (leaving = true));

// One call to the API. Answers {status, data}; throws NetworkError when nothing came back.
export async function api(method, path, { json, form, headers = {} } = {}) {
  const init = { method, headers: { Authorization: `Bearer ${state.token}`, ...headers } };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.body = form;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (leaving) return new Promise(() => {});
    throw new NetworkError(String(error));
  }
  const text = await response.text().catch(() => "");
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text.slice(0, 200) };
  }
  return { status: response.status, data, headers: response.headers };
}

/** For `.catch`: no answer (the server is unreachable) is null; any other error stays one. */
export function unreachable(error) {
  if (error instanceof NetworkError) return null;
  throw error;
}

export function detail(answer) {
  const d = answer.data && answer.data.detail;
  if (Array.isArray(d)) return d.map((p) => `${(p.loc || []).slice(-1)[0]}: ${p.msg}`).join("; ");
  return d || `error ${answer.status}`; // the API's own words, in English
}
