// For admins: the blog's settings, new blogs and tokens.

import { $, button, el } from "../dom.js";
import { api, detail } from "./api.js";
import { loadBlogs } from "./blogs.js";
import { state } from "./state.js";

// --- admin -----------------------------------------------------------------------------

export function showBlogSettings() {
  if (!state.blog) return;
  $("#b-title").value = state.blog.title;
  $("#b-description").value = state.blog.description;
  $("#b-notice").value = state.blog.notice || "";
  $("#b-status").value = state.blog.status;
}

export const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export async function loadTokens() {
  const answer = await api("GET", "/api/tokens");
  if (answer.status !== 200) return;
  $("#token-rows").replaceChildren(
    ...answer.data.tokens.map((t) => {
      const row = el("tr");
      if (t.revoked_at) row.dataset.revoked = "";
      row.append(
        el("td", "", t.name),
        el("td", "", t.role),
        el("td", "", dateTime.format(new Date(t.created_at))),
        el("td", "", t.revoked_at ? "revoked" : "active"),
      );
      const cell = el("td");
      if (!t.revoked_at && t.id !== state.me.id) {
        cell.append(
          button("Revoke", async () => {
            if (!confirm(`Revoke the token "${t.name}"? It stops working at once.`)) return;
            await api("DELETE", `/api/tokens/${t.id}`);
            loadTokens();
          }),
        );
      }
      row.append(cell);
      return row;
    }),
  );
}

export function wireAdmin() {
  $("#blog-form").addEventListener("submit", async (submit) => {
    submit.preventDefault();
    const answer = await api("PATCH", `/api/blogs/${state.slug}`, {
      json: {
        title: $("#b-title").value,
        description: $("#b-description").value,
        notice: $("#b-notice").value,
        status: $("#b-status").value,
      },
    }).catch(() => null);
    $("#b-result").textContent = !answer
      ? "Not saved: the server cannot be reached."
      : answer.status === 200 ? "Saved." : `Not saved: ${detail(answer)}`;
    if (answer && answer.status === 200) {
      state.blog = answer.data;
      loadBlogs(state.slug);
    }
  });
  $("#new-blog-form").addEventListener("submit", async (submit) => {
    submit.preventDefault();
    const answer = await api("POST", "/api/blogs", {
      json: {
        slug: $("#nb-slug").value,
        title: $("#nb-title").value,
        description: $("#nb-description").value,
      },
    }).catch(() => null);
    if (!answer || answer.status !== 201) {
      $("#nb-result").textContent = answer ? `Not created: ${detail(answer)}` : "The server cannot be reached.";
      return;
    }
    $("#nb-result").textContent = "Created.";
    submit.target.reset();
    loadBlogs(answer.data.slug);
  });
  $("#token-form").addEventListener("submit", async (submit) => {
    submit.preventDefault();
    const answer = await api("POST", "/api/tokens", {
      json: { name: $("#t-name").value, role: $("#t-role").value },
    }).catch(() => null);
    if (!answer || answer.status !== 201) {
      $("#t-new").textContent = answer ? `Not created: ${detail(answer)}` : "The server cannot be reached.";
      return;
    }
    $("#t-new").textContent = `New ${answer.data.role} token for ${answer.data.name} (shown once): ${answer.data.token}`;
    submit.target.reset();
    loadTokens();
  });
}
