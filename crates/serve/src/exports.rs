//! The Training API's exports (`…/iterations/{id}/export`): `kao_export` run on the
//! blocking pool into the project's work dir, one folder and zip per iteration and
//! platform:
//!
//! ```text
//! <work>/exports/<iteration id>/web/        the export folder (as `kao export` writes it)
//! <work>/exports/<iteration id>/web.zip     what the download URI serves
//! <work>/exports/<iteration id>/web.json    the status: Exporting, Done or Failed (+ why)
//! ```
//!
//! The status file is written before the export starts and again when it ends, so a
//! restarted server lists the same exports; one still `Exporting` that no task of this
//! server runs was cut short by a stop, and is reported `Failed`.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::http::StatusCode;
use kao_dataset::WorkDir;
use kao_export::{ExportRequest, Platform, Selection};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// The folder under a project's work dir.
pub(crate) const DIR: &str = "exports";

/// Where the export tools come from; `None` finds them as `kao export` does
/// ([`kao_export::find_web_runtime`], [`kao_export::find_static_binary`]).
#[derive(Debug, Clone, Default)]
pub struct ExportTools {
    /// The browser runtime `cargo xtask web` builds.
    pub web_runtime: Option<PathBuf>,
    /// A statically linked `kao` for the container.
    pub static_binary: Option<PathBuf>,
}

/// A platform as the Training API names it, with the flavor asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub platform: Platform,
    pub flavor: Option<String>,
}

/// Custom Vision's platform names that Kao has no export for.
const NOT_EXPORTED: [&str; 5] = ["CoreML", "TensorFlow", "ONNX", "VAIDK", "OpenVino"];

const SUPPORTED: &str = "Kao exports Web (a static page that runs the model in the browser, \
                         WebAssembly) and DockerFile (flavor Linux: a container build context \
                         serving the Prediction API)";

/// The platform name an answer carries: Custom Vision's where it has one.
pub(crate) fn api_name(platform: Platform) -> &'static str {
    match platform {
        Platform::Web => "Web",
        Platform::Docker => "DockerFile",
    }
}

/// Reads `platform` and `flavor` as the Training API gives them (case-insensitive).
pub(crate) fn target(platform: &str, flavor: Option<&str>) -> Result<Target, ApiError> {
    let unsupported = |what: String| {
        ApiError::coded(
            StatusCode::BAD_REQUEST,
            "BadRequestNotSupported",
            format!("{what}: {SUPPORTED}"),
        )
    };
    let flavor = flavor.map(str::trim).filter(|f| !f.is_empty());
    let p = platform.trim();
    let platform = match p.to_ascii_lowercase().as_str() {
        "web" => Platform::Web,
        "dockerfile" | "docker" => Platform::Docker,
        _ => {
            let known = NOT_EXPORTED.iter().find(|n| n.eq_ignore_ascii_case(p));
            return Err(unsupported(match known {
                Some(name) => format!("Export to {name} is not supported"),
                None => format!("{p:?} is not an export platform"),
            }));
        }
    };
    let flavor = match (platform, flavor) {
        (_, None) => None,
        (Platform::Docker, Some(f)) if f.eq_ignore_ascii_case("linux") => Some("Linux".into()),
        (_, Some(f)) => {
            return Err(unsupported(format!(
                "Export to {} with flavor {f} is not supported",
                api_name(platform)
            )))
        }
    };
    Ok(Target { platform, flavor })
}

/// The status file: what the Training API reports, and the times behind it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Record {
    pub platform: Platform,
    /// `Exporting`, `Done` or `Failed`.
    pub status: String,
    pub flavor: Option<String>,
    /// Why a `Failed` export failed.
    pub error: Option<String>,
    pub started: String,
    pub finished: Option<String>,
    /// Wall time of the export, once it ended.
    pub seconds: Option<f64>,
    /// The Kao that wrote it; another version's export is reported
    /// `newerVersionAvailable`.
    pub kao_version: String,
}

fn folder(work: &WorkDir, iteration: &str) -> PathBuf {
    work.root().join(DIR).join(iteration)
}

fn status_file(work: &WorkDir, iteration: &str, platform: Platform) -> PathBuf {
    folder(work, iteration).join(format!("{}.json", platform.name()))
}

/// The zip a finished export's download URI serves.
pub(crate) fn zip_file(work: &WorkDir, iteration: &str, platform: Platform) -> PathBuf {
    folder(work, iteration).join(format!("{}.zip", platform.name()))
}

/// Removes an iteration's exports (with the iteration).
pub(crate) fn remove(work: &WorkDir, iteration: &str) -> std::io::Result<()> {
    let dir = folder(work, iteration);
    match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The exports running in this server, by status file.
#[derive(Default)]
pub(crate) struct Exports {
    running: Arc<Mutex<HashSet<PathBuf>>>,
    tools: ExportTools,
}

/// Takes an export off the running set when its task ends, however it ends.
struct Running {
    set: Arc<Mutex<HashSet<PathBuf>>>,
    key: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        lock(&self.set).remove(&self.key);
    }
}

fn lock(set: &Mutex<HashSet<PathBuf>>) -> std::sync::MutexGuard<'_, HashSet<PathBuf>> {
    set.lock().unwrap_or_else(|p| p.into_inner())
}

impl Exports {
    pub fn new(tools: ExportTools) -> Self {
        Exports {
            running: Arc::default(),
            tools,
        }
    }

    /// Starts exporting iteration `number` (id `iteration`) of `work`; answers its
    /// `Exporting` record, or the spec's conflict while the same export runs.
    pub fn start(
        &self,
        work: WorkDir,
        iteration: &str,
        number: u32,
        target: Target,
    ) -> Result<Record, ApiError> {
        let key = status_file(&work, iteration, target.platform);
        if !lock(&self.running).insert(key.clone()) {
            return Err(ApiError::coded(
                StatusCode::BAD_REQUEST,
                "BadRequestExportAlreadyInProgress",
                format!(
                    "Iteration {iteration} is already being exported to {}; poll GET …/export \
                     until it is Done",
                    api_name(target.platform)
                ),
            ));
        }
        let guard = Running {
            set: Arc::clone(&self.running),
            key: key.clone(),
        };
        let record = Record {
            platform: target.platform,
            status: "Exporting".into(),
            flavor: target.flavor,
            error: None,
            started: kao_infer::now_rfc3339(),
            finished: None,
            seconds: None,
            kao_version: env!("CARGO_PKG_VERSION").into(),
        };
        kao_dataset::write_atomic_json(&key, &record)
            .map_err(|e| ApiError::internal(format!("cannot start the export: {e}")))?;
        let request = ExportRequest {
            platform: target.platform,
            selection: Selection::Iteration(number),
            out: folder(&work, iteration).join(target.platform.name()),
            networks: kao_models::ModelFiles::default_dir(),
            web_runtime: self.tools.web_runtime.clone(),
            binary: self.tools.static_binary.clone(),
            zip: true,
            iteration_id: Some(iteration.to_string()),
        };
        let answer = record.clone();
        tokio::task::spawn_blocking(move || {
            let _running = guard;
            let clock = Instant::now();
            let result = kao_export::export(&work, &request);
            let mut done = record;
            done.finished = Some(kao_infer::now_rfc3339());
            done.seconds = Some(clock.elapsed().as_secs_f64());
            match result {
                Ok(_) => done.status = "Done".into(),
                Err(e) => {
                    tracing::warn!(error = %e, "export failed");
                    done.status = "Failed".into();
                    done.error = Some(e.to_string());
                }
            }
            if let Err(e) = kao_dataset::write_atomic_json(&key, &done) {
                tracing::warn!(error = %e, "cannot record the export's end");
            }
        });
        Ok(answer)
    }

    /// An iteration's exports, by platform name, as they stand now.
    pub fn list(&self, work: &WorkDir, iteration: &str) -> Vec<Record> {
        let running = lock(&self.running).clone();
        let mut out = Vec::new();
        for platform in [Platform::Docker, Platform::Web] {
            let key = status_file(work, iteration, platform);
            let Ok(bytes) = std::fs::read(&key) else {
                continue;
            };
            let mut record: Record = match serde_json::from_slice(&bytes) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(file = %key.display(), error = %e, "unreadable export status");
                    continue;
                }
            };
            if record.status == "Exporting" && !running.contains(&key) {
                record.status = "Failed".into();
                record.error =
                    Some("the server stopped before the export finished; export again".into());
            }
            if record.status == "Done" && !zip_file(work, iteration, platform).is_file() {
                record.status = "Failed".into();
                record.error = Some(format!(
                    "{}: the export's zip is missing; export again",
                    zip_file(work, iteration, platform).display()
                ));
            }
            out.push(record);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_map_to_kao_or_are_refused_by_name() {
        let t = target("DockerFile", Some("linux")).unwrap();
        assert_eq!(t.platform, Platform::Docker);
        assert_eq!(t.flavor.as_deref(), Some("Linux"));
        assert_eq!(target("web", None).unwrap().platform, Platform::Web);
        assert_eq!(target(" WEB ", Some("")).unwrap().flavor, None);
        for (platform, flavor, named) in [
            ("CoreML", None, "CoreML"),
            ("onnx", None, "ONNX"),
            ("OpenVino", None, "OpenVino"),
            ("DockerFile", Some("ARM"), "flavor ARM"),
            ("Web", Some("Linux"), "flavor Linux"),
            ("pdf", None, "\"pdf\""),
        ] {
            let e = target(platform, flavor).unwrap_err();
            assert_eq!(e.code, "BadRequestNotSupported");
            let body = e.message;
            assert!(body.contains(named), "{body}");
            assert!(body.contains("Kao exports Web"), "{body}");
        }
    }

    #[test]
    fn iterations_list_the_platforms_the_route_answers_with() {
        let names: Vec<_> = [Platform::Docker, Platform::Web]
            .into_iter()
            .map(api_name)
            .collect();
        assert_eq!(names, kao_projects::EXPORT_PLATFORMS);
    }
}
