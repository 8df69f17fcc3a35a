// The Studio's only way to the server: Custom Vision's public Training API (and Kao's
// documented additions to it, docs/custom-vision.md) with the Training-Key header. Every
// call here is one a script can make with the same URL, header and body.

import { t } from "./i18n.js";

const BASE = "/customvision/v3.3/training";
const KEY = "kao.trainingKey";

/// A failed call: the HTTP status (0 when the server did not answer), Custom Vision's
/// error code and message.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
  /// Whether the request never got an answer (connection lost, server stopped).
  get network() {
    return this.status === 0;
  }
}

// The key lives in sessionStorage only: it is gone when the tab is closed.
export const session = {
  key: () => sessionStorage.getItem(KEY) || "",
  set: (k) => sessionStorage.setItem(KEY, k),
  clear: () => sessionStorage.removeItem(KEY),
};

function url(path, query) {
  const u = new URL(BASE + path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v === undefined || v === null || v === "") continue;
    u.searchParams.set(k, Array.isArray(v) ? v.join(",") : String(v));
  }
  return u;
}

async function call(method, path, { query, json, body, signal } = {}) {
  const headers = { "Training-Key": session.key() };
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  let r;
  try {
    r = await fetch(url(path, query), { method, headers, body, signal });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(0, "NoAnswer", t("error.noAnswer", { detail: e.message }));
  }
  const text = await r.text().catch(() => "");
  let value = null;
  if (text) {
    try {
      value = JSON.parse(text);
    } catch {
      value = null;
    }
  }
  // 207: an upload batch where some images failed; each image says why.
  if (!r.ok && r.status !== 207) {
    const code = (value && value.code) || String(r.status);
    const message = (value && value.message) || r.statusText || text;
    if (r.status === 401) {
      session.clear();
      window.dispatchEvent(new CustomEvent("kao:unauthorized"));
    }
    throw new ApiError(r.status, code, message);
  }
  return value;
}

const p = (id) => `/projects/${encodeURIComponent(id)}`;

export const api = {
  server: () => call("GET", "/server"),

  projects: () => call("GET", "/projects"),
  project: (id) => call("GET", p(id)),
  createProject: (name, description) =>
    call("POST", "/projects", { query: { name, description } }),
  updateProject: (id, patch) => call("PATCH", p(id), { json: patch }),
  deleteProject: (id) => call("DELETE", p(id)),

  tags: (id) => call("GET", `${p(id)}/tags`),
  createTag: (id, name, type) => call("POST", `${p(id)}/tags`, { query: { name, type } }),
  updateTag: (id, tag, patch) => call("PATCH", `${p(id)}/tags/${tag}`, { json: patch }),
  deleteTag: (id, tag) => call("DELETE", `${p(id)}/tags/${tag}`),

  /// filter: {kind: "all" | "untagged" | "tag" | "rejected", tagId}
  images(id, filter, skip, take) {
    const q = { skip, take };
    if (filter.kind === "rejected") return call("GET", `${p(id)}/images/rejected`, { query: q });
    if (filter.kind === "untagged") return call("GET", `${p(id)}/images/untagged`, { query: q });
    if (filter.kind === "tag") return call("GET", `${p(id)}/images/tagged`, { query: { ...q, tagIds: filter.tagId } });
    return call("GET", `${p(id)}/images`, { query: q });
  },
  imageCount(id, filter) {
    if (filter.kind === "rejected") return call("GET", `${p(id)}/images/rejected/count`);
    if (filter.kind === "untagged") return call("GET", `${p(id)}/images/untagged/count`);
    if (filter.kind === "tag") return call("GET", `${p(id)}/images/tagged/count`, { query: { tagIds: filter.tagId } });
    return call("GET", `${p(id)}/images/count`);
  },
  faces: (id, image) => call("GET", `${p(id)}/images/${image}/faces`),
  /// One upload batch as multipart form data (`POST …/images?tagIds=`).
  upload(id, tagId, files, signal) {
    const form = new FormData();
    for (const f of files) form.append("imageData", f.file, f.path);
    return call("POST", `${p(id)}/images`, { query: { tagIds: tagId || undefined }, body: form, signal });
  },
  addImageTags: (id, pairs) =>
    call("POST", `${p(id)}/images/tags`, { json: { tags: pairs.map(([imageId, tagId]) => ({ imageId, tagId })) } }),
  removeImageTags: (id, imageIds, tagIds) =>
    call("DELETE", `${p(id)}/images/tags`, { query: { imageIds, tagIds } }),
  deleteImages: (id, imageIds) => call("DELETE", `${p(id)}/images`, { query: { imageIds } }),

  train: (id) => call("POST", `${p(id)}/train`),
  iterations: (id) => call("GET", `${p(id)}/iterations`),
  iteration: (id, it) => call("GET", `${p(id)}/iterations/${it}`),
  performance: (id, it, threshold) =>
    call("GET", `${p(id)}/iterations/${it}/performance`, { query: { threshold } }),
  publish: (id, it, publishName) =>
    call("POST", `${p(id)}/iterations/${it}/publish`, { query: { publishName, predictionId: "kao-studio" } }),
  unpublish: (id, it) => call("DELETE", `${p(id)}/iterations/${it}/publish`),

  quickTestImage: (id, iterationId, blob, store) =>
    call("POST", `${p(id)}/quicktest/image`, {
      query: { iterationId, store },
      body: blob,
    }),
  quickTestUrl: (id, iterationId, link, store) =>
    call("POST", `${p(id)}/quicktest/url`, { query: { iterationId, store }, json: { url: link } }),

  predictions: (id, token) => call("POST", `${p(id)}/predictions/query`, { json: token }),
  imagesFromPredictions: (id, entries) =>
    call("POST", `${p(id)}/images/predictions`, {
      json: { images: entries.map(([pid, tagId]) => ({ id: pid, tagIds: [tagId] })) },
    }),
  deletePredictions: (id, ids) => call("DELETE", `${p(id)}/predictions`, { query: { ids } }),

  crawls: (id) => call("GET", `${p(id)}/crawls`),
  startCrawl: (id, request) => call("POST", `${p(id)}/crawls`, { json: request }),
};

/// Without the Training API (`kao serve --work`): what is published, for the Quick Test.
export async function serverInfo() {
  const r = await fetch("/quicktest/info");
  if (!r.ok) throw new ApiError(r.status, String(r.status), r.statusText);
  return r.json();
}
