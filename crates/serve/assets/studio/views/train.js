// Train: the button, the training's live progress by stage with its counts (the
// iteration's `kaoProgress`), the API's refusals in words, and the iterations so far.

import { api } from "../api.js";
import { h, statusLine, when, poller } from "../ui.js";

const STAGES = ["queued", "crop", "split", "augment", "train", "evaluate"];

export async function render(ctx) {
  const { main, projectId, server, t } = ctx;
  const status = statusLine("train-status");
  const button = h("button", { type: "button", class: "primary", id: "train-button" }, t("train.button"));
  const live = h("div", { id: "train-live" });
  const history = h("tbody");
  main.append(
    h("div", { class: "card stack" },
      h("h1", {}, t("train.title")),
      h("p", { class: "muted" }, t("train.help", { min: server.minImagesPerTag })),
      h("div", { class: "row" }, button),
      status,
      live),
    h("div", { class: "card" },
      h("h2", {}, t("train.iterations")),
      h("div", { class: "table-wrap" }, h("table", { id: "iteration-table" },
        h("thead", {}, h("tr", {},
          h("th", {}, t("train.iteration")), h("th", {}, t("train.status")), h("th", {}, t("train.trainedAt")),
          h("th", { class: "n" }, t("train.minutes")), h("th", {}, t("train.published")))),
        history))));

  let watching = null; // the iteration in training

  function stagesList(progress, failed) {
    const now = progress ? progress.stage : "";
    const finished = new Set((progress && progress.stages || []).map((r) => r.stage));
    return h("ol", { class: "stages", "aria-label": t("train.stages") }, STAGES.map((s) => {
      let cls = "";
      if (s === now) cls = failed ? "failed" : "now";
      else if (finished.has(s) || (s === "queued" && now && now !== "queued")) cls = "done";
      return h("li", { class: cls, dataset: { stage: s }, "aria-current": s === now ? "step" : false }, t("stage." + s));
    }));
  }

  function stageRows(progress) {
    const rows = (progress && progress.stages) || [];
    if (!rows.length) return null;
    return h("div", { class: "table-wrap" }, h("table", { id: "stage-table" },
      h("thead", {}, h("tr", {},
        h("th", {}, t("train.stage")), h("th", {}, t("train.stageStatus")), h("th", { class: "n" }, t("train.in")),
        h("th", { class: "n" }, t("train.out")), h("th", {}, t("train.rejects")), h("th", { class: "n" }, t("train.seconds")))),
      h("tbody", {}, rows.map((r) => h("tr", { dataset: { stage: r.stage } },
        h("td", {}, t("stage." + r.stage, {}, r.stage)),
        h("td", {}, t("stageStatus." + r.status, {}, r.status)),
        h("td", { class: "n" }, r.itemsIn),
        h("td", { class: "n" }, r.itemsOut),
        h("td", {}, Object.entries(r.rejects || {}).map(([k, n]) => `${t("reject." + k, {}, k)}: ${n}`).join(", ")),
        h("td", { class: "n" }, r.wallS.toFixed(1)))))));
  }

  function showIteration(it) {
    const p = it.kaoProgress;
    const failed = it.status === "Failed";
    const parts = [
      h("h2", {}, it.name, " ", h("span", { class: "pill " + (failed ? "bad" : it.status === "Completed" ? "ok" : "run"), id: "train-state", dataset: { status: it.status } }, t("status." + it.status, {}, it.status))),
      stagesList(p, failed),
    ];
    if (it.status === "Training" && p) {
      parts.push(h("p", { id: "train-phase", class: "num" },
        p.stage === "queued" ? t("train.queued") : t("train.phase", { stage: t("stage." + p.stage, {}, p.stage), phase: p.phase || "", done: p.done, total: p.total })));
      parts.push(h("progress", { max: Math.max(p.total, 1), value: p.done, "aria-label": t("train.progress") }));
    }
    if (failed) parts.push(h("p", { class: "status error", id: "train-error" }, t("train.failed", { why: it.trainingErrorDetails || "" })));
    if (it.status === "Completed") {
      parts.push(h("p", {}, t("train.completed"), " ",
        h("a", { href: `#/p/${projectId}/performance/${it.id}`, id: "to-performance" }, t("train.seePerformance"))));
    }
    parts.push(stageRows(p));
    live.replaceChildren(...parts.filter(Boolean));
  }

  async function loadHistory() {
    let list;
    try {
      list = await api.iterations(projectId);
    } catch (e) {
      status.error(t("train.loadFailed"), e);
      return [];
    }
    history.replaceChildren(...(list.length ? list.map((it) => h("tr", { dataset: { id: it.id, status: it.status } },
      h("td", {}, it.status === "Completed" ? h("a", { href: `#/p/${projectId}/performance/${it.id}` }, it.name) : it.name),
      h("td", {}, t("status." + it.status, {}, it.status), it.trainingErrorDetails ? h("div", { class: "muted" }, it.trainingErrorDetails) : null),
      h("td", {}, when(it.trainedAt)),
      h("td", { class: "n" }, it.trainingTimeInMinutes),
      h("td", {}, it.publishName || ""))) : [h("tr", {}, h("td", { colspan: 5, class: "muted" }, t("train.none")))]));
    return list;
  }

  async function tick() {
    if (!watching) return;
    try {
      const it = await api.iteration(projectId, watching);
      showIteration(it);
      if (it.status !== "Training") {
        watching = null;
        status.set("");
        await loadHistory();
      }
    } catch (e) {
      status.error(t("train.pollFailed"), e);
    }
  }

  button.addEventListener("click", async () => {
    button.disabled = true;
    status.set(t("train.starting"));
    try {
      const it = await api.train(projectId);
      status.set(t("train.started", { name: it.name }), "ok");
      watching = it.id;
      showIteration(it);
      await loadHistory();
    } catch (e) {
      // The API's refusals, each in words: nothing changed, a tag with too few photos…
      const lead = t("train.refused." + e.code, { min: server.minImagesPerTag }, "") || t("train.refused");
      status.error(lead, e);
    } finally {
      button.disabled = false;
    }
  });

  const list = await loadHistory();
  const current = list.find((it) => it.status === "Training") || list[0];
  if (current) {
    showIteration(current);
    if (current.status === "Training") watching = current.id;
  }
  return poller(tick, 1000);
}
