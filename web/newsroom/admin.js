// For admins: the blog's settings, new blogs and tokens.

import { $, button, el } from "../dom.js";
import { lang, t } from "../i18n.js";
import { api, detail, unreachable } from "./api.js";
import { blogChanged, loadBlogs, localInput, settingEdited, settingsSaved } from "./blogs.js";
import { profileSelect } from "./bylines.js";
import { state } from "./state.js";

// --- admin -----------------------------------------------------------------------------

/** A role's name in the newsroom's language. @param {string} role */
export function roleName(role) {
  return {
    admin: t("admin"), editor: t("editor"), reporter: t("reporter"), contributor: t("contributor"),
  }[role] || role;
}

export const dateTime = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });

export async function loadTokens() {
  const answer = await api("GET", "/api/tokens").catch(unreachable);
  if (answer?.status !== 200) return;
  $("#token-rows").replaceChildren(
    ...answer.data.tokens.map((token) => {
      const row = el("tr");
      if (token.revoked_at) row.dataset.revoked = "";
      const byline = profileSelect(token.author_id);
      byline.setAttribute("aria-label", t("Byline"));
      byline.addEventListener("change", async () => {
        const answer = await api("PATCH", `/api/tokens/${token.id}`, {
          json: { author_id: byline.value ? Number(byline.value) : null },
        }).catch(unreachable);
        if (!answer) $("#t-new").textContent = t("Not changed: the server cannot be reached.");
        loadTokens();
      });
      const bylineCell = el("td");
      bylineCell.append(byline);
      row.append(
        el("td", "", token.name),
        el("td", "", roleName(token.role)),
        bylineCell,
        el("td", "", dateTime.format(new Date(token.created_at))),
        el("td", "", token.revoked_at ? t("revoked") : t("active")),
      );
      const cell = el("td");
      if (!token.revoked_at && token.id !== state.me.id) {
        cell.append(
          button(t("Revoke"), async () => {
            if (!confirm(t("Revoke the token “{name}”? It stops working at once.", { name: token.name }))) return;
            const answer = await api("DELETE", `/api/tokens/${token.id}`).catch(unreachable);
            if (!answer) $("#t-new").textContent = t("The server cannot be reached.");
            loadTokens();
          }),
        );
      }
      row.append(cell);
      return row;
    }),
  );
}

/** What the settings form changes of the blog's status and start: only what was changed
 * (an upcoming blog saved as it is stays upcoming). */
function blogStart() {
  const changes = {};
  const status = $("#b-status").value;
  if (status !== state.blog?.status) changes.status = status;
  const starts = $("#b-starts").value;
  const was = state.blog?.starts_at ? localInput(new Date(state.blog.starts_at)) : "";
  if (starts && starts !== was) changes.starts_at = new Date(starts).toISOString();
  return changes;
}

export function wireAdmin() {
  $("#blog-form").addEventListener("submit", async (submit) => {
    submit.preventDefault();
    const answer = await api("PATCH", `/api/blogs/${state.slug}`, {
      json: {
        title: $("#b-title").value,
        description: $("#b-description").value,
        notice: $("#b-notice").value,
        language: $("#b-language").value,
        show_audience: $("#b-show-audience").checked,
        accepts_questions: $("#b-accepts-questions").checked,
        ...blogStart(),
      },
    }).catch(() => null);
    $("#b-result").textContent = !answer
      ? t("Not saved: the server cannot be reached.")
      : answer.status === 200 ? t("Saved.") : t("Not saved: {reason}", { reason: detail(answer) });
    if (answer && answer.status === 200) {
      settingsSaved();
      blogChanged(answer.data);
    }
  });
  $("#blog-form").addEventListener("input", (input) => settingEdited(input.target.id));
  $("#new-blog-form").addEventListener("submit", async (submit) => {
    submit.preventDefault();
    const answer = await api("POST", "/api/blogs", {
      json: {
        slug: $("#nb-slug").value,
        title: $("#nb-title").value,
        description: $("#nb-description").value,
        ...($("#nb-language").value ? { language: $("#nb-language").value } : {}),
        ...($("#nb-starts").value ? { starts_at: new Date($("#nb-starts").value).toISOString() } : {}),
      },
    }).catch(() => null);
    if (!answer || answer.status !== 201) {
      $("#nb-result").textContent = answer ? t("Not created: {reason}", { reason: detail(answer) }) : t("The server cannot be reached.");
      return;
    }
    $("#nb-result").textContent = t("Created.");
    submit.target.reset();
    loadBlogs(answer.data.slug);
  });
  $("#token-form").addEventListener("submit", async (submit) => {
    submit.preventDefault();
    const answer = await api("POST", "/api/tokens", {
      json: { name: $("#t-name").value, role: $("#t-role").value },
    }).catch(() => null);
    if (!answer || answer.status !== 201) {
      $("#t-new").textContent = answer ? t("Not created: {reason}", { reason: detail(answer) }) : t("The server cannot be reached.");
      return;
    }
    $("#t-new").textContent = t("New {role} token for {name} (shown once): {token}", {
      role: roleName(answer.data.role), name: answer.data.name, token: answer.data.token,
    });
    submit.target.reset();
    loadTokens();
  });
}
