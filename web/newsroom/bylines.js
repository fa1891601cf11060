// Bylines: the profiles entries are bylined with. Admins keep them (and tie tokens to
// them); whoever posts may name an entry's authors, by default their own profile.

import { $, button, el } from "../dom.js";
import { t } from "../i18n.js";
import { api, detail, unreachable } from "./api.js";
import { isContributor, state } from "./state.js";

let profilesChanged = () => {};

export async function loadProfiles() {
  const answer = await api("GET", "/api/authors").catch(() => null);
  if (!answer || answer.status !== 200) return;
  state.authors = answer.data.authors;
  const select = /** @type {HTMLSelectElement} */ ($("#c-authors"));
  const chosen = new Set([...select.selectedOptions].map((o) => Number(o.value)));
  if (!select.dataset.touched) chosen.add(state.me.author_id);
  select.replaceChildren(...state.authors.map((author) => {
    const option = new Option(author.role ? `${author.name} (${author.role})` : author.name, String(author.id));
    option.selected = chosen.has(author.id);
    return option;
  }));
  select.size = Math.min(Math.max(state.authors.length, 2), 6);
  $("#c-authors-field").hidden = state.authors.length === 0 || isContributor();
  if (state.me.role === "admin") renderProfiles();
}

/** The authors a new entry names: undefined while the choice is the token's own profile. */
export function chosenAuthors() {
  if (isContributor()) return undefined; // theirs carry their own byline
  const select = /** @type {HTMLSelectElement} */ ($("#c-authors"));
  const ids = [...select.selectedOptions].map((o) => Number(o.value));
  const own = state.me.author_id ? [state.me.author_id] : [];
  return ids.length === own.length && ids.every((id, i) => id === own[i]) ? undefined : ids;
}

/** A select of the profiles (and none) for a token, `current` chosen. */
export function profileSelect(current) {
  const select = /** @type {HTMLSelectElement} */ (el("select"));
  select.append(new Option(t("No byline"), ""));
  for (const author of state.authors || []) {
    select.append(new Option(author.name, String(author.id), false, author.id === current));
  }
  return select;
}

function renderProfiles() {
  $("#author-rows").replaceChildren(...state.authors.map((author) => {
    const row = el("tr");
    row.dataset.author = String(author.id);
    const link = author.url ? Object.assign(el("a", "", author.url), { href: author.url }) : "";
    row.append(el("td", "", author.name), el("td", "", author.role), el("td"));
    row.lastChild.append(link);
    const actions = el("td");
    actions.append(
      button(t("Edit"), () => editProfile(author)),
      button(t("Delete"), async () => {
        if (!confirm(t("Delete the profile “{name}”?", { name: author.name }))) return;
        const answer = await api("DELETE", `/api/authors/${author.id}`).catch(unreachable);
        $("#a-result").textContent = !answer
          ? t("Not deleted: the server cannot be reached.")
          : answer.status === 204 ? t("Deleted.") : t("Not deleted: {reason}", { reason: detail(answer) });
        await loadProfiles();
        profilesChanged();
      }),
    );
    row.append(actions);
    return row;
  }));
}

function editProfile(author) {
  const form = /** @type {HTMLFormElement} */ ($("#author-form"));
  form.dataset.editing = String(author.id);
  $("#a-name").value = author.name;
  $("#a-role").value = author.role;
  $("#a-photo").value = author.photo_url || "";
  $("#a-url").value = author.url || "";
  $("#a-save").textContent = t("Save profile");
  $("#a-name").focus();
}

/** @param {() => void} changed  told when the profiles changed (tokens' selects show them) */
export function wireBylines(changed) {
  $("#c-authors").addEventListener("change", (change) => {
    /** @type {HTMLElement} */ (change.target).dataset.touched = "1";
  });
  const form = /** @type {HTMLFormElement} */ ($("#author-form"));
  profilesChanged = changed;
  form.addEventListener("submit", async (submit) => {
    submit.preventDefault();
    const json = {
      name: $("#a-name").value,
      role: $("#a-role").value,
      photo_url: $("#a-photo").value.trim() || null,
      url: $("#a-url").value.trim() || null,
    };
    const editing = form.dataset.editing;
    const answer = await api(editing ? "PATCH" : "POST", editing ? `/api/authors/${editing}` : "/api/authors", { json }).catch(() => null);
    const ok = answer && (answer.status === 200 || answer.status === 201);
    $("#a-result").textContent = !answer
      ? t("The server cannot be reached.")
      : ok ? t("Saved.") : t("Not saved: {reason}", { reason: detail(answer) });
    if (!ok) return;
    delete form.dataset.editing;
    form.reset();
    $("#a-save").textContent = t("Add profile");
    await loadProfiles();
    profilesChanged();
  });
}
