// Performance: the iterations; for the chosen one precision, recall and AP per tag and
// overall at a probability threshold the slider moves (each value asked of the API's
// performance route, nothing computed here), precision-recall curves, the confusion
// matrix, the faces it got wrong, the unknown-face rates, and (Kao) a second iteration
// side by side at the same threshold.

import { api } from "../api.js";
import { h, statusLine, percent, metric, when } from "../ui.js";

const COLORS = ["#0b62c4", "#c4420b", "#17733a", "#7a3dc4", "#b0007a", "#007a7a", "#8a6d00", "#444b5a"];

export async function render(ctx) {
  const { main, projectId, rest, navigate, t } = ctx;
  const status = statusLine("perf-status");
  let iterations = [];
  try {
    iterations = (await api.iterations(projectId)).filter((i) => i.status === "Completed");
  } catch (e) {
    status.error(t("perf.loadFailed"), e);
  }
  if (iterations.length === 0) {
    main.append(h("div", { class: "card" }, h("h1", {}, t("tab.performance")), status,
      h("p", { id: "perf-none" }, t("perf.none"), " ", h("a", { href: `#/p/${projectId}/train` }, t("tab.train")))));
    return null;
  }
  const chosen = iterations.find((i) => i.id === rest[0]) || iterations[0];
  let other = null;
  let threshold = 0.5;
  let seq = 0;

  const list = h("ul", { class: "iterlist", id: "iteration-list" }, iterations.map((it) => h("li", {},
    h("button", {
      type: "button", "aria-pressed": it.id === chosen.id ? "true" : "false", dataset: { id: it.id },
      onclick: () => navigate(`#/p/${projectId}/performance/${it.id}`),
    }, h("span", {}, it.name), it.publishName ? h("span", { class: "pill ok" }, it.publishName) : null))));

  const slider = h("input", { type: "range", id: "threshold", min: 0, max: 100, step: 1, value: "50", "aria-label": t("perf.threshold") });
  const shown = h("output", { id: "threshold-value", for: "threshold", class: "num" }, "50%");
  const compare = h("select", { id: "compare" },
    h("option", { value: "" }, t("perf.compareNone")),
    iterations.filter((i) => i.id !== chosen.id).map((i) => h("option", { value: i.id }, i.name)));
  const body = h("div", { id: "perf", class: "stack" });

  main.append(h("div", { class: "perf" },
    h("aside", { class: "card" }, h("h2", {}, t("perf.iterations")), list),
    h("section", { class: "stack" },
      h("div", { class: "card stack" },
        h("h1", {}, chosen.name, " ", h("small", { class: "muted" }, when(chosen.trainedAt))),
        h("div", { class: "slider" },
          h("label", { for: "threshold" }, t("perf.threshold")), slider, shown),
        h("div", { class: "row between" },
          h("p", { class: "muted small grow" }, t("perf.thresholdHelp")),
          h("label", { class: "inline" }, h("span", {}, t("perf.compare")), compare)),
        status),
      body)));

  async function load() {
    const mine = ++seq;
    const want = threshold;
    let a;
    let b = null;
    try {
      [a, b] = await Promise.all([
        api.performance(projectId, chosen.id, want),
        other ? api.performance(projectId, other.id, want) : null,
      ]);
    } catch (e) {
      if (mine === seq) status.error(t("perf.loadFailed"), e);
      return;
    }
    if (mine !== seq) return; // a newer threshold is on its way
    status.set("");
    body.dataset.threshold = String(a.threshold);
    body.replaceChildren(...(b ? sideBySide(a, b) : single(a)));
  }

  function overall(p, prefix) {
    return h("div", { class: "metrics" },
      h("div", { class: "metric" }, h("small", {}, t("perf.precision")), h("b", {}, metric(prefix + "precision", p.precision))),
      h("div", { class: "metric" }, h("small", {}, t("perf.recall")), h("b", {}, metric(prefix + "recall", p.recall))),
      h("div", { class: "metric" }, h("small", {}, t("perf.ap")), h("b", {}, metric(prefix + "ap", p.averagePrecision))),
      h("div", { class: "metric" }, h("small", {}, t("perf.top1")), h("b", {}, metric(prefix + "top1", p.top1))));
  }

  function perTag(p, prefix) {
    return h("div", { class: "table-wrap" }, h("table", { id: prefix + "per-tag" },
      h("thead", {}, h("tr", {},
        h("th", {}, t("perf.tag")), h("th", { class: "n" }, t("perf.precision")), h("th", { class: "n" }, t("perf.recall")),
        h("th", { class: "n" }, t("perf.ap")), h("th", { class: "n" }, t("perf.faces")))),
      h("tbody", {}, p.perTagPerformance.map((tg, i) => h("tr", { dataset: { tag: tg.id } },
        h("td", { class: "tagname" }, h("i", { class: "swatch", style: { background: COLORS[i % COLORS.length], display: "inline-block", width: "10px", height: "10px", marginRight: "6px" } }), tg.name),
        h("td", { class: "n" }, metric("", tg.precision)),
        h("td", { class: "n" }, metric("", tg.recall)),
        h("td", { class: "n" }, metric("", tg.averagePrecision)),
        h("td", { class: "n" }, tg.imageCount))))));
  }

  function curves(p) {
    const W = 320;
    const H = 240;
    const pad = 34;
    const x = (r) => pad + r * (W - pad - 10);
    const y = (pr) => H - pad - pr * (H - pad - 10);
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    svg.setAttribute("class", "curves");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", t("perf.curves"));
    const el = (name, attrs, text) => {
      const e = document.createElementNS("http://www.w3.org/2000/svg", name);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
      if (text !== undefined) e.textContent = text;
      svg.append(e);
      return e;
    };
    el("rect", { x: pad, y: 10, width: W - pad - 10, height: H - pad - 10, fill: "none", stroke: "#d9dbe3" });
    for (const v of [0, 0.5, 1]) {
      el("text", { x: x(v), y: H - pad + 14, "text-anchor": "middle" }, v.toFixed(1));
      el("text", { x: pad - 6, y: y(v) + 4, "text-anchor": "end" }, v.toFixed(1));
    }
    el("text", { x: (W + pad) / 2, y: H - 4, "text-anchor": "middle" }, t("perf.recall"));
    el("text", { x: 10, y: (H - pad) / 2, transform: `rotate(-90 10 ${(H - pad) / 2})`, "text-anchor": "middle" }, t("perf.precision"));
    p.curves.forEach((points, i) => {
      if (!points.length) return;
      el("polyline", {
        points: points.map(([r, pr]) => `${x(r).toFixed(1)},${y(pr).toFixed(1)}`).join(" "),
        fill: "none", stroke: COLORS[i % COLORS.length], "stroke-width": 2,
      });
    });
    const legend = h("div", { class: "legend" }, p.perTagPerformance.map((tg, i) => h("span", {}, h("i", { style: { background: COLORS[i % COLORS.length] } }), tg.name)));
    return h("div", {}, svg, legend);
  }

  function confusion(p) {
    const names = p.perTagPerformance.map((x) => x.name);
    return h("div", { class: "table-wrap" }, h("table", { class: "confusion", id: "confusion" },
      h("thead", {}, h("tr", {}, h("th", {}, t("perf.trueVsPredicted")), names.map((n) => h("th", {}, n)))),
      h("tbody", {}, p.confusion.map((row, i) => h("tr", {},
        h("th", {}, names[i]),
        row.map((n, j) => h("td", { class: i === j ? "diag" : n ? "off" : "" }, n)))))));
  }

  function unknown(p, prefix) {
    const u = p.unknown;
    return h("table", { id: prefix + "unknown-rates" }, h("tbody", {},
      h("tr", {}, h("th", {}, t("perf.falseRejected", { n: u.knownFaces })), h("td", { class: "n" }, metric(prefix + "false-rejected", u.falseRejected))),
      h("tr", {}, h("th", {}, t("perf.negativeRejected", { n: u.negativeFaces })),
        h("td", { class: "n" }, u.negativeRejected === null ? t("perf.noNegative") : metric(prefix + "negative-rejected", u.negativeRejected)))));
  }

  function wrong(p) {
    if (!p.misclassified.length) return h("p", { class: "muted", id: "misclassified-none" }, t("perf.noneWrong"));
    return h("div", { class: "faces", id: "misclassified" }, p.misclassified.map((m) => h("figure", { dataset: { image: m.imageId || "" } },
      m.chipUri ? h("img", { src: m.chipUri, alt: t("perf.faceOf", { name: m.trueTagName }) }) : null,
      h("figcaption", {},
        h("div", {}, t("perf.truth", { name: m.trueTagName })),
        h("div", { class: m.predictedTagName ? "" : "muted" },
          m.predictedTagName ? t("perf.predicted", { name: m.predictedTagName, p: percent(m.probability) }) : t("perf.wronglyRejected", { p: percent(m.probability) }))))));
  }

  function single(p) {
    return [
      overall(p, ""),
      h("div", { class: "card" }, h("h2", {}, t("perf.perTag")), perTag(p, "")),
      h("div", { class: "compare" },
        h("div", { class: "card" }, h("h2", {}, t("perf.curves")), curves(p)),
        h("div", { class: "card" }, h("h2", {}, t("perf.confusion")), confusion(p))),
      h("div", { class: "card" }, h("h2", {}, t("perf.unknown")), unknown(p, "")),
      h("div", { class: "card" }, h("h2", {}, t("perf.wrong", { n: p.misclassified.length })), h("p", { class: "muted" }, t("perf.wrongHelp")), wrong(p)),
    ];
  }

  function sideBySide(a, b) {
    const column = (it, p, prefix) => h("div", { class: "card stack", dataset: { iteration: it.id } },
      h("h2", {}, it.name), overall(p, prefix), perTag(p, prefix), unknown(p, prefix));
    return [h("div", { class: "compare", id: "side-by-side" }, column(chosen, a, ""), column(other, b, "other-"))];
  }

  let timer = 0;
  slider.addEventListener("input", () => {
    threshold = Number(slider.value) / 100;
    shown.textContent = slider.value + "%";
    clearTimeout(timer);
    timer = setTimeout(load, 40);
  });
  compare.addEventListener("change", () => {
    other = iterations.find((i) => i.id === compare.value) || null;
    load();
  });
  await load();
  return () => clearTimeout(timer);
}
