// Predictions (Custom Vision's tab): the stored prediction photos — of the published
// iteration by default — with what the model said; pick the right tag and add a photo to
// the training photos (it then leaves this list).

import { api } from "../api.js";
import { h, statusLine, percent, when } from "../ui.js";

export async function render(ctx) {
  const { main, projectId, project, t } = ctx;
  const status = statusLine("predictions-status");
  let tags = [];
  let its = [];
  try {
    [tags, its] = await Promise.all([api.tags(projectId), api.iterations(projectId)]);
  } catch (e) {
    status.error(t("pred.loadFailed"), e);
  }
  its = its.filter((i) => i.status === "Completed");
  const published = its.find((i) => i.publishName);
  const iteration = h("select", { id: "pred-iteration" },
    h("option", { value: "" }, t("pred.allIterations")),
    its.map((i) => h("option", { value: i.id, selected: published && i.id === published.id }, i.name + (i.publishName ? ` (${i.publishName})` : ""))));
  const grid = h("div", { class: "pred-grid", id: "prediction-grid" });
  const more = h("button", { type: "button", id: "pred-more", hidden: true }, t("pred.more"));
  main.append(h("div", { class: "card stack" },
    h("h1", {}, t("pred.title")),
    h("p", { class: "muted" }, t("pred.help")),
    project.settings.storePredictions ? null : h("p", { id: "pred-off" }, t("pred.off"), " ", h("a", { href: `#/p/${projectId}/publish` }, t("tab.publish"))),
    h("label", { class: "field" }, t("pred.iteration"), iteration),
    status),
  grid, h("p", {}, more));

  let continuation = "";

  function card(p) {
    const top = (p.predictions || [])[0];
    const face = (p.kaoFaces || []).find((f) => f.picked);
    const said = !top ? t("pred.noFace") : face && face.unknown ? t("pred.unknown", { name: top.tagName, p: percent(top.probability) }) : `${top.tagName} ${percent(top.probability)}`;
    const choose = h("select", { "aria-label": t("pred.rightTag") },
      h("option", { value: "" }, t("pred.pickTag")),
      tags.map((x) => h("option", { value: x.id, dataset: { name: x.name }, selected: top && !(face && face.unknown) && x.id === top.tagId }, x.name)));
    const el = h("div", { class: "pred", dataset: { id: p.id } },
      h("img", { src: p.thumbnailUri, alt: t("pred.photoAlt") }),
      h("div", { class: "said" }, said),
      h("div", { class: "muted" }, when(p.created)),
      h("div", { class: "row" }, choose,
        h("button", { type: "button", class: "primary add", onclick: () => add(p, choose.value, el) }, t("pred.add"))),
      h("div", { class: "row" }, h("button", { type: "button", class: "link danger", onclick: () => remove(p, el) }, t("common.delete"))));
    return el;
  }

  async function add(p, tagId, el) {
    if (!tagId) {
      status.set(t("pred.chooseFirst"), "error");
      return;
    }
    try {
      const summary = await api.imagesFromPredictions(projectId, [[p.id, tagId]]);
      const r = summary.images[0];
      if (r.status !== "OK" && r.status !== "OKDuplicate") {
        status.set(t("pred.addFailedOne", { status: r.status, why: r.kaoReason || "" }), "error");
        return;
      }
      await api.deletePredictions(projectId, [p.id]);
      el.remove();
      const name = tags.find((x) => x.id === tagId).name;
      status.set(r.status === "OK" ? t("pred.added", { name }) : t("pred.alreadyThere", { name }), "ok");
    } catch (e) {
      status.error(t("pred.addFailed"), e);
    }
  }

  async function remove(p, el) {
    try {
      await api.deletePredictions(projectId, [p.id]);
      el.remove();
      status.set(t("pred.deleted"), "ok");
    } catch (e) {
      status.error(t("pred.deleteFailed"), e);
    }
  }

  async function load(reset) {
    if (reset) {
      continuation = "";
      grid.replaceChildren();
    }
    try {
      const r = await api.predictions(projectId, { continuation, maxCount: 48, iterationId: iteration.value || null });
      grid.append(...r.results.map(card));
      continuation = r.token.continuation || "";
      more.hidden = !continuation;
      if (!grid.children.length) grid.append(h("p", { class: "muted", id: "pred-none" }, t("pred.none")));
    } catch (e) {
      status.error(t("pred.loadFailed"), e);
    }
  }
  iteration.addEventListener("change", () => load(true));
  more.addEventListener("click", () => load(false));
  await load(true);
}
