// Small DOM helpers shared by the views: element building, status lines, dialogs, numbers.

import { t, lang } from "./i18n.js";

/// h("button", {class: "primary", onclick}, "text", child…): an element. Attributes that
/// start with "on" are listeners; `dataset` and `style` objects are assigned; false,
/// null and undefined attributes are left out.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "style") Object.assign(el.style, v);
    else if (k === "class") el.className = v;
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/// A status line (role=status) whose text says what happened; `error` reads as an alert.
export function statusLine(id) {
  const el = h("p", { class: "status", role: "status", "aria-live": "polite", id });
  el.set = (text, kind) => {
    el.textContent = text || "";
    el.className = "status" + (kind ? " " + kind : "");
    el.setAttribute("role", kind === "error" ? "alert" : "status");
  };
  el.error = (lead, err) => el.set(describe(lead, err), "error");
  return el;
}

/// A failed call in words: what was being done, the server's code and message.
export function describe(lead, err) {
  if (!err) return lead;
  const code = err.code ? `${err.code}: ` : "";
  // A known code in the page's language, then the server's own words.
  const known = err.code ? t("error.code." + err.code, {}, "") : "";
  const message = err.message || String(err);
  return `${lead} — ${code}${known ? `${known} (${message})` : message}`;
}

export function percent(v) {
  return v === null || v === undefined || Number.isNaN(v) ? "–" : (v * 100).toFixed(1) + "%";
}

/// A number shown as a percentage, with the API's exact value in data-value.
export function metric(id, value) {
  return h("span", { id: id || null, class: "num", dataset: { value: String(value) } }, percent(value));
}

export function bytes(n) {
  if (n >= 1048576) return (n / 1048576).toFixed(1) + " MB";
  if (n >= 1024) return (n / 1024).toFixed(0) + " KB";
  return n + " B";
}

export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(lang() === "ja" ? "ja-JP" : undefined);
}

const dialog = () => document.getElementById("dialog");

/// Shows `content` in the page's modal dialog; resolves with what `close(value)` gives
/// (Escape closes with `undefined`).
export function modal(build) {
  return new Promise((resolve) => {
    const d = dialog();
    let result;
    const close = (value) => {
      result = value;
      d.close();
    };
    d.replaceChildren(h("div", { class: "dlg" }, build(close)));
    d.onclose = () => {
      d.replaceChildren();
      resolve(result);
    };
    d.showModal();
    const first = d.querySelector("[autofocus], input, select, textarea, button.primary, button");
    if (first) first.focus();
  });
}

export function confirmDialog(message, action) {
  return modal((close) => [
    h("p", {}, message),
    h("div", { class: "actions" },
      h("button", { type: "button", onclick: () => close(false) }, t("common.cancel")),
      h("button", { type: "button", class: "primary danger", id: "confirm-yes", onclick: () => close(true) }, action || t("common.delete"))),
  ]).then((v) => v === true);
}

export function promptDialog(label, value) {
  return modal((close) => {
    const input = h("input", { type: "text", value: value || "", autofocus: true, id: "prompt-input" });
    return h("form", { onsubmit: (e) => { e.preventDefault(); close(input.value.trim()); } },
      h("label", { class: "field" }, label, input),
      h("div", { class: "actions" },
        h("button", { type: "button", onclick: () => close(undefined) }, t("common.cancel")),
        h("button", { type: "submit", class: "primary" }, t("common.save"))));
  });
}

/// A button that copies `text()` to the clipboard and says so.
export function copyButton(text, label) {
  const b = h("button", { type: "button", class: "copy" }, label || t("common.copy"));
  b.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text());
      b.textContent = t("common.copied");
    } catch {
      // No clipboard permission (plain http on another host): select the text instead.
      b.textContent = t("common.copyFailed");
    }
    setTimeout(() => (b.textContent = label || t("common.copy")), 1500);
  });
  return b;
}

/// Draws face boxes over a photo: fractions of its width and height, a label each.
export function boxes(layer, faces) {
  layer.replaceChildren(
    ...faces.map((f) => {
      const b = f.box;
      return h("div", {
        class: "box" + (f.unknown ? " unknown" : "") + (f.picked ? " picked" : ""),
        style: { left: b.left * 100 + "%", top: b.top * 100 + "%", width: b.width * 100 + "%", height: b.height * 100 + "%" },
      }, h("span", {}, f.label));
    }),
  );
}

/// Polls `fn` every `ms` until `stop()` is called; never two calls at once.
export function poller(fn, ms) {
  let alive = true;
  let timer = null;
  const tick = async () => {
    if (!alive) return;
    try {
      await fn();
    } finally {
      if (alive) timer = setTimeout(tick, ms);
    }
  };
  tick();
  return () => {
    alive = false;
    clearTimeout(timer);
  };
}
