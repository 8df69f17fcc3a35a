// The exported page: photos chosen, dropped or seen by the camera, each face boxed with
// its name and probability. Everything runs here through kao.js; `window.kao` is the same
// API for scripts and tests.

import * as kao from "./kao.js";

window.kao = kao;
const $ = (id) => document.getElementById(id);

function setStatus(text, error = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", error);
}

const percent = (p) => (p * 100).toFixed(1) + "%";

/** The label of a face: its top tag and probability, or "unknown" with the nearest tag. */
function label(face) {
  const top = face.predictions[0];
  if (!top) return "unknown";
  return face.unknown ? `unknown (${top.tagName}? ${percent(top.probability)})` : `${top.tagName} ${percent(top.probability)}`;
}

/** Draws the faces of `answer` as boxes over the media of `figure` (fractions of its size). */
function show(figure, answer) {
  const layer = figure.querySelector(".boxes");
  const media = figure.querySelector("img, video");
  layer.style.height = media.clientHeight + "px";
  layer.style.width = media.clientWidth + "px";
  layer.replaceChildren(
    ...answer.faces.map((f) => {
      const b = f.boundingBox;
      const d = document.createElement("div");
      d.className = "box" + (f.unknown ? " unknown" : "");
      d.dataset.tag = f.unknown ? "" : f.predictions[0]?.tagName ?? "";
      d.dataset.probability = f.predictions[0]?.probability ?? 0;
      Object.assign(d.style, {
        left: b.left * 100 + "%", top: b.top * 100 + "%",
        width: b.width * 100 + "%", height: b.height * 100 + "%",
      });
      const span = document.createElement("span");
      span.textContent = label(f);
      d.append(span);
      return d;
    }),
  );
  const n = answer.faces.length;
  figure.querySelector("figcaption").textContent =
    n === 0 ? "No face found." : answer.faces.map(label).join(" · ");
}

async function identifyFiles(files) {
  const images = [...files].filter((f) => f.type.startsWith("image/") || f.type === "");
  for (const [i, file] of images.entries()) {
    setStatus(`Identifying ${file.name} (${i + 1} of ${images.length})…`);
    const figure = document.createElement("figure");
    figure.className = "stage photo";
    figure.dataset.file = file.name;
    const img = document.createElement("img");
    img.alt = file.name;
    img.src = URL.createObjectURL(file);
    figure.append(img, Object.assign(document.createElement("div"), { className: "boxes" }), document.createElement("figcaption"));
    $("photos").prepend(figure);
    try {
      await img.decode();
      const answer = await kao.identify(file);
      show(figure, answer);
      figure.classList.add("done");
    } catch (e) {
      figure.querySelector("figcaption").textContent = `${file.name}: ${e.message ?? e}`;
      figure.classList.add("failed");
    }
  }
  setStatus(`${images.length} photo${images.length === 1 ? "" : "s"} identified. Choose or drop more, or start the camera.`);
}

let stream = null;

async function cameraLoop() {
  const figure = $("camera");
  const video = $("video");
  while (stream) {
    if (video.readyState >= 2 && video.videoWidth > 0) {
      const answer = await kao.identify(video);
      if (!stream) break;
      show(figure, answer);
      figure.classList.add("done");
    }
    await new Promise((r) => requestAnimationFrame(r));
  }
}

async function toggleCamera() {
  if (stream) {
    stream.getTracks().forEach((t) => t.stop());
    stream = null;
    $("camera").hidden = true;
    $("camera-toggle").textContent = "start the camera";
    return;
  }
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
  } catch (e) {
    setStatus(`The camera is not available: ${e.message ?? e}`, true);
    return;
  }
  $("video").srcObject = stream;
  $("camera").hidden = false;
  $("camera-toggle").textContent = "stop the camera";
  setStatus("Camera on: every face in view is identified continuously.");
  cameraLoop().catch((e) => setStatus(`Camera: ${e.message ?? e}`, true));
}

async function main() {
  const info = await kao.load();
  $("name").textContent = info.publishedName ?? `iteration ${info.iterationNumber}`;
  $("tags").textContent = info.tags.join(", ");
  document.body.dataset.ready = "true";
  $("camera-toggle").disabled = !navigator.mediaDevices?.getUserMedia;
  setStatus("Ready: choose or drop photos, or start the camera.");
}

$("file").addEventListener("change", (e) => identifyFiles(e.target.files));
$("camera-toggle").addEventListener("click", toggleCamera);
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  identifyFiles(e.dataTransfer.files);
});
main().catch((e) => setStatus(`Could not load the model: ${e.message ?? e}`, true));
