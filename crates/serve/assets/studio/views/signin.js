// Sign-in: the Training-Key, kept in sessionStorage only (gone when the tab closes).

import { api, session } from "../api.js";
import { h, statusLine, describe } from "../ui.js";

export async function render({ main, navigate, t, onSignedIn }) {
  const key = h("input", { type: "password", id: "training-key", autocomplete: "off", required: true, autofocus: true });
  const status = statusLine("signin-status");
  const form = h("form", { class: "card signin stack", id: "signin" },
    h("h1", {}, t("signin.title")),
    h("p", { class: "muted" }, t("signin.help")),
    h("label", { class: "field" }, t("signin.key"), key),
    h("p", { class: "muted" }, t("signin.session")),
    h("div", { class: "row" }, h("button", { type: "submit", class: "primary", id: "signin-button" }, t("signin.button"))),
    status);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const value = key.value.trim();
    if (!value) {
      status.set(t("signin.empty"), "error");
      return;
    }
    session.set(value);
    status.set(t("signin.checking"));
    try {
      onSignedIn(await api.server());
      navigate("#/projects");
    } catch (err) {
      session.clear();
      status.set(err.status === 401 ? t("signin.refused") : describe(t("signin.failed"), err), "error");
      key.focus();
    }
  });
  main.append(form);
  key.focus();
}
