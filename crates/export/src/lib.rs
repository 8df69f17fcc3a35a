#![doc = include_str!("../README.md")]

mod docker;
mod elf;
mod error;
mod output;
mod web;

use std::path::PathBuf;

use kao_dataset::WorkDir;
use serde::{Deserialize, Serialize};

pub use elf::is_static_executable;
pub use error::{ExportError, Result};

/// Where an exported iteration runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// A static page that runs the model in the browser (WebAssembly).
    Web,
    /// A container build context whose image runs `kao serve`.
    Docker,
}

impl Platform {
    pub fn name(self) -> &'static str {
        match self {
            Platform::Web => "web",
            Platform::Docker => "docker",
        }
    }
}

impl std::str::FromStr for Platform {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "web" => Ok(Platform::Web),
            "docker" | "dockerfile" => Ok(Platform::Docker),
            _ => Err(format!("unknown platform {s:?} (web or docker)")),
        }
    }
}

/// Which iteration to export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// The latest trained iteration (as `kao predict` picks).
    Latest,
    Iteration(u32),
    /// The iteration published under this name.
    Published(String),
}

/// What to export, from where, to where.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    pub platform: Platform,
    pub selection: Selection,
    /// The folder to write; replaced whole when it holds an earlier export, refused when it
    /// holds anything else.
    pub out: PathBuf,
    /// The face-network weights (normally [`kao_models::ModelFiles::default_dir`]).
    pub networks: kao_models::ModelFiles,
    /// For [`Platform::Web`]: the browser runtime, as `cargo xtask web` builds it
    /// ([`find_web_runtime`]).
    pub web_runtime: Option<PathBuf>,
    /// For [`Platform::Docker`]: a statically linked `kao` for Linux
    /// ([`find_static_binary`]).
    pub binary: Option<PathBuf>,
    /// Also write `<out>.zip` with the same files.
    pub zip: bool,
    /// For [`Platform::Web`]: the iteration id the page reports, when it is not the one
    /// the work dir derives (a `kao serve --root` project's Training API ids).
    pub iteration_id: Option<String>,
}

/// `export.json` at the top of every export: what it holds, and the mark that lets a
/// later export replace the folder.
pub const EXPORT_FILE: &str = "export.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportInfo {
    pub platform: Platform,
    pub project: String,
    pub iteration: u32,
    /// The iteration id, as the Prediction API reports it.
    pub iteration_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_name: Option<String>,
    pub kao_version: String,
    pub created_at: String,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct ExportSummary {
    pub info: ExportInfo,
    pub dir: PathBuf,
    pub zip: Option<PathBuf>,
    /// Every file written under `dir`, relative, with its size.
    pub files: Vec<(String, u64)>,
}

impl ExportSummary {
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|(_, n)| n).sum()
    }
}

/// Exports one iteration of `work`. The folder appears whole or not at all: it is built
/// beside `out` and renamed into place, and the zip is written atomically.
pub fn export(work: &WorkDir, request: &ExportRequest) -> Result<ExportSummary> {
    let (iteration, published_name) = resolve(work, &request.selection)?;
    match request.platform {
        Platform::Web => web::export(work, iteration, published_name, request),
        Platform::Docker => docker::export(work, iteration, published_name, request),
    }
}

/// The iteration number a selection names, and the name it is published under (if any).
pub fn resolve(work: &WorkDir, selection: &Selection) -> Result<(u32, Option<String>)> {
    let published = kao_infer::read_published(work)?;
    let name_of = |n: u32| {
        published
            .iter()
            .find(|p| p.iteration == n)
            .map(|p| p.name.clone())
    };
    match selection {
        Selection::Iteration(n) => Ok((*n, name_of(*n))),
        Selection::Published(name) => published
            .iter()
            .find(|p| &p.name == name)
            .map(|p| (p.iteration, Some(p.name.clone())))
            .ok_or_else(|| ExportError::NotPublished {
                name: name.clone(),
                path: work.published(),
            }),
        Selection::Latest => work
            .list_iterations()
            .into_iter()
            .rev()
            .find(|&n| work.iteration(n).join(kao_infer::MODEL_FILE).is_file())
            .map(|n| (n, name_of(n)))
            .ok_or_else(|| ExportError::NothingTrained(work.root().to_path_buf())),
    }
}

/// The folder `cargo xtask web` writes the browser runtime to, under a cargo target dir.
pub const WEB_RUNTIME_DIR: &str = "export/web";
/// Where `cargo xtask static` writes the static `kao`, under a cargo target dir.
pub const STATIC_BINARY: &str = "export/x86_64-unknown-linux-musl/debug/kao";

/// The browser runtime to export with: `$KAO_WEB_RUNTIME`, else the one `cargo xtask web`
/// built in the target dir this `kao` was built in.
pub fn find_web_runtime() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("KAO_WEB_RUNTIME") {
        return Some(PathBuf::from(dir));
    }
    beside_executable(WEB_RUNTIME_DIR).filter(|d| d.join(web::WASM).is_file())
}

/// The static `kao` to put in a container: `$KAO_STATIC_BINARY`, else this executable when
/// it is statically linked, else the one `cargo xtask static` built in the target dir this
/// `kao` was built in.
pub fn find_static_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("KAO_STATIC_BINARY") {
        return Some(PathBuf::from(path));
    }
    let exe = std::env::current_exe().ok()?;
    if is_static_executable(&exe).unwrap_or(false) {
        return Some(exe);
    }
    beside_executable(STATIC_BINARY).filter(|p| p.is_file())
}

/// `rel` under the nearest cargo target dir (the folder with `CACHEDIR.TAG`) above the
/// running executable.
fn beside_executable(rel: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    exe.ancestors()
        .find(|d| d.join("CACHEDIR.TAG").is_file())
        .map(|d| d.join(rel))
}

fn created_at() -> String {
    kao_infer::now_rfc3339()
}

fn info(
    platform: Platform,
    bundle: &kao_infer::BundleInfo,
    published_name: Option<String>,
) -> ExportInfo {
    ExportInfo {
        platform,
        project: bundle.project.clone(),
        iteration: bundle.iteration_number,
        iteration_id: bundle.iteration.clone(),
        published_name,
        kao_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: created_at(),
    }
}

/// Both platforms' last steps: `export.json` into the staged folder, the folder renamed
/// into place, and the zip when asked for.
fn finish(
    staging: output::Staging,
    request: &ExportRequest,
    info: ExportInfo,
) -> Result<ExportSummary> {
    kao_dataset::write_atomic_json(&staging.dir().join(EXPORT_FILE), &info)?;
    let files = staging.commit()?;
    let zip = if request.zip {
        let path = request.out.with_extension("zip");
        output::zip_folder(&request.out, &files, &path)?;
        Some(path)
    } else {
        None
    };
    Ok(ExportSummary {
        info,
        dir: request.out.clone(),
        zip,
        files,
    })
}
