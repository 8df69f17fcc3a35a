// Projects: each with its image and tag counts and the latest trained iteration's top-1;
// create, rename, delete (with confirmation).

import { api } from "../api.js";
import { h, statusLine, describe, percent, confirmDialog, promptDialog, when } from "../ui.js";

export async function render({ main, navigate, t }) {
  const status = statusLine("projects-status");
  const name = h("input", { type: "text", id: "new-project-name", required: true, maxlength: 256 });
  const description = h("input", { type: "text", id: "new-project-description" });
  const form = h("form", { class: "card", id: "new-project" },
    h("h2", {}, t("projects.create")),
    h("div", { class: "row" },
      h("label", { class: "field" }, t("projects.name"), name),
      h("label", { class: "field" }, t("projects.description"), description),
      h("button", { type: "submit", class: "primary", id: "create-project" }, t("projects.createButton"))));
  const body = h("tbody");
  const table = h("div", { class: "card" },
    h("h1", {}, t("projects.title")),
    status,
    h("div", { class: "table-wrap" },
      h("table", { class: "projects", id: "project-table" },
        h("thead", {}, h("tr", {},
          h("th", {}, t("projects.name")),
          h("th", { class: "n" }, t("projects.images")),
          h("th", { class: "n" }, t("projects.tags")),
          h("th", { class: "n" }, t("projects.top1")),
          h("th", {}, t("projects.created")),
          h("th", {}, h("span", { class: "sr" }, t("projects.actions"))))),
        body)));
  main.append(table, form);

  async function load() {
    let list;
    try {
      list = await api.projects();
    } catch (e) {
      status.error(t("projects.loadFailed"), e);
      return;
    }
    body.replaceChildren();
    if (list.length === 0) {
      body.append(h("tr", {}, h("td", { colspan: 6, class: "muted" }, t("projects.none"))));
    }
    for (const p of list) {
      const top1 = h("td", { class: "n", dataset: { project: p.id } }, "…");
      body.append(h("tr", { dataset: { project: p.id } },
        h("td", {}, h("a", { href: `#/p/${p.id}/photos` }, p.name), p.description ? h("div", { class: "muted" }, p.description) : null),
        h("td", { class: "n" }, p.imageCount),
        h("td", { class: "n" }, p.tagCount),
        top1,
        h("td", {}, when(p.created)),
        h("td", {},
          h("button", { type: "button", class: "link", onclick: () => rename(p) }, t("common.rename")),
          h("button", { type: "button", class: "link danger", onclick: () => remove(p), "aria-label": t("projects.deleteNamed", { name: p.name }) }, t("common.delete")))));
      latestTop1(p.id, top1);
    }
  }

  // The latest trained iteration's top-1, as its performance route reports it.
  async function latestTop1(id, cell) {
    try {
      const its = await api.iterations(id);
      const done = its.find((i) => i.status === "Completed");
      if (!done) {
        cell.textContent = "–";
        cell.title = t("projects.notTrained");
        return;
      }
      const perf = await api.performance(id, done.id);
      cell.textContent = percent(perf.top1);
      cell.dataset.value = String(perf.top1);
      cell.title = done.name;
    } catch (e) {
      cell.textContent = "?";
      cell.title = describe(t("projects.top1Failed"), e);
    }
  }

  async function rename(p) {
    const value = await promptDialog(t("projects.renameTo"), p.name);
    if (!value || value === p.name) return;
    try {
      await api.updateProject(p.id, { name: value });
      status.set(t("projects.renamed", { name: value }), "ok");
      load();
    } catch (e) {
      status.error(t("projects.renameFailed"), e);
    }
  }

  async function remove(p) {
    if (!(await confirmDialog(t("projects.confirmDelete", { name: p.name, images: p.imageCount })))) return;
    try {
      await api.deleteProject(p.id);
      status.set(t("projects.deleted", { name: p.name }), "ok");
      load();
    } catch (e) {
      status.error(t("projects.deleteFailed"), e);
    }
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const p = await api.createProject(name.value.trim(), description.value.trim());
      navigate(`#/p/${p.id}/photos`);
    } catch (err) {
      status.error(t("projects.createFailed"), err);
    }
  });
  await load();
}
