// Kao Studio: the shell — sign-in state, the hash router, the header and the view tabs.
// Each view is a module with `render(ctx)` that fills ctx.main and may return a cleanup
// function (timers, listeners) run when the view is left.

import { api, session, serverInfo } from "./api.js";
import { t, lang, setLang, translatePage } from "./i18n.js";
import { h, describe } from "./ui.js";
import * as signin from "./views/signin.js";
import * as projects from "./views/projects.js";
import * as photos from "./views/photos.js";
import * as collect from "./views/collect.js";
import * as train from "./views/train.js";
import * as performance from "./views/performance.js";
import * as quicktest from "./views/quicktest.js";
import * as predictions from "./views/predictions.js";
import * as publish from "./views/publish.js";

const PROJECT_VIEWS = [
  ["photos", photos],
  ["collect", collect],
  ["train", train],
  ["performance", performance],
  ["quicktest", quicktest],
  ["predictions", predictions],
  ["publish", publish],
];

const $ = (id) => document.getElementById(id);
let cleanup = null;
let info = null; // /quicktest/info: whether this server answers the Training API
let server = null; // …/training/server: limits, URL fetching, the Prediction-Key
let rendering = 0;

export function navigate(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

function parse() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "p" && parts[1]) return { view: parts[2] || "photos", projectId: parts[1], rest: parts.slice(3) };
  return { view: parts[0] || "projects", rest: parts.slice(1) };
}

function banner(text) {
  const b = $("banner");
  b.textContent = text || "";
  b.hidden = !text;
}

async function render() {
  const mine = ++rendering;
  if (cleanup) {
    try {
      cleanup();
    } catch {
      /* a view's cleanup must not stop the next view */
    }
    cleanup = null;
  }
  banner("");
  const main = $("main");
  main.replaceChildren();
  const route = parse();

  if (!info) {
    try {
      info = await serverInfo();
    } catch (e) {
      banner(describe(t("error.serverInfo"), e));
      return;
    }
  }
  // `kao serve --work`: no Training API, the Quick Test of what is published.
  if (!info.trainingApi) {
    header(null, null);
    cleanup = await quicktest.render({ main, info, predictionMode: true, t });
    return;
  }
  if (!session.key() || route.view === "signin") {
    header(null, null);
    server = null;
    await signin.render({ main, navigate, t, onSignedIn: (s) => (server = s) });
    return;
  }
  if (!server) {
    try {
      server = await api.server();
    } catch (e) {
      if (e.status === 401) return; // kao:unauthorized sends the user to sign in
      banner(describe(t("error.serverInfo"), e));
      return;
    }
  }
  if (mine !== rendering) return;
  let project = null;
  if (route.projectId) {
    try {
      project = await api.project(route.projectId);
    } catch (e) {
      if (mine !== rendering) return;
      header(null, null);
      banner(describe(t("error.project"), e));
      main.append(h("p", {}, h("a", { href: "#/projects" }, t("nav.allProjects"))));
      return;
    }
  }
  if (mine !== rendering) return;
  header(project, route.view);
  const ctx = { main, project, projectId: project && project.id, rest: route.rest, server, info, navigate, banner, t };
  const view = project ? PROJECT_VIEWS.find(([name]) => name === route.view) : null;
  const module = view ? view[1] : projects;
  try {
    cleanup = (await module.render(ctx)) || null;
  } catch (e) {
    banner(describe(t("error.view"), e));
  }
  if (mine !== rendering && cleanup) {
    cleanup();
    cleanup = null;
  }
  document.title = `${project ? project.name + " · " : ""}${t(view ? "tab." + view[0] : "nav.projects")} · Kao Studio`;
}

function header(project, current) {
  const crumbs = $("crumbs");
  crumbs.replaceChildren();
  const tabs = $("tabs");
  tabs.replaceChildren();
  const signedIn = !!session.key() && info && info.trainingApi;
  $("signout").hidden = !signedIn;
  if (signedIn) {
    crumbs.append(h("a", { href: "#/projects" }, t("nav.projects")));
  }
  if (project) {
    crumbs.append(h("span", { "aria-hidden": "true" }, "›"), h("span", { id: "project-name" }, project.name));
    for (const [name] of PROJECT_VIEWS) {
      tabs.append(
        h("a", {
          href: `#/p/${project.id}/${name}`,
          id: "tab-" + name,
          "aria-current": name === current ? "page" : false,
        }, t("tab." + name)),
      );
    }
  }
  tabs.hidden = !project;
}

window.addEventListener("hashchange", render);
window.addEventListener("kao:unauthorized", () => {
  server = null;
  // The sign-in form says itself that the key was refused.
  if (document.getElementById("signin")) return;
  navigate("#/signin");
});
$("signout").addEventListener("click", () => {
  session.clear();
  server = null;
  navigate("#/signin");
});
$("lang").value = lang();
$("lang").addEventListener("change", (e) => {
  setLang(e.target.value);
  translatePage();
  render();
});
translatePage();
render();
