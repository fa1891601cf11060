// The newsroom: compose, curate and manage live blogs through the REST API.
//
// Built for bad connections: every post goes through an outbox kept in localStorage with
// its own Idempotency-Key, and is retried until the server answers, so a post is never
// lost and never doubled; what is being typed survives a reload.

import { $ } from "../dom.js";
import { t } from "../i18n.js";
import { loadTokens, roleName, wireAdmin } from "./admin.js";
import { loadProfiles, wireBylines } from "./bylines.js";
import { api } from "./api.js";
import { wireBox } from "./boxeditor.js";
import {
  AUDIENCE_SECONDS, loadBlogs, openBlog, refreshAudience, refreshDrafts,
} from "./blogs.js";
import {
  flushOutbox, post, preview, readOutbox, renderOutbox, saveCompose, upload,
} from "./compose.js";
import { renderAlso } from "./entries.js";
import { QUEUE_SECONDS, refreshQueue, renderQueue } from "./queue.js";
import { TOKEN_KEY, isContributor, state } from "./state.js";

// --- signing in ------------------------------------------------------------------------

export async function signIn(token) {
  state.token = token;
  let answer;
  try {
    answer = await api("GET", "/api/me");
  } catch {
    $("#sign-in-error").textContent = t("The server cannot be reached; try again.");
    return false;
  }
  if (answer.status !== 200) {
    state.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    $("#sign-in-error").textContent = t("That token is unknown or revoked.");
    return false;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  state.me = answer.data;
  $("#who").textContent = `${state.me.name} · ${roleName(state.me.role)}`;
  $("#sign-in").hidden = true;
  $("#sign-out").hidden = false;
  $("#desk").hidden = false;
  $("#admin").hidden = state.me.role !== "admin";
  $("#box-panel").hidden = state.me.role === "contributor";
  $("#questions-panel").hidden = state.me.role === "contributor";
  if (isContributor()) {
    // Contributors submit; editors decide what is published, when, pinned or key.
    for (const node of document.querySelectorAll("[data-editorial]")) node.hidden = true;
    $("#drafts-panel").hidden = true;
    $("#c-post").textContent = t("Submit for approval");
    $("[data-queue-title]").textContent = t("Your submissions");
  }
  await loadBlogs();
  flushOutbox();
  await loadProfiles();
  if (state.me.role === "admin") loadTokens();
  return true;
}

export function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  location.reload();
}

// --- wiring ----------------------------------------------------------------------------

export function wire() {
  wireBylines(() => state.me?.role === "admin" && loadTokens());
  renderAlso(renderQueue);
  $("#sign-in-form").addEventListener("submit", (submit) => {
    submit.preventDefault();
    $("#sign-in-error").textContent = "";
    signIn($("#token-input").value.trim());
  });
  $("#sign-out").addEventListener("click", signOut);
  // The newsroom's own language, whatever the blogs' are: the server remembers it in a
  // cookie as it answers the picker's form (else the browser's languages).
  $("#ui-language").addEventListener("change", () => $("#ui-language-form").submit());
  $("#blog-select").addEventListener("change", (change) => openBlog(change.target.value));
  const form = $("#compose-form");
  form.addEventListener("submit", (submit) => {
    submit.preventDefault();
    post();
  });
  form.addEventListener("input", () => {
    saveCompose();
    preview();
  });
  form.addEventListener("keydown", (key) => {
    if (key.key === "Enter" && (key.ctrlKey || key.metaKey)) {
      key.preventDefault();
      post();
    }
  });
  $("#c-when").addEventListener("change", () => {
    $("#c-at").hidden = $("#c-when").value !== "schedule";
    saveCompose();
  });
  $("#c-file").addEventListener("change", () => upload($("#c-file").files[0]));
  const area = $("#c-body");
  area.addEventListener("paste", (paste) => {
    const file = [...paste.clipboardData.files].find((f) => f.type.startsWith("image/"));
    if (file) {
      paste.preventDefault();
      upload(file);
    }
  });
  area.addEventListener("dragover", (drag) => {
    drag.preventDefault();
    area.classList.add("dropping");
  });
  area.addEventListener("dragleave", () => area.classList.remove("dropping"));
  area.addEventListener("drop", (drop) => {
    drop.preventDefault();
    area.classList.remove("dropping");
    upload(drop.dataTransfer.files[0]);
  });
  window.addEventListener("online", flushOutbox);
  // Drafts send no events: colleagues' new ones show on a timer and when the tab is back.
  setInterval(() => state.slug && state.token && refreshDrafts(), 30000);
  window.addEventListener("focus", () => state.slug && state.token && refreshDrafts());
  setInterval(refreshQueue, QUEUE_SECONDS * 1000);
  setInterval(refreshAudience, AUDIENCE_SECONDS * 1000);
  window.addEventListener("focus", refreshQueue);
  wireAdmin();
  wireBox();
  renderOutbox(readOutbox());
}

wire();
if (state.token) signIn(state.token);
