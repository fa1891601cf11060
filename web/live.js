// The reader's live client. The page is complete without it; with it, the page follows
// the blog: it resumes from the offset the page was rendered at, applies each event once,
// in order, and never moves the text under a reader who has scrolled down.

const body = document.body;
const slug = body.dataset.blog;
const $ = (selector) => document.querySelector(selector);

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dateFormat = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

function label(date) {
  const minutes = Math.round((Date.now() - date) / 60000);
  if (minutes >= 0 && minutes < 60) {
    return minutes < 1 ? "just now" : relative.format(-minutes, "minute");
  }
  const today = new Date().toDateString() === date.toDateString();
  return timeFormat.format(date) + (today ? "" : " " + dateFormat.format(date));
}

// Times arrive in UTC (and the blog's zone, for readers without JavaScript): show them
// in the reader's own time, relative while recent.
function localizeTimes(root) {
  for (const time of root.querySelectorAll("time[data-time]")) {
    const date = new Date(time.getAttribute("datetime"));
    if (Number.isNaN(date.getTime())) continue;
    time.textContent = time.classList.contains("updated-time")
      ? timeFormat.format(date)
      : label(date);
    time.title = fullFormat.format(date);
  }
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function timeElement(iso, className) {
  const time = el("time", className);
  time.dateTime = iso;
  time.dataset.time = "";
  return time;
}

// The same markup as the server's _entry.html. `entry.html` is sanitised by the server;
// everything else goes in as text.
function renderEntry(entry, prefix = "entry") {
  const article = el(
    "article",
    "entry" + (entry.key_event ? " key-event" : "") + (entry.pinned ? " pinned" : ""),
  );
  article.id = `${prefix}-${entry.id}`;
  article.dataset.id = entry.id;
  article.dataset.version = entry.version;
  const meta = el("header", "entry-meta");
  const link = el("a", "permalink");
  link.href = `#entry-${entry.id}`;
  link.title = "Link to this update";
  link.append(timeElement(entry.published_at));
  meta.append(link);
  if (entry.key_event) meta.append(el("span", "badge key", "Key event"));
  if (entry.pinned) meta.append(el("span", "badge pin", "Pinned"));
  article.append(meta);
  if (entry.headline) article.append(el("h2", "headline", entry.headline));
  const content = el("div", "body");
  content.innerHTML = entry.html;
  article.append(content);
  const foot = el("footer", "entry-foot");
  foot.append(el("span", "author", entry.author));
  if (entry.updated_at) {
    const updated = el("span", "updated", "Updated ");
    updated.append(timeElement(entry.updated_at, "updated-time"));
    foot.append(updated);
  }
  article.append(foot);
  localizeTimes(article);
  return article;
}

function summary(entry) {
  if (entry.headline) return entry.headline;
  const text = el("div");
  text.innerHTML = entry.html;
  const plain = text.textContent.replace(/\s+/g, " ").trim();
  return plain.length > 90 ? plain.slice(0, 89) + "…" : plain;
}

if (slug) {
  localizeTimes(document);
  setInterval(() => localizeTimes(document), 60_000);
  if (!("archive" in body.dataset)) follow();
  enableOlder();
  reportHeight();
}

function follow() {
  const feed = $("[data-feed]");
  const pinnedArea = $("[data-pinned]");
  const keyList = $("[data-key-events]");
  const newButton = $("[data-new-updates]");
  const announcer = $("[data-announcer]");
  const baseTitle = document.title;
  let offset = Number(body.dataset.offset) || 0;
  let ended = body.dataset.status === "ended";
  let held = []; // new entries waiting behind the "N new updates" button, oldest first
  let socket = null;
  let source = null;
  let attempts = 0;
  let failures = 0;
  let timer = null;

  function setStatus(state) {
    body.dataset.connection = state;
    const text = { live: "Live", reconnecting: "Reconnecting…", ended: "Ended", offline: "Offline" };
    $("[data-status-text]").textContent = text[state];
    $("[data-status-dot]").title = text[state];
  }

  function readerIsBelowTheTop() {
    return feed.getBoundingClientRect().top < 0;
  }

  function showHeld() {
    for (const article of held) feed.prepend(article);
    held = [];
    newButton.hidden = true;
    document.title = baseTitle;
  }

  function updateButton() {
    newButton.hidden = held.length === 0;
    newButton.textContent = `${held.length} new update${held.length === 1 ? "" : "s"}`;
    document.title = held.length ? `(${held.length}) ${baseTitle}` : baseTitle;
  }

  newButton.addEventListener("click", () => {
    showHeld();
    feed.scrollIntoView({ behavior: "smooth", block: "start" });
  });
  window.addEventListener("scroll", () => {
    if (held.length && !readerIsBelowTheTop()) showHeld();
  }, { passive: true });

  function upsertPinned(entry) {
    const existing = document.getElementById(`pinned-${entry.id}`);
    if (entry.pinned) {
      const article = renderEntry(entry, "pinned");
      if (existing) existing.replaceWith(article);
      else pinnedArea.prepend(article);
    } else if (existing) {
      existing.remove();
    }
    pinnedArea.hidden = !pinnedArea.querySelector("article");
  }

  function upsertKeyEvent(entry) {
    const existing = keyList.querySelector(`li[data-id="${entry.id}"]`);
    if (entry.key_event) {
      const item = el("li");
      item.dataset.id = entry.id;
      const link = el("a");
      link.href = `#entry-${entry.id}`;
      link.append(timeElement(entry.published_at), " ", el("span", "key-title", summary(entry)));
      item.append(link);
      localizeTimes(item);
      if (existing) existing.replaceWith(item);
      else keyList.prepend(item);
    } else if (existing) {
      existing.remove();
    }
    $("[data-key-events-empty]").hidden = Boolean(keyList.querySelector("li"));
  }

  function created(entry) {
    if (document.getElementById(`entry-${entry.id}`) || held.some((a) => a.dataset.id == entry.id)) {
      return updated(entry); // already on the page (rendered after its event was logged)
    }
    const article = renderEntry(entry);
    $("[data-feed-empty]")?.remove();
    if (readerIsBelowTheTop()) {
      held.push(article);
      updateButton();
    } else {
      feed.prepend(article);
    }
    upsertPinned(entry);
    upsertKeyEvent(entry);
    announcer.textContent = `New update: ${summary(entry)}`;
  }

  function updated(entry) {
    const article = renderEntry(entry);
    const existing = document.getElementById(`entry-${entry.id}`);
    if (existing) existing.replaceWith(article); // in place: edits never reorder
    held = held.map((a) => (a.dataset.id == entry.id ? article : a));
    upsertPinned(entry);
    upsertKeyEvent(entry);
  }

  function removed(id) {
    for (const node of document.querySelectorAll(`#entry-${id}, #pinned-${id}`)) node.remove();
    keyList.querySelector(`li[data-id="${id}"]`)?.remove();
    $("[data-key-events-empty]").hidden = Boolean(keyList.querySelector("li"));
    pinnedArea.hidden = !pinnedArea.querySelector("article");
    held = held.filter((a) => a.dataset.id != id);
    updateButton();
  }

  function applyBlog(blog) {
    $("[data-title]").textContent = blog.title;
    $("[data-description]").textContent = blog.description;
    const notice = $("[data-notice]");
    notice.textContent = blog.notice || "";
    notice.hidden = !blog.notice;
    const wasEnded = ended;
    ended = blog.status === "ended";
    body.dataset.status = blog.status;
    const endedNote = $("[data-ended]");
    endedNote.hidden = !ended;
    if (ended && blog.ended_at) {
      endedNote.textContent = `This live blog has ended: last update ${label(new Date(blog.ended_at))}.`;
    }
    if (ended) {
      setStatus("ended");
      disconnect();
    } else if (wasEnded) {
      connect();
    }
  }

  function apply(event) {
    if (event.type === "hello") {
      if (event.blog) applyBlog(event.blog);
      if (!ended) setStatus("live");
      return;
    }
    if (event.offset <= offset) return; // seen already
    offset = event.offset;
    switch (event.type) {
      case "entry.created": return created(event.entry);
      case "entry.updated": return updated(event.entry);
      case "entry.deleted": return removed(event.entry_id);
      case "blog.updated": return applyBlog(event.blog);
    }
  }

  function disconnect() {
    clearTimeout(timer);
    socket?.close(1000);
    socket = null;
    source?.close();
    source = null;
  }

  function retry() {
    clearTimeout(timer);
    // Exponential backoff with jitter, so that a restarted server is not hit by every
    // reader in the same instant.
    const delay = Math.min(15000, 500 * 2 ** attempts++) * (0.5 + Math.random());
    timer = setTimeout(connect, delay);
  }

  function connect() {
    if (ended || socket || source) return;
    if (failures >= 3 && "EventSource" in window) return followEvents();
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${scheme}//${location.host}/ws/blogs/${encodeURIComponent(slug)}?since=${offset}`;
    let opened = false;
    socket = new WebSocket(url);
    socket.onmessage = (message) => {
      opened = true;
      attempts = 0;
      failures = 0;
      apply(JSON.parse(message.data));
    };
    socket.onclose = (close) => {
      socket = null;
      if (close.code === 4400) return location.reload(); // our offset is no good: start afresh
      if (ended) return setStatus("ended");
      if (close.code === 4404) return setStatus("offline");
      if (!opened) failures++;
      setStatus("reconnecting");
      retry();
    };
  }

  // When WebSockets keep failing (a proxy that refuses them), Server-Sent Events do the
  // same job; the browser resumes them by itself with Last-Event-ID.
  function followEvents() {
    source = new EventSource(`/blogs/${encodeURIComponent(slug)}/events?since=${offset}`);
    source.onmessage = (message) => apply(JSON.parse(message.data));
    source.onerror = () => !ended && setStatus("reconnecting");
  }

  window.addEventListener("online", () => {
    if (!socket && !source && !ended) {
      attempts = 0;
      connect();
    }
  });

  if (ended) setStatus("ended");
  else connect();
}

// "Load older updates" works as a link without JavaScript; with it, older updates are
// added below without leaving the page.
function enableOlder() {
  const link = $("[data-older]");
  if (!link) return;
  link.addEventListener("click", async (click) => {
    click.preventDefault();
    const url = `/api/blogs/${encodeURIComponent(slug)}/entries?limit=20&before=${encodeURIComponent(link.dataset.older)}`;
    const response = await fetch(url);
    if (!response.ok) return (location.href = link.href);
    const page = await response.json();
    const feed = $("[data-feed]");
    for (const entry of page.entries) {
      if (!document.getElementById(`entry-${entry.id}`)) feed.append(renderEntry(entry));
    }
    if (page.next) {
      link.dataset.older = page.next;
      link.href = `?before=${page.next}`;
    } else {
      link.parentElement.remove();
    }
  });
}

// Inside the embed's iframe, tell the host page how tall the blog is.
function reportHeight() {
  if (window.parent === window || !("ResizeObserver" in window)) return;
  new ResizeObserver(() => {
    window.parent.postMessage(
      { type: "liveupdates:height", height: document.documentElement.scrollHeight },
      "*",
    );
  }).observe(document.body);
}
