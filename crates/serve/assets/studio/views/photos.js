// Photos: the tags with their counts (add, rename, delete, the Negative tag), uploads by
// drag-and-drop or file pickers, and a virtualised grid of server-made thumbnails —
// filtered by tag, untagged or rejected by the crop stage — with multi-select to tag,
// untag or delete, and a photo's detail: its face boxes, the chip that is trained on, or
// why it was rejected.

import { api } from "../api.js";
import { h, statusLine, describe, confirmDialog, promptDialog, modal, boxes, bytes } from "../ui.js";
import { Upload, droppedFiles, inputFiles } from "./upload.js";

const CELL_W = 132;
const CELL_H = 158;
const PAGE = 128;

export async function render(ctx) {
  const { main, projectId, server, t } = ctx;
  const status = statusLine("photos-status");
  let tags = [];
  let counts = { all: 0, untagged: 0, rejected: 0 };
  let filter = { kind: "all" };
  let loose = "";
  const selected = new Set();
  const known = new Map(); // image id → the image as listed

  // ---- tags ----
  const tagList = h("ul", { class: "taglist", id: "tag-list", "aria-label": t("photos.filters") });
  const newTag = h("input", { type: "text", id: "new-tag-name", required: true, maxlength: 256, "aria-label": t("photos.newTag") });
  const negative = h("input", { type: "checkbox", id: "new-tag-negative" });
  const tagForm = h("form", { id: "new-tag", class: "stack" },
    h("label", { class: "field" }, t("photos.newTag"), newTag),
    h("label", { class: "check" }, negative, h("span", {}, t("photos.negative"))),
    h("div", {}, h("button", { type: "submit", class: "primary", id: "add-tag" }, t("photos.addTag"))));
  tagForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const tag = await api.createTag(projectId, newTag.value.trim(), negative.checked ? "Negative" : "Regular");
      newTag.value = "";
      negative.checked = false;
      status.set(t("photos.tagAdded", { name: tag.name }), "ok");
      await refresh();
    } catch (err) {
      status.error(t("photos.tagAddFailed"), err);
    }
  });

  function filterButton(kind, label, count, tagId) {
    const active = filter.kind === kind && (kind !== "tag" || filter.tagId === tagId);
    return h("button", {
      type: "button",
      class: "filter",
      "aria-pressed": active ? "true" : "false",
      dataset: { filter: kind, tag: tagId || "" },
      onclick: () => setFilter({ kind, tagId }),
    }, h("span", {}, label), h("span", { class: "num count", dataset: { count: String(count) } }, count));
  }

  function renderTags() {
    const items = [
      h("li", {}, filterButton("all", t("photos.all"), counts.all)),
      h("li", {}, filterButton("untagged", t("photos.untagged"), counts.untagged)),
      h("li", {}, filterButton("rejected", t("photos.rejected"), counts.rejected)),
      h("li", { "aria-hidden": "true" }, h("hr")),
    ];
    for (const tag of tags) {
      items.push(h("li", { dataset: { tagName: tag.name } },
        filterButton("tag", tag.type === "Negative" ? `${tag.name} ⊘` : tag.name, tag.imageCount, tag.id),
        h("span", { class: "tools" },
          h("button", { type: "button", class: "link", title: t("common.rename"), "aria-label": t("photos.renameTag", { name: tag.name }), onclick: () => renameTag(tag) }, "✎"),
          h("button", { type: "button", class: "link danger", title: t("common.delete"), "aria-label": t("photos.deleteTag", { name: tag.name }), onclick: () => deleteTag(tag) }, "✕"))));
    }
    tagList.replaceChildren(...items);
    // Tag choices elsewhere on the page.
    looseSelect.replaceChildren(h("option", { value: "" }, t("photos.looseUntagged")), ...tags.map((x) => h("option", { value: x.id, selected: x.id === loose }, x.name)));
    applyTag.replaceChildren(...tags.map((x) => h("option", { value: x.id }, x.name)));
  }

  async function renameTag(tag) {
    const name = await promptDialog(t("photos.renameTagTo"), tag.name);
    if (!name || name === tag.name) return;
    try {
      await api.updateTag(projectId, tag.id, { name });
      status.set(t("photos.tagRenamed", { name }), "ok");
      await refresh();
    } catch (e) {
      status.error(t("photos.tagRenameFailed"), e);
    }
  }

  async function deleteTag(tag) {
    if (!(await confirmDialog(t("photos.confirmDeleteTag", { name: tag.name, n: tag.imageCount })))) return;
    try {
      await api.deleteTag(projectId, tag.id);
      if (filter.tagId === tag.id) filter = { kind: "all" };
      status.set(t("photos.tagDeleted", { name: tag.name }), "ok");
      await refresh();
    } catch (e) {
      status.error(t("photos.tagDeleteFailed"), e);
    }
  }

  // ---- upload ----
  const looseSelect = h("select", { id: "loose-tag", onchange: (e) => (loose = e.target.value) });
  // The inputs are visually hidden but focusable; their labels are the controls.
  const filesInput = h("input", { type: "file", multiple: true, id: "file-input", class: "sr" });
  const folderInput = h("input", { type: "file", multiple: true, webkitdirectory: true, id: "folder-input", class: "sr" });
  const reportSlot = h("div", { id: "upload-slot" });
  const drop = h("section", { class: "drop", id: "drop", "aria-label": t("photos.dropLabel") },
    h("div", { class: "row pickers" },
      h("strong", { class: "drop-title" }, t("photos.drop")),
      filesInput, h("label", { class: "button", for: "file-input" }, t("photos.chooseFiles")),
      folderInput, h("label", { class: "button", for: "folder-input" }, t("photos.chooseFolder")),
      h("label", { class: "inline" }, h("span", {}, t("photos.looseTag")), looseSelect)),
    h("p", { class: "muted small" }, t("photos.dropHelp", { limit: bytes(server.maxImageBytes), batch: server.maxBatchImages })));

  async function upload(files) {
    if (files.length === 0) return;
    const up = new Upload({
      projectId,
      server,
      tags,
      looseTag: loose,
      onDone: () => refresh(),
    });
    reportSlot.replaceChildren(up.el);
    await up.start(files);
  }
  filesInput.addEventListener("change", () => { upload(inputFiles(filesInput.files)); filesInput.value = ""; });
  folderInput.addEventListener("change", () => { upload(inputFiles(folderInput.files)); folderInput.value = ""; });
  const over = (on) => (e) => { e.preventDefault(); drop.classList.toggle("over", on); };
  main.addEventListener("dragover", over(true));
  main.addEventListener("dragleave", over(false));
  main.addEventListener("drop", async (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    try {
      upload(await droppedFiles(e.dataTransfer));
    } catch (err) {
      status.error(t("photos.dropFailed"), err);
    }
  });

  // ---- selection toolbar ----
  const selCount = h("span", { id: "selected-count", class: "muted" });
  const applyTag = h("select", { id: "apply-tag", "aria-label": t("photos.tagAs") });
  const toolbar = h("div", { class: "toolbar", id: "toolbar" },
    selCount,
    h("button", { type: "button", id: "select-visible", onclick: () => selectVisible() }, t("photos.selectVisible")),
    h("button", { type: "button", id: "select-none", onclick: () => { selected.clear(); paint(); } }, t("photos.selectNone")),
    h("span", { class: "row" }, applyTag, h("button", { type: "button", id: "tag-selected", onclick: () => tagSelected() }, t("photos.tagSelected"))),
    h("button", { type: "button", id: "untag-selected", onclick: () => untagSelected() }, t("photos.untagSelected")),
    h("button", { type: "button", class: "danger", id: "delete-selected", onclick: () => deleteSelected() }, t("photos.deleteSelected")));

  function chunks(list, n) {
    const out = [];
    for (let i = 0; i < list.length; i += n) out.push(list.slice(i, i + n));
    return out;
  }

  async function tagSelected() {
    const tagId = applyTag.value;
    if (!tagId || selected.size === 0) return;
    const ids = [...selected];
    try {
      // One tag per photo: a photo with another tag loses it first.
      const others = new Map();
      for (const id of ids) {
        for (const tg of (known.get(id) || {}).tags || []) {
          if (tg.tagId !== tagId) {
            if (!others.has(tg.tagId)) others.set(tg.tagId, []);
            others.get(tg.tagId).push(id);
          }
        }
      }
      for (const [other, list] of others) for (const c of chunks(list, 64)) await api.removeImageTags(projectId, c, [other]);
      for (const c of chunks(ids, 64)) await api.addImageTags(projectId, c.map((id) => [id, tagId]));
      status.set(t("photos.tagged", { n: ids.length, name: applyTag.selectedOptions[0].textContent }), "ok");
      selected.clear();
      await refresh();
    } catch (e) {
      status.error(t("photos.tagFailed"), e);
      await refresh();
    }
  }

  async function untagSelected() {
    const byTag = new Map();
    for (const id of selected) {
      for (const tg of (known.get(id) || {}).tags || []) {
        if (!byTag.has(tg.tagId)) byTag.set(tg.tagId, []);
        byTag.get(tg.tagId).push(id);
      }
    }
    try {
      for (const [tagId, list] of byTag) for (const c of chunks(list, 64)) await api.removeImageTags(projectId, c, [tagId]);
      status.set(t("photos.untagged.done", { n: selected.size }), "ok");
      selected.clear();
      await refresh();
    } catch (e) {
      status.error(t("photos.untagFailed"), e);
    }
  }

  async function deleteSelected() {
    const ids = [...selected];
    if (ids.length === 0) return;
    if (!(await confirmDialog(t("photos.confirmDelete", { n: ids.length })))) return;
    try {
      for (const c of chunks(ids, 256)) await api.deleteImages(projectId, c);
      status.set(t("photos.deleted", { n: ids.length }), "ok");
      selected.clear();
      await refresh();
    } catch (e) {
      status.error(t("photos.deleteFailed"), e);
      await refresh();
    }
  }

  // ---- the grid: only the rows in view are in the page ----
  const sizer = h("div", { class: "grid-sizer", role: "list", "aria-label": t("photos.grid") });
  const view = h("div", { class: "grid-view", id: "grid", tabindex: "-1" }, sizer);
  let count = 0;
  let pages = new Map(); // page → items (or a promise of them)
  let generation = 0;
  const cells = new Map(); // index → element
  let readyMarked = false;

  function cols() {
    return Math.max(1, Math.floor((view.clientWidth - 8) / CELL_W));
  }

  function item(i) {
    const page = pages.get(Math.floor(i / PAGE));
    return Array.isArray(page) ? page[i % PAGE] : undefined;
  }

  function load(page) {
    if (pages.has(page)) return;
    const gen = generation;
    const f = filter;
    pages.set(page, api.images(projectId, f, page * PAGE, PAGE).then((list) => {
      if (gen !== generation) return;
      for (const img of list) known.set(img.id, img);
      pages.set(page, list);
      paint();
    }, (e) => {
      if (gen !== generation) return;
      pages.delete(page);
      status.error(t("photos.loadFailed"), e);
    }));
  }

  function caption(img) {
    if (img.rejectReason) return h("div", { class: "cap bad" }, reasonText(t, img.rejectReason));
    const names = (img.tags || []).map((x) => x.tagName).join(", ");
    return h("div", { class: "cap" }, names || t("photos.untaggedOne"));
  }

  function cell(i, img) {
    const sel = selected.has(img.id);
    const el = h("div", {
      class: "cell" + (sel ? " selected" : ""),
      role: "listitem",
      dataset: { index: String(i), id: img.id },
    },
      h("input", {
        type: "checkbox", class: "pick", checked: sel,
        "aria-label": t("photos.selectOne", { n: i + 1 }),
        onchange: (e) => { e.target.checked ? selected.add(img.id) : selected.delete(img.id); paintSelection(); },
      }),
      h("button", { type: "button", class: "thumb", "aria-label": t("photos.openOne", { n: i + 1 }), onclick: () => openPhoto(img) },
        h("img", { src: img.thumbnailUri, alt: "", width: 124, height: 124, decoding: "async" })),
      caption(img));
    return el;
  }

  function paint() {
    const c = cols();
    const rows = Math.ceil(count / c);
    sizer.style.height = rows * CELL_H + 8 + "px";
    const first = Math.max(0, Math.floor(view.scrollTop / CELL_H) - 1);
    const last = Math.min(rows - 1, Math.ceil((view.scrollTop + view.clientHeight) / CELL_H) + 1);
    const from = first * c;
    const to = Math.min(count, (last + 1) * c);
    for (let p = Math.floor(from / PAGE); p <= Math.floor(Math.max(from, to - 1) / PAGE) && from < to; p++) load(p);
    for (const [i, el] of cells) {
      if (i < from || i >= to || el.dataset.id !== (item(i) || {}).id || el.dataset.cols !== String(c)) {
        el.remove();
        cells.delete(i);
      }
    }
    for (let i = from; i < to; i++) {
      if (cells.has(i)) continue;
      const img = item(i);
      if (!img) continue;
      const el = cell(i, img);
      el.dataset.cols = String(c);
      el.style.left = 4 + (i % c) * CELL_W + "px";
      el.style.top = 4 + Math.floor(i / c) * CELL_H + "px";
      sizer.append(el);
      cells.set(i, el);
    }
    paintSelection();
    markReady(from, Math.min(to, from + Math.ceil(view.clientHeight / CELL_H) * c));
    if (count === 0) sizer.replaceChildren(h("p", { class: "empty", id: "grid-empty" }, filter.kind === "rejected" ? t("photos.noRejected") : t("photos.noPhotos")));
  }

  // The first screen is ready when every thumbnail in view has arrived (the benchmark
  // reads data-ready and window.kaoFirstScreenMs).
  function markReady(from, to) {
    if (readyMarked) return;
    const imgs = [];
    for (let i = from; i < to; i++) {
      const el = cells.get(i);
      if (!el) return;
      imgs.push(el.querySelector("img"));
    }
    readyMarked = true;
    Promise.all(imgs.map((im) => (im.complete ? null : new Promise((r) => { im.onload = r; im.onerror = r; })))).then(() => {
      view.dataset.ready = "1";
      window.kaoFirstScreenMs = performance.now();
    });
  }

  function paintSelection() {
    selCount.textContent = t("photos.selected", { n: selected.size });
    for (const el of cells.values()) {
      const on = selected.has(el.dataset.id);
      el.classList.toggle("selected", on);
      const box = el.querySelector(".pick");
      if (box) box.checked = on;
    }
    for (const b of toolbar.querySelectorAll("button:not(#select-visible)")) b.disabled = selected.size === 0;
  }

  function selectVisible() {
    for (const el of cells.values()) selected.add(el.dataset.id);
    paintSelection();
  }

  async function setFilter(f) {
    filter = f;
    view.scrollTop = 0;
    await reloadGrid();
    renderTags();
  }

  async function reloadGrid() {
    generation++;
    pages = new Map();
    for (const el of cells.values()) el.remove();
    cells.clear();
    sizer.replaceChildren();
    readyMarked = false;
    delete view.dataset.ready;
    try {
      count = await api.imageCount(projectId, filter);
    } catch (e) {
      status.error(t("photos.loadFailed"), e);
      count = 0;
    }
    view.dataset.count = String(count);
    paint();
  }

  async function refresh() {
    try {
      const [tg, all, untagged, rejected] = await Promise.all([
        api.tags(projectId),
        api.imageCount(projectId, { kind: "all" }),
        api.imageCount(projectId, { kind: "untagged" }),
        api.imageCount(projectId, { kind: "rejected" }),
      ]);
      tags = tg;
      counts = { all, untagged, rejected };
    } catch (e) {
      status.error(t("photos.loadFailed"), e);
    }
    if (filter.kind === "tag" && !tags.some((x) => x.id === filter.tagId)) filter = { kind: "all" };
    renderTags();
    await reloadGrid();
  }

  // ---- one photo, large ----
  async function openPhoto(img) {
    let faces = null;
    let error = null;
    try {
      faces = await api.faces(projectId, img.id);
    } catch (e) {
      error = e;
    }
    await modal((close) => {
      const layer = h("div", { class: "boxes" });
      const photo = h("img", { src: img.resizedImageUri || img.originalImageUri, alt: t("photos.photoAlt"), id: "detail-photo" });
      const stage = h("div", { class: "stage" }, photo, layer);
      const list = faces ? faces.faces : [];
      boxes(layer, list.map((f, i) => ({ box: f.boundingBox, label: t("photos.faceLabel", { n: i + 1, score: f.score.toFixed(2) }) })));
      const side = [];
      const tagNames = (img.tags || []).map((x) => x.tagName).join(", ");
      side.push(h("p", {}, h("strong", {}, t("photos.tag")), " ", tagNames || t("photos.untaggedOne")));
      side.push(h("p", { class: "muted" }, `${img.width}×${img.height}`));
      if (error) side.push(h("p", { class: "status error" }, describe(t("photos.facesFailed"), error)));
      else if (!faces.cropped) side.push(h("p", { id: "detail-state" }, t("photos.notCropped")));
      else if (faces.rejectReason) {
        side.push(h("p", { id: "detail-state", class: "reject" }, t("photos.rejectedBecause", { reason: reasonText(t, faces.rejectReason) })));
        if (faces.rejectDetail) side.push(h("p", { class: "muted" }, faces.rejectDetail));
      } else {
        side.push(h("p", { id: "detail-state" }, t("photos.trainedOn")));
        side.push(h("div", { class: "chips" }, list.map((f, i) => h("figure", {},
          h("img", { src: f.chipUri, alt: t("photos.chipAlt", { n: i + 1 }) }),
          h("figcaption", {}, t("photos.chipCaption", { n: i + 1, score: f.score.toFixed(2) }))))));
      }
      return [
        h("div", { class: "dlg-head" }, h("h2", {}, t("photos.photo")), h("button", { type: "button", onclick: () => close(), "aria-label": t("common.close") }, "✕")),
        h("div", { class: "detail", id: "photo-detail" }, h("div", {}, stage), h("div", {}, side)),
      ];
    });
  }

  // ---- layout ----
  main.append(
    h("h1", { class: "sr" }, t("tab.photos")),
    h("div", { class: "photos" },
      h("aside", { class: "card" }, h("h2", {}, t("photos.tags")), tagList, tagForm),
      h("section", {}, drop, reportSlot, status, toolbar, view)),
  );
  let raf = 0;
  const onScroll = () => {
    if (raf) return;
    raf = requestAnimationFrame(() => { raf = 0; paint(); });
  };
  view.addEventListener("scroll", onScroll, { passive: true });
  const resize = new ResizeObserver(onScroll);
  resize.observe(view);
  await refresh();
  return () => resize.disconnect();
}

/// A crop stage reject reason in words.
export function reasonText(t, reason) {
  const kind = reason.split(":")[0];
  const text = t("reject." + kind, {}, "");
  return text ? (kind === "unreadable" ? `${text} (${reason.slice(kind.length + 1).trim()})` : text) : reason;
}
