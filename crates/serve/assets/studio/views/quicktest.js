// Quick Test: a file, an image URL or a webcam snapshot, sent to the Training API's quick
// test of a trained iteration (kept in Predictions when asked); every face is boxed with
// its name and probability, unknown faces marked. On a server without the Training API
// (`kao serve --work`) it posts to the Prediction API of a published iteration instead,
// with the Prediction-Key.

import { api, ApiError } from "../api.js";
import { h, statusLine, percent, boxes, bytes } from "../ui.js";

const PREDICTION_KEY = "kao.predictionKey";

export async function render(ctx) {
  const { main, t } = ctx;
  const status = statusLine("status");
  // The input is visually hidden but focusable; its label is the control people see.
  const file = h("input", { type: "file", id: "file", accept: "image/*", class: "sr" });
  const link = h("input", { type: "url", id: "image-url", placeholder: "https://example.org/photo.jpg" });
  const stage = h("div", { class: "stage", id: "stage", hidden: true });
  const photo = h("img", { id: "photo", alt: t("qt.photoAlt") });
  const layer = h("div", { id: "boxes" });
  stage.append(photo, layer);
  const resultsBody = h("tbody");
  const results = h("table", { id: "results", hidden: true },
    h("thead", {}, h("tr", {}, h("th", {}, t("qt.tag")), h("th", { class: "n" }, t("qt.probability")))), resultsBody);
  const faces = h("div", { id: "faces" });
  const video = h("video", { id: "camera", autoplay: true, playsinline: true, muted: true, hidden: true });
  const snap = h("button", { type: "button", id: "snap", hidden: true }, t("qt.takeSnapshot"));
  const camera = h("button", { type: "button", id: "webcam" }, t("qt.webcam"));

  let send; // (blob | {url}) → prediction answer
  let setup;
  let limit;
  if (ctx.predictionMode) {
    // `kao serve --work`: the Prediction API of what is published.
    const info = ctx.info;
    limit = info.maxBody;
    const published = h("select", { id: "published" }, info.published.map((p) => h("option", { value: p.name }, `${p.name} (${t("qt.iteration")} ${p.iteration})`)));
    const key = h("input", { id: "key", type: "password", autocomplete: "off", placeholder: t("qt.keyHint") });
    key.value = sessionStorage.getItem(PREDICTION_KEY) || "";
    const url = h("code", { id: "url" });
    const curl = h("pre", { id: "curl", class: "snippet" });
    const chosen = () => info.published.find((p) => p.name === published.value);
    const show = () => {
      const p = chosen();
      url.textContent = p ? location.origin + p.predictionPath : t("qt.nothingPublished");
      curl.textContent = p ? `curl -H "Prediction-Key: $KEY" -H "Content-Type: application/octet-stream" \\\n     --data-binary @photo.jpg "${location.origin + p.predictionPath}"` : "";
    };
    published.addEventListener("change", show);
    show();
    setup = h("div", { class: "card stack" },
      h("h1", {}, t("qt.title")),
      h("p", { class: "muted" }, info.projectId ? t("qt.project", { id: info.projectId }) : ""),
      h("div", { class: "row" },
        h("label", { class: "field" }, t("qt.published"), published),
        h("label", { class: "field" }, t("qt.predictionKey"), key)),
      h("div", {}, t("qt.predictionUrl"), " ", url),
      curl);
    send = async (what) => {
      const k = key.value.trim();
      if (!k) {
        key.focus();
        throw new ApiError(401, "Unauthorized", t("qt.keyFirst"));
      }
      const p = chosen();
      if (!p) throw new ApiError(404, "NotFound", t("qt.nothingPublished"));
      sessionStorage.setItem(PREDICTION_KEY, k);
      const target = location.origin + p.predictionPath.replace(/\/image$/, what.url ? "/url" : "/image");
      let r;
      try {
        r = await fetch(target, {
          method: "POST",
          headers: { "Prediction-Key": k, "Content-Type": what.url ? "application/json" : "application/octet-stream" },
          body: what.url ? JSON.stringify({ url: what.url }) : what,
        });
      } catch (e) {
        throw new ApiError(0, "NoAnswer", t("error.noAnswer", { detail: e.message }));
      }
      const body = await r.json().catch(() => ({}));
      if (!r.ok) throw new ApiError(r.status, body.code || String(r.status), body.message || r.statusText);
      return body;
    };
  } else {
    const { projectId, server } = ctx;
    limit = server.maxPredictionBytes;
    let its = [];
    try {
      its = (await api.iterations(projectId)).filter((i) => i.status === "Completed");
    } catch (e) {
      status.error(t("qt.iterationsFailed"), e);
    }
    const iteration = h("select", { id: "qt-iteration" }, its.map((i) => h("option", { value: i.id }, i.name + (i.publishName ? ` (${i.publishName})` : ""))));
    const keep = h("input", { type: "checkbox", id: "qt-store", checked: true });
    setup = h("div", { class: "card stack" },
      h("h1", {}, t("qt.title")),
      its.length ? null : h("p", { class: "status error", id: "qt-untrained" }, t("qt.untrained")),
      h("div", { class: "row" },
        h("label", { class: "field" }, t("qt.iteration"), iteration),
        h("label", {}, keep, " ", t("qt.keep"))));
    send = (what) => what.url
      ? api.quickTestUrl(projectId, iteration.value, what.url, keep.checked)
      : api.quickTestImage(projectId, iteration.value, what, keep.checked);
  }

  async function predict(what) {
    if (what instanceof Blob && what.size > limit) {
      status.set(t("qt.tooLarge", { size: bytes(what.size), limit: bytes(limit) }), "error");
      return;
    }
    stage.hidden = false;
    results.hidden = true;
    layer.replaceChildren();
    faces.replaceChildren();
    if (what instanceof Blob) photo.src = URL.createObjectURL(what);
    else photo.src = what.url;
    status.set(t("qt.predicting"));
    let answer;
    try {
      answer = await send(what);
    } catch (e) {
      status.error(t("qt.failed"), e);
      return;
    }
    const label = (f) => {
      const top = f.predictions[0];
      return f.unknown || !top ? t("qt.unknown") : `${top.tagName} ${percent(top.probability)}`;
    };
    boxes(layer, answer.faces.map((f) => ({ box: f.boundingBox, unknown: f.unknown, picked: f.picked, label: label(f) })));
    if (answer.faces.length === 0) {
      status.set(t("qt.noFace"));
      return;
    }
    resultsBody.replaceChildren(...answer.predictions.map((p) => h("tr", {}, h("td", {}, p.tagName), h("td", { class: "n" }, percent(p.probability)))));
    results.hidden = false;
    if (answer.faces.length > 1) {
      faces.replaceChildren(...answer.faces.map((f, i) => h("div", {},
        h("h3", {}, t("qt.face", { n: i + 1 }), f.unknown ? ` (${t("qt.unknown")})` : "", f.picked ? ` · ${t("qt.picked")}` : ""),
        h("table", {}, h("tbody", {}, f.predictions.map((p) => h("tr", {}, h("td", {}, p.tagName), h("td", { class: "n" }, percent(p.probability)))))))));
    }
    const picked = answer.faces.find((f) => f.picked) || answer.faces[0];
    status.set(t("qt.found", { n: answer.faces.length }) + (picked.unknown ? " " + t("qt.mainUnknown") : ` ${t("qt.mainIs", { name: answer.predictions[0].tagName })}`), "ok");
  }

  file.addEventListener("change", () => {
    if (file.files[0]) predict(file.files[0]);
  });
  const urlForm = h("form", { class: "row", id: "url-form", onsubmit: (e) => { e.preventDefault(); if (link.value.trim()) predict({ url: link.value.trim() }); } },
    h("label", { class: "field" }, t("qt.url"), link), h("button", { type: "submit" }, t("qt.send")));

  // A webcam snapshot: the camera's current frame as a JPEG.
  let streamOn = null;
  camera.addEventListener("click", async () => {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      status.set(t("qt.noCamera", { why: t("qt.noCameraApi") }), "error");
      return;
    }
    try {
      streamOn = await navigator.mediaDevices.getUserMedia({ video: true });
      video.srcObject = streamOn;
      video.hidden = false;
      snap.hidden = false;
    } catch (e) {
      status.set(t("qt.noCamera", { why: e.message || e.name }), "error");
    }
  });
  snap.addEventListener("click", () => {
    const c = document.createElement("canvas");
    c.width = video.videoWidth;
    c.height = video.videoHeight;
    c.getContext("2d").drawImage(video, 0, 0);
    c.toBlob((blob) => blob && predict(blob), "image/jpeg", 0.92);
  });

  const drop = h("section", { class: "card stack", id: "drop" },
    h("div", { class: "row pickers" },
      file, h("label", { class: "button primary", for: "file" }, t("qt.chooseFile")),
      camera, snap),
    urlForm,
    h("p", { class: "muted", id: "limit" }, t("qt.limit", { limit: bytes(limit) })),
    video,
    stage);
  drop.addEventListener("dragover", (e) => e.preventDefault());
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    if (e.dataTransfer.files[0]) predict(e.dataTransfer.files[0]);
  });
  main.append(setup, h("div", { class: "qt" }, drop,
    h("section", { class: "card predictions" }, h("h2", {}, t("qt.predictions")), status, results, faces)));
  status.set(t("qt.choose"));
  return () => {
    if (streamOn) for (const tr of streamOn.getTracks()) tr.stop();
  };
}

