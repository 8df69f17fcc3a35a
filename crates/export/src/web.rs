//! `--platform web`: the browser runtime plus the iteration's bundle in `model/`.

use std::path::Path;

use kao_dataset::WorkDir;
use kao_infer::Bundle;

use crate::error::{ExportError, Result};
use crate::output::{self, Staging};
use crate::{ExportRequest, ExportSummary, Platform};

/// The WebAssembly module `wasm-bindgen` writes for kao-web (SIMD128, for every engine).
pub(crate) const WASM: &str = "kao_web_bg.wasm";
/// The files a runtime folder must have: the page, the API module, and each build's
/// wasm-bindgen glue and module (`kao.js` loads the relaxed-SIMD build where the engine
/// validates it, the SIMD128 one elsewhere; see `kao_harness::WASM_BUILDS`).
const RUNTIME_FILES: [&str; 8] = [
    "index.html",
    "page.js",
    "page.css",
    "kao.js",
    "kao_web.js",
    WASM,
    "kao_web_relaxed.js",
    "kao_web_relaxed_bg.wasm",
];
/// Where the page's `kao.load` finds the bundle.
const MODEL_DIR: &str = "model";

pub(crate) fn export(
    work: &WorkDir,
    iteration: u32,
    published_name: Option<String>,
    request: &ExportRequest,
) -> Result<ExportSummary> {
    let runtime = request
        .web_runtime
        .clone()
        .or_else(crate::find_web_runtime)
        .ok_or_else(|| ExportError::Runtime {
            path: crate::WEB_RUNTIME_DIR.into(),
            message: "no runtime found".into(),
        })?;
    check_runtime(&runtime)?;
    let mut bundle = Bundle::collect(
        work,
        iteration,
        published_name.as_deref(),
        &request.networks,
    )?;
    if let Some(id) = &request.iteration_id {
        bundle = bundle.with_iteration_id(id);
    }
    // Load it as the page will, so that a bundle that cannot load is never written.
    let (_, bundle_info) = bundle.clone().into_predictor()?;
    let info = crate::info(Platform::Web, &bundle_info, published_name);

    let staging = Staging::begin(&request.out)?;
    for name in RUNTIME_FILES {
        output::copy(&runtime.join(name), &staging.dir().join(name))?;
    }
    bundle.write(&staging.dir().join(MODEL_DIR))?;
    kao_dataset::write_atomic(&staging.dir().join("README.md"), readme(&info).as_bytes())?;
    crate::finish(staging, request, info)
}

fn check_runtime(dir: &Path) -> Result<()> {
    match RUNTIME_FILES.iter().find(|f| !dir.join(f).is_file()) {
        Some(missing) => Err(ExportError::Runtime {
            path: dir.to_path_buf(),
            message: format!("{missing} is missing"),
        }),
        None => Ok(()),
    }
}

fn readme(info: &crate::ExportInfo) -> String {
    let name = info
        .published_name
        .clone()
        .unwrap_or_else(|| format!("iteration {}", info.iteration));
    format!(
        "# Kao: {name}, in the browser\n\
         \n\
         A static page that identifies faces with iteration {iteration} of project {project},\n\
         entirely in the browser (WebAssembly): photos and camera frames never leave the device.\n\
         \n\
         Serve this folder from any static web server and open it, for example:\n\
         \n\
         ```sh\n\
         python3 -m http.server 8000   # then open http://127.0.0.1:8000/\n\
         ```\n\
         \n\
         (Opening index.html straight from the disk does not work: browsers do not run\n\
         WebAssembly modules from file:// pages.)\n\
         \n\
         From another page, with this folder at `BASE`:\n\
         \n\
         ```js\n\
         import * as kao from \"BASE/kao.js\";\n\
         await kao.load(\"BASE/\");\n\
         const answer = await kao.identify(fileOrImageOrCanvas); // the Prediction API's JSON\n\
         ```\n\
         \n\
         `model/` holds the iteration (model.json, head.safetensors) and the face-network\n\
         weights it uses, each checked against SHA256SUMS when the page loads them.\n",
        iteration = info.iteration,
        project = info.project,
    )
}
