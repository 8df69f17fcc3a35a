// Collect from the web (Kao): per tag, an image-search query, a site to crawl, or a list of
// image URLs becomes a crawl job on the server; its progress and summary (kept, dropped
// by reason, added to the tag) update live.

import { api } from "../api.js";
import { h, statusLine, when, poller } from "../ui.js";

export async function render(ctx) {
  const { main, projectId, server, t } = ctx;
  const status = statusLine("collect-status");
  let tags = [];
  try {
    tags = await api.tags(projectId);
  } catch (e) {
    status.error(t("collect.tagsFailed"), e);
  }
  const tag = h("select", { id: "crawl-tag", required: true }, tags.map((x) => h("option", { value: x.id }, x.name)));
  const kind = h("select", { id: "crawl-kind" },
    h("option", { value: "query" }, t("collect.kindQuery")),
    h("option", { value: "site" }, t("collect.kindSite")),
    h("option", { value: "urls" }, t("collect.kindUrls")));
  const query = h("input", { type: "text", id: "crawl-query", placeholder: t("collect.queryHint") });
  const site = h("input", { type: "url", id: "crawl-site", placeholder: "https://example.org/team/" });
  const depth = h("input", { type: "number", id: "crawl-depth", min: 0, max: 3, value: "1" });
  const urls = h("textarea", { id: "crawl-urls", placeholder: "https://example.org/a.jpg\nhttps://example.org/b.jpg" });
  const max = h("input", { type: "number", id: "crawl-max", min: 1, max: server.maxCrawlImages, value: "50" });
  const fields = {
    query: h("label", { class: "field" }, t("collect.query"), query),
    site: h("div", { class: "row" }, h("label", { class: "field" }, t("collect.site"), site), h("label", { class: "field" }, t("collect.depth"), depth)),
    urls: h("label", { class: "field" }, t("collect.urls"), urls),
  };
  const maxField = h("label", { class: "field" }, t("collect.max"), max);
  const showKind = () => {
    for (const [k, el] of Object.entries(fields)) el.hidden = k !== kind.value;
    maxField.hidden = kind.value === "urls";
  };
  kind.addEventListener("change", showKind);
  const form = h("form", { class: "card stack", id: "crawl-form" },
    h("h1", {}, t("collect.title")),
    h("p", { class: "muted" }, t("collect.help")),
    server.urlFetch ? null : h("p", { class: "status error", id: "crawl-off" }, t("collect.off")),
    h("div", { class: "row" }, h("label", { class: "field" }, t("collect.tag"), tag), h("label", { class: "field" }, t("collect.kind"), kind)),
    fields.query, fields.site, fields.urls, maxField,
    h("div", { class: "row" }, h("button", { type: "submit", class: "primary", id: "crawl-start" }, t("collect.start"))),
    status);
  showKind();
  const jobs = h("div", { id: "crawl-jobs" });
  main.append(form, h("div", { class: "card" }, h("h2", {}, t("collect.jobs")), jobs));

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!tag.value) {
      status.set(t("collect.noTag"), "error");
      return;
    }
    const request = { tagId: tag.value };
    if (kind.value === "query") request.query = query.value.trim();
    if (kind.value === "site") {
      request.site = site.value.trim();
      request.depth = Number(depth.value);
    }
    if (kind.value === "urls") request.urls = urls.value.split(/\s+/).filter(Boolean);
    if (kind.value !== "urls") request.max = Number(max.value);
    try {
      await api.startCrawl(projectId, request);
      status.set(t("collect.started"), "ok");
      refresh();
    } catch (err) {
      status.error(t("collect.startFailed"), err);
    }
  });

  function source(j) {
    const r = j.request;
    if (r.query) return t("collect.sourceQuery", { q: r.query });
    if (r.site) return t("collect.sourceSite", { url: r.site, depth: r.depth ?? 1 });
    return t("collect.sourceUrls", { n: (r.urls || []).length });
  }

  function card(j) {
    const rejected = Object.entries(j.rejected || {});
    const notAdded = Object.entries(j.notAdded || {});
    const pill = j.status === "Completed" ? "ok" : j.status === "Failed" ? "bad" : "run";
    return h("div", { class: "card crawl-job", dataset: { id: j.id, status: j.status, added: String(j.added), kept: String(j.kept) } },
      h("div", { class: "copyrow" },
        h("strong", {}, j.tagName, " · ", source(j)),
        h("span", { class: "pill " + pill }, t("status." + j.status, {}, j.status))),
      h("progress", { max: Math.max(j.found, 1), value: j.settled, "aria-label": t("collect.progress") }),
      h("p", { class: "num" }, t("collect.counts", { settled: j.settled, found: j.found, pages: j.pages })),
      h("table", {}, h("tbody", {},
        h("tr", {}, h("th", {}, t("collect.kept")), h("td", { class: "n" }, j.kept)),
        h("tr", {}, h("th", {}, t("collect.added")), h("td", { class: "n added" }, j.added)),
        h("tr", {}, h("th", {}, t("collect.already")), h("td", { class: "n" }, j.alreadyInProject)),
        h("tr", {}, h("th", {}, t("collect.duplicates")), h("td", { class: "n" }, j.duplicates)),
        rejected.map(([why, n]) => h("tr", {}, h("th", {}, t("collect.rejectedFor", { why })), h("td", { class: "n" }, n))),
        notAdded.map(([why, n]) => h("tr", {}, h("th", {}, t("collect.notAdded", { why })), h("td", { class: "n" }, n))))),
      j.error ? h("p", { class: "status error" }, j.error) : null,
      h("p", { class: "muted" }, when(j.created), j.finished ? " → " + when(j.finished) : ""));
  }

  let running = false;
  async function refresh() {
    let list;
    try {
      list = await api.crawls(projectId);
    } catch (e) {
      status.error(t("collect.jobsFailed"), e);
      return;
    }
    running = list.some((j) => j.status === "Running");
    jobs.replaceChildren(...(list.length ? list.map(card) : [h("p", { class: "muted" }, t("collect.noJobs"))]));
  }
  await refresh();
  // Live progress: every second while a job runs, every five otherwise.
  let ticks = 0;
  return poller(async () => {
    ticks++;
    if (running || ticks % 5 === 0) await refresh();
  }, 1000);
}
