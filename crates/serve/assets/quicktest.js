// Quick Test: posts the chosen image to the same prediction route any client uses, then
// draws every face's box over the photo and the picked face's tags in a table.
"use strict";

const $ = (id) => document.getElementById(id);
const KEY_STORE = "kao.predictionKey";
let info = null;

function predictionUrl() {
  const sel = $("published");
  const entry = info && info.published.find((p) => p.name === sel.value);
  return entry ? location.origin + entry.predictionPath : "";
}

function showEndpoint() {
  const url = predictionUrl();
  $("url").textContent = url || "(nothing published yet: run kao publish)";
  $("curl").textContent = url
    ? `curl -H "Prediction-Key: $KEY" -H "Content-Type: application/octet-stream" \\\n     --data-binary @photo.jpg "${url}"`
    : "";
}

async function loadInfo() {
  const r = await fetch("/quicktest/info");
  info = await r.json();
  $("project").textContent = info.projectId ?? "every project of the server";
  $("limit").textContent = `JPEG, PNG, GIF, BMP or WebP, up to ${(info.maxBody / 1048576).toFixed(0)} MB.`;
  const sel = $("published");
  sel.replaceChildren();
  for (const p of info.published) {
    const o = document.createElement("option");
    o.value = p.name;
    o.textContent = `${p.name} (iteration ${p.iteration})`;
    sel.append(o);
  }
  showEndpoint();
}

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").classList.toggle("error", !!isError);
}

function percent(p) {
  return (p * 100).toFixed(1) + "%";
}

function fillTable(tbody, predictions) {
  tbody.replaceChildren();
  for (const p of predictions) {
    const tr = document.createElement("tr");
    const tag = document.createElement("td");
    tag.textContent = p.tagName;
    const prob = document.createElement("td");
    prob.textContent = percent(p.probability);
    tr.append(tag, prob);
    tbody.append(tr);
  }
}

function drawBoxes(faces, picked) {
  const layer = $("boxes");
  layer.replaceChildren();
  faces.forEach((f, i) => {
    const b = f.boundingBox;
    const d = document.createElement("div");
    d.className = "box" + (f.unknown ? " unknown" : "") + (i === picked ? " picked" : "");
    Object.assign(d.style, {
      left: b.left * 100 + "%", top: b.top * 100 + "%",
      width: b.width * 100 + "%", height: b.height * 100 + "%",
    });
    const label = document.createElement("span");
    const top = f.predictions[0];
    label.textContent = f.unknown || !top ? "unknown" : `${top.tagName} ${percent(top.probability)}`;
    d.append(label);
    layer.append(d);
  });
}

function showFaces(faces) {
  const box = $("faces");
  box.replaceChildren();
  if (faces.length < 2) return;
  faces.forEach((f, i) => {
    const h = document.createElement("h3");
    h.textContent = `Face ${i + 1}` + (f.unknown ? " (unknown)" : "");
    const t = document.createElement("table");
    t.innerHTML = "<thead><tr><th>Tag</th><th>Probability</th></tr></thead><tbody></tbody>";
    fillTable(t.querySelector("tbody"), f.predictions);
    box.append(h, t);
  });
}

async function predict(file) {
  const key = $("key").value.trim();
  if (!key) {
    setStatus("Enter the Prediction-Key first (kao serve printed it at its first start).", true);
    $("key").focus();
    return;
  }
  sessionStorage.setItem(KEY_STORE, key);
  const url = predictionUrl();
  if (!url) {
    setStatus("Nothing is published yet: run kao publish, then reload.", true);
    return;
  }
  const photo = $("photo");
  if (photo.src) URL.revokeObjectURL(photo.src);
  photo.src = URL.createObjectURL(file);
  $("stage").hidden = false;
  $("drop").classList.add("has-photo");
  $("prompt").textContent = "Drop another photo here, or click to choose one";
  $("boxes").replaceChildren();
  $("results").hidden = true;
  setStatus("Predicting…");
  let r;
  try {
    r = await fetch(url, {
      method: "POST",
      headers: { "Prediction-Key": key, "Content-Type": "application/octet-stream" },
      body: file,
    });
  } catch (e) {
    setStatus("The server did not answer: " + e, true);
    return;
  }
  const body = await r.json().catch(() => ({}));
  if (!r.ok) {
    setStatus(`${body.code || r.status}: ${body.message || r.statusText}`, true);
    if (r.status === 401) sessionStorage.removeItem(KEY_STORE);
    return;
  }
  drawBoxes(body.faces, body.faces.findIndex((f) => f.picked));
  showFaces(body.faces);
  if (body.faces.length === 0) {
    setStatus("No face found in this image.");
    return;
  }
  fillTable($("results").querySelector("tbody"), body.predictions);
  $("results").hidden = false;
  const n = body.faces.length;
  setStatus(`${n} face${n > 1 ? "s" : ""} found` + (body.unknown ? "; the main face is of nobody known." : "."));
}

$("key").value = sessionStorage.getItem(KEY_STORE) || "";
$("published").addEventListener("change", showEndpoint);
$("file").addEventListener("change", (e) => {
  const file = e.target.files[0];
  // Cleared so that choosing the same file again is a change too.
  e.target.value = "";
  if (file) predict(file);
});
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  if (e.dataTransfer.files[0]) predict(e.dataTransfer.files[0]);
});
loadInfo().catch((e) => setStatus("Could not read the server's info: " + e, true));
