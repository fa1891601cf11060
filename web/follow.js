// @ts-check
// Following a blog's events: a WebSocket resumed from the last offset seen, with backoff
// and jitter between attempts; Server-Sent Events when WebSockets keep failing (a proxy
// that refuses them). Each event reaches `onEvent` once, in order.

import { CLOSE, EVENT } from "./events.js";

/**
 * @typedef {{type: string, offset?: number, [key: string]: any}} LiveEvent
 * @typedef {"live" | "reconnecting" | "offline"} Connection
 * @typedef {object} Options
 * @property {string} slug
 * @property {number} offset  the last offset already shown
 * @property {string} [epoch]  the stream that offset counts in (from the page or the API)
 * @property {(event: LiveEvent) => void} onEvent  each event after `offset`, in order
 * @property {(hello: LiveEvent) => void} [onHello]
 * @property {(readers: number) => void} [onAudience]  how many read now (blogs that show it)
 * @property {(polls: Record<string, any>) => void} [onPolls]  polls' results, by entry id
 * @property {(state: Connection) => void} [onStatus]
 * @property {() => void} [onReset]  the offset is no good (close 4400), or counts in
 *   another stream (4409: the blog was restored): start afresh from the server
 * @property {boolean} [eventSourceFallback]
 * @property {boolean} [inAudience]  false: not counted as a reader (the newsroom's own view)
 */

/** @param {Options} options */
export function follow(options) {
  const {
    slug, onEvent, onHello, onAudience, onPolls, onStatus = () => {},
    onReset = () => location.reload(),
  } = options;
  let offset = options.offset;
  let epoch = options.epoch || "";
  const uncounted = options.inAudience === false ? "&audience=no" : "";
  /** @type {WebSocket | null} */ let socket = null;
  /** @type {EventSource | null} */ let source = null;
  let attempts = 0;
  let failures = 0;
  let stopped = false;
  /** @type {ReturnType<typeof setTimeout> | undefined} */ let timer;

  /** @param {LiveEvent} event */
  function receive(event) {
    if (event.type === EVENT.HELLO) {
      if (epoch && event.epoch && event.epoch !== epoch) return reset(); // never spliced
      epoch = event.epoch || epoch;
      attempts = 0;
      failures = 0;
      onHello?.(event);
      if (typeof event.audience === "number") onAudience?.(event.audience);
      if (event.polls) onPolls?.(event.polls);
      onStatus("live");
      return;
    }
    if (event.type === EVENT.AUDIENCE) return onAudience?.(event.readers); // a notice
    if (event.type === EVENT.POLL_RESULTS) return onPolls?.(event.polls); // a notice
    if (event.offset === undefined || event.offset <= offset) return; // seen already
    offset = event.offset;
    onEvent(event);
  }

  function reset() {
    stop();
    onReset();
  }

  /** Where to resume: the offset, and the stream it counts in. */
  function position() {
    return `since=${offset}${epoch ? `&epoch=${encodeURIComponent(epoch)}` : ""}${uncounted}`;
  }

  function retry() {
    clearTimeout(timer);
    // Exponential backoff with jitter, so that a restarted server is not hit by every
    // reader in the same instant.
    const delay = Math.min(15000, 500 * 2 ** attempts++) * (0.5 + Math.random());
    timer = setTimeout(connect, delay);
  }

  function connect() {
    if (stopped || socket || source) return;
    if (options.eventSourceFallback && failures >= 3 && "EventSource" in window) {
      return followEvents();
    }
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const path = `/ws/blogs/${encodeURIComponent(slug)}?${position()}`;
    const ws = new WebSocket(`${scheme}//${location.host}${path}`);
    socket = ws;
    let opened = false;
    ws.onmessage = (message) => {
      opened = true;
      receive(JSON.parse(message.data));
    };
    ws.onclose = (close) => {
      if (socket !== ws) return;
      socket = null;
      if (stopped) return;
      if (close.code === CLOSE.BAD_OFFSET || close.code === CLOSE.STREAM_CHANGED) return reset();
      // No such blog, or archived (its page is all there is): nothing to come back for.
      if (close.code === CLOSE.NO_SUCH_BLOG || close.code === CLOSE.ARCHIVED) return onStatus("offline");
      if (!opened) failures++;
      onStatus("reconnecting");
      retry();
    };
  }

  // The browser resumes these by itself, with Last-Event-ID (`<offset>@<epoch>`). An
  // EventSource cannot read why it was refused: when it gives up, the blog itself says
  // whether our position is still good.
  function followEvents() {
    const es = new EventSource(`/blogs/${encodeURIComponent(slug)}/events?${position()}`);
    source = es;
    es.onmessage = (message) => receive(JSON.parse(message.data));
    es.onerror = () => {
      if (stopped || source !== es) return;
      onStatus("reconnecting");
      if (es.readyState === EventSource.CLOSED) {
        source = null;
        stillOurs().then((ours) => {
          if (ours === "archived") onStatus("offline");
          else if (ours) retry();
          else reset();
        }, retry);
      }
    };
  }

  /** Whether the blog's stream is still the one our offset counts in ("archived": there
   * is no stream to follow any more). @returns {Promise<boolean | "archived">} */
  async function stillOurs() {
    const answer = await fetch(`/api/blogs/${encodeURIComponent(slug)}`, { cache: "no-store" })
      .catch(() => null);
    if (!answer?.ok) return true; // nothing learnt (unreachable, or failing): try again later
    const blog = await answer.json();
    if (blog.archived_at) return "archived";
    return (!epoch || blog.epoch === epoch) && blog.offset >= offset;
  }

  function stop() {
    stopped = true;
    clearTimeout(timer);
    const ws = socket;
    socket = null;
    ws?.close(1000);
    source?.close();
    source = null;
  }

  function resume() {
    if (!stopped && (socket || source)) return;
    stopped = false;
    attempts = 0;
    connect();
  }

  window.addEventListener("online", () => {
    if (!stopped && !socket && !source) {
      attempts = 0;
      connect();
    }
  });

  connect();
  return { stop, resume };
}
