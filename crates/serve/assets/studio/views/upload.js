// Uploading photos: files and whole folders (a folder per person becomes a tag, as on the
// command line), in batches of the server's size, two batches in flight, one progress
// bar, and a result for every file. A file over the server's limit is refused before it
// is sent. A batch whose connection is lost is sent again (the server answers a repeat
// with `OKDuplicate`, so nothing is added twice) while the server has been unreachable
// for less than about half a minute; after that, every batch not answered is reported
// file by file as not arrived, and one click sends those again.

import { api } from "../api.js";
import { h, bytes } from "../ui.js";
import { t } from "../i18n.js";

/// Waits between tries of a batch whose connection failed.
const RETRY_MS = [1000, 2000, 4000, 8000, 16000];
/// How long the server may stay unreachable before the upload stops trying.
const GIVE_UP_MS = 30000;
/// Batches in flight at once.
const PARALLEL = 3;
/// Most bytes in one batch (a batch also holds at most the server's image count).
const BATCH_BYTES = 24 * 1048576;

/// Every file under the dropped items, with its path (`folder/sub/name.jpg`).
export async function droppedFiles(dataTransfer) {
  const entries = [...dataTransfer.items]
    .filter((i) => i.kind === "file")
    .map((i) => (i.webkitGetAsEntry ? i.webkitGetAsEntry() : null));
  if (entries.length === 0 || entries.some((e) => !e)) {
    return [...dataTransfer.files].map((file) => ({ file, path: file.name }));
  }
  const out = [];
  async function walk(entry, prefix) {
    if (entry.isFile) {
      const file = await new Promise((res, rej) => entry.file(res, rej));
      out.push({ file, path: prefix + entry.name });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      // readEntries answers in chunks until an empty one.
      for (;;) {
        const chunk = await new Promise((res, rej) => reader.readEntries(res, rej));
        if (chunk.length === 0) break;
        for (const c of chunk) await walk(c, prefix + entry.name + "/");
      }
    }
  }
  for (const e of entries) await walk(e, "");
  return out;
}

export function inputFiles(fileList) {
  return [...fileList].map((file) => ({ file, path: file.webkitRelativePath || file.name }));
}

/// The tag folder of each file. A dropped or chosen folder whose files sit in subfolders
/// is a folder of people: each first-level subfolder is a tag, files directly inside it are
/// loose. A folder with only files is one person: the folder is the tag. Loose files (and
/// files dropped on their own) get `looseTag` (a tag id, or "" for untagged).
export function assignTags(files) {
  const byTop = new Map();
  for (const f of files) {
    const parts = f.path.split("/").filter(Boolean);
    f.parts = parts;
    if (parts.length < 2) continue;
    const top = parts[0];
    byTop.set(top, (byTop.get(top) || 0) | (parts.length >= 3 ? 2 : 1));
  }
  for (const f of files) {
    const parts = f.parts;
    if (parts.length < 2) f.folder = null;
    else if (byTop.get(parts[0]) & 2) f.folder = parts.length >= 3 ? parts[1] : null;
    else f.folder = parts[0];
  }
  return files;
}

/// The upload of one set of files, with its report element.
export class Upload {
  constructor({ projectId, server, tags, looseTag, onDone }) {
    this.projectId = projectId;
    this.server = server;
    this.tags = tags; // [{id, name, type}]
    this.looseTag = looseTag;
    this.onDone = onDone;
    this.results = []; // per file: {path, tag, state: ok|duplicate|rejected|refused|lost, text}
    this.el = h("div", { class: "card report", id: "upload-report" });
  }

  async start(files) {
    assignTags(files);
    this.files = files;
    this.done = 0;
    // Running from the start: tags are made before the first batch goes.
    this.running = true;
    this.render();
    // Tags for folders that are not tags yet, asked for all at once.
    const byName = new Map(this.tags.map((tag) => [tag.name.toLowerCase(), tag]));
    const failedFolders = new Map();
    const missing = [...new Set(files.map((f) => f.folder).filter(Boolean))]
      .filter((folder) => !byName.has(folder.toLowerCase()));
    const made = await Promise.allSettled(missing.map((folder) => api.createTag(this.projectId, folder)));
    made.forEach((r, i) => {
      if (r.status === "fulfilled") {
        byName.set(missing[i].toLowerCase(), r.value);
        this.created = (this.created || 0) + 1;
      } else {
        failedFolders.set(missing[i], r.reason);
      }
    });
    const limit = this.server.maxImageBytes;
    const queue = new Map(); // tag id ("" = untagged) → files
    for (const f of files) {
      let tagId = this.looseTag;
      f.tagName = "";
      if (f.folder) {
        if (failedFolders.has(f.folder)) {
          const e = failedFolders.get(f.folder);
          this.settle(f, "refused", t("upload.tagFailed", { tag: f.folder, why: `${e.code}: ${e.message}` }));
          continue;
        }
        const tag = byName.get(f.folder.toLowerCase());
        tagId = tag.id;
        f.tagName = tag.name;
      } else if (tagId) {
        f.tagName = (this.tags.find((x) => x.id === tagId) || {}).name || "";
      }
      // Checked here, before a byte is sent: the server's limit, learnt from the API.
      if (f.file.size > limit) {
        this.settle(f, "refused", t("upload.tooLarge", { size: bytes(f.file.size), limit: bytes(limit) }));
        continue;
      }
      if (f.file.size === 0) {
        this.settle(f, "refused", t("upload.empty"));
        continue;
      }
      f.tagId = tagId;
      if (!queue.has(tagId)) queue.set(tagId, []);
      queue.get(tagId).push(f);
    }
    const batches = [];
    for (const [tagId, list] of queue) {
      let batch = [];
      let size = 0;
      for (const f of list) {
        if (batch.length && (batch.length >= this.server.maxBatchImages || size + f.file.size > BATCH_BYTES)) {
          batches.push({ tagId, files: batch });
          batch = [];
          size = 0;
        }
        batch.push(f);
        size += f.file.size;
      }
      if (batch.length) batches.push({ tagId, files: batch });
    }
    await this.send(batches);
  }

  async send(batches) {
    this.running = true;
    this.render();
    let next = 0;
    const worker = async () => {
      while (next < batches.length) {
        const b = batches[next++];
        await this.sendBatch(b);
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    this.running = false;
    clearTimeout(this.pending);
    this.pending = 0;
    this.render();
    if (this.onDone) this.onDone(this);
  }

  async sendBatch(batch) {
    for (let attempt = 0; ; attempt++) {
      try {
        const summary = await api.upload(this.projectId, batch.tagId, batch.files);
        this.downSince = null;
        batch.files.forEach((f, i) => {
          const r = summary.images[i] || {};
          if (r.status === "OK") this.settle(f, "ok", t("upload.added"));
          else if (r.status === "OKDuplicate") this.settle(f, "duplicate", t("upload.duplicate"));
          else this.settle(f, "rejected", `${r.status || "?"}: ${r.kaoReason || t("upload.noReason")}`);
        });
        return;
      } catch (e) {
        const retry = e.network || e.status === 502 || e.status === 503 || e.status === 504;
        // One clock for the whole upload: once the server has been gone too long, the
        // batches still to send are not each tried for another half minute.
        if (retry && !this.downSince) this.downSince = Date.now();
        const within = retry && Date.now() - this.downSince < GIVE_UP_MS;
        if (within && attempt < RETRY_MS.length) {
          this.retrying = t("upload.retrying", { n: batch.files.length, s: RETRY_MS[attempt] / 1000, why: e.message });
          this.render();
          await new Promise((r) => setTimeout(r, RETRY_MS[attempt]));
          this.retrying = "";
          continue;
        }
        const why = e.network ? t("upload.lost", { why: e.message }) : `${e.code}: ${e.message}`;
        for (const f of batch.files) this.settle(f, e.network ? "lost" : "rejected", why);
        return;
      }
    }
  }

  settle(f, state, text) {
    const prior = this.results.find((r) => r.f === f);
    if (prior) Object.assign(prior, { state, text });
    else {
      this.results.push({ f, path: f.path, tag: f.tagName, state, text });
      this.done++;
    }
    this.scheduleRender();
  }

  // At most four redraws a second while files settle: the browser shares the machine
  // with the server it uploads to.
  scheduleRender() {
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = 0;
      this.render();
    }, 250);
  }

  counts() {
    const c = { ok: 0, duplicate: 0, rejected: 0, refused: 0, lost: 0 };
    for (const r of this.results) c[r.state]++;
    return c;
  }

  render() {
    const total = this.files.length;
    const c = this.counts();
    const showAll = this.showAll;
    const rows = this.results.filter((r) => showAll || (r.state !== "ok"));
    const lost = this.results.filter((r) => r.state === "lost");
    this.el.dataset.state = this.running ? "running" : "done";
    this.el.dataset.ok = c.ok;
    this.el.dataset.duplicate = c.duplicate;
    this.el.dataset.rejected = c.rejected + c.refused;
    this.el.dataset.lost = c.lost;
    this.el.replaceChildren(...[
      h("div", { class: "copyrow" },
        h("h2", {}, this.running ? t("upload.uploading", { total }) : t("upload.finished", { total })),
        this.running ? null : h("button", { type: "button", class: "link", "aria-label": t("common.close"), onclick: () => this.el.remove() }, "✕")),
      h("progress", { id: "upload-progress", max: total || 1, value: this.done, "aria-label": t("upload.progress") }),
      h("p", { id: "upload-summary", role: "status" },
        t("upload.summary", { done: this.done, total, ok: c.ok, duplicate: c.duplicate, rejected: c.rejected + c.refused, lost: c.lost }),
        this.created ? " " + t("upload.tagsCreated", { n: this.created }) : ""),
      this.retrying ? h("p", { class: "status error" }, this.retrying) : null,
      lost.length && !this.running
        ? h("p", {}, h("button", { type: "button", class: "primary", id: "upload-retry", onclick: () => this.retryLost() }, t("upload.retryLost", { n: lost.length })))
        : null,
      h("label", {}, h("input", { type: "checkbox", checked: !!showAll, onchange: (e) => { this.showAll = e.target.checked; this.render(); } }), " ", t("upload.showAll")),
      rows.length
        ? h("div", { class: "files" }, h("table", { id: "upload-files" },
            h("thead", {}, h("tr", {}, h("th", {}, t("upload.file")), h("th", {}, t("upload.tag")), h("th", {}, t("upload.result")))),
            h("tbody", {}, rows.map((r) => h("tr", { class: "r-" + r.state, dataset: { state: r.state } },
              h("td", { class: "mono" }, r.path), h("td", {}, r.tag || t("upload.untagged")), h("td", {}, r.text))))))
        : null,
    ].filter(Boolean));
  }

  async retryLost() {
    this.downSince = null;
    const lost = this.results.filter((r) => r.state === "lost").map((r) => r.f);
    const byTag = new Map();
    for (const f of lost) {
      const tag = f.tagId || "";
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push(f);
    }
    const batches = [];
    for (const [tagId, list] of byTag) {
      for (let i = 0; i < list.length; i += this.server.maxBatchImages) {
        batches.push({ tagId, files: list.slice(i, i + this.server.maxBatchImages) });
      }
    }
    await this.send(batches);
  }
}
