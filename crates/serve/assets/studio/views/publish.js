// Publish: publish or unpublish a trained iteration under a name; for each published one,
// the Prediction URL, the Prediction-Key, and copy-ready curl and Python SDK snippets.
// Also the project's setting that keeps prediction photos for the Predictions tab.

import { api } from "../api.js";
import { h, statusLine, when, copyButton } from "../ui.js";

export async function render(ctx) {
  const { main, projectId, project, server, t } = ctx;
  const status = statusLine("publish-status");
  const list = h("tbody");
  const endpoints = h("div", { id: "endpoints" });
  const keep = h("input", { type: "checkbox", id: "store-predictions", checked: project.settings.storePredictions });
  keep.addEventListener("change", async () => {
    try {
      const p = await api.updateProject(projectId, { settings: { storePredictions: keep.checked } });
      project.settings = p.settings;
      status.set(keep.checked ? t("publish.keepOn") : t("publish.keepOff"), "ok");
    } catch (e) {
      keep.checked = !keep.checked;
      status.error(t("publish.settingFailed"), e);
    }
  });
  main.append(
    h("div", { class: "card stack" },
      h("h1", {}, t("publish.title")),
      h("p", { class: "muted" }, t("publish.help")),
      h("div", { class: "table-wrap" }, h("table", { id: "publish-table" },
        h("thead", {}, h("tr", {}, h("th", {}, t("train.iteration")), h("th", {}, t("train.trainedAt")), h("th", {}, t("publish.name")), h("th", {}, h("span", { class: "sr" }, t("projects.actions"))))),
        list)),
      h("label", {}, keep, " ", t("publish.keep")),
      status),
    endpoints);

  const origin = location.origin;
  const key = server.predictionKey || "";

  function snippets(name) {
    const imageUrl = `${origin}/customvision/v3.0/Prediction/${projectId}/classify/iterations/${encodeURIComponent(name)}/image`;
    const urlUrl = imageUrl.replace(/\/image$/, "/url");
    const curl = `curl -H "Prediction-Key: ${key}" \\\n     -H "Content-Type: application/octet-stream" \\\n     --data-binary @photo.jpg \\\n     "${imageUrl}"`;
    const python = [
      "# pip install azure-cognitiveservices-vision-customvision",
      "from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient",
      "from msrest.authentication import ApiKeyCredentials",
      "",
      `credentials = ApiKeyCredentials(in_headers={"Prediction-key": "${key}"})`,
      `predictor = CustomVisionPredictionClient("${origin}", credentials)`,
      'with open("photo.jpg", "rb") as f:',
      `    results = predictor.classify_image("${projectId}", "${name}", f.read())`,
      "for p in results.predictions:",
      '    print(f"{p.tag_name}: {p.probability:.1%}")',
    ].join("\n");
    const keyField = h("input", { type: "password", readonly: true, value: key, class: "mono", id: "prediction-key", "aria-label": t("publish.key"), size: 40 });
    const reveal = h("button", { type: "button", onclick: () => { keyField.type = keyField.type === "password" ? "text" : "password"; } }, t("publish.reveal"));
    return h("div", { class: "card stack", dataset: { name } },
      h("h2", {}, t("publish.endpointOf", { name })),
      h("div", {}, h("strong", {}, t("publish.imageUrl")), h("div", { class: "copyrow" }, h("code", { class: "prediction-url" }, imageUrl), copyButton(() => imageUrl))),
      h("div", {}, h("strong", {}, t("publish.urlUrl")), h("div", { class: "copyrow" }, h("code", {}, urlUrl), copyButton(() => urlUrl))),
      h("div", {}, h("strong", {}, t("publish.key")), h("div", { class: "row" }, keyField, reveal, copyButton(() => key))),
      h("div", {}, h("div", { class: "copyrow" }, h("strong", {}, "curl"), copyButton(() => curl)), h("pre", { class: "snippet curl" }, curl)),
      h("div", {}, h("div", { class: "copyrow" }, h("strong", {}, t("publish.python")), copyButton(() => python)), h("pre", { class: "snippet python" }, python)));
  }

  async function load() {
    let its;
    try {
      its = await api.iterations(projectId);
    } catch (e) {
      status.error(t("publish.loadFailed"), e);
      return;
    }
    const done = its.filter((i) => i.status === "Completed");
    list.replaceChildren(...(done.length ? done.map(row) : [h("tr", {}, h("td", { colspan: 4, class: "muted" }, t("publish.none")))]));
    const published = done.filter((i) => i.publishName);
    endpoints.replaceChildren(...published.map((i) => snippets(i.publishName)));
  }

  function row(it) {
    if (it.publishName) {
      return h("tr", { dataset: { id: it.id } },
        h("td", {}, it.name), h("td", {}, when(it.trainedAt)),
        h("td", {}, h("span", { class: "pill ok published" }, it.publishName)),
        h("td", {}, h("button", { type: "button", class: "unpublish", onclick: () => unpublish(it) }, t("publish.unpublish"))));
    }
    const name = h("input", { type: "text", class: "publish-name", value: suggest(it), "aria-label": t("publish.nameFor", { name: it.name }) });
    return h("tr", { dataset: { id: it.id } },
      h("td", {}, it.name), h("td", {}, when(it.trainedAt)),
      h("td", {}, name),
      h("td", {}, h("button", { type: "button", class: "primary publish", onclick: () => publish(it, name.value.trim()) }, t("publish.publish"))));
  }

  function suggest(it) {
    return (project.name.replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "").toLowerCase() || "model") + "-" + it.name.replace(/\D+/g, "");
  }

  async function publish(it, name) {
    if (!name) {
      status.set(t("publish.nameFirst"), "error");
      return;
    }
    try {
      await api.publish(projectId, it.id, name);
      status.set(t("publish.published", { name }), "ok");
      await load();
    } catch (e) {
      status.error(t("publish.publishFailed"), e);
    }
  }

  async function unpublish(it) {
    try {
      await api.unpublish(projectId, it.id);
      status.set(t("publish.unpublished", { name: it.publishName }), "ok");
      await load();
    } catch (e) {
      status.error(t("publish.unpublishFailed"), e);
    }
  }

  await load();
}
