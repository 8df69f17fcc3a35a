//! `kao export --platform web|docker`: an iteration as a static web page that runs it in
//! the browser, or as a container build context that serves it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use kao_dataset::WorkDir;
use kao_export::{ExportRequest, Platform, Selection};

use crate::args::Global;

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// `web` (a static page, WebAssembly) or `docker` (a container build context).
    #[arg(long)]
    pub platform: Platform,
    /// Iteration number [default: the latest].
    #[arg(long, conflicts_with = "published")]
    pub iteration: Option<u32>,
    /// The iteration published under this name.
    #[arg(long)]
    pub published: Option<String>,
    /// Folder to write (replaced when it holds an earlier export).
    #[arg(long)]
    pub out: PathBuf,
    /// The browser runtime `cargo xtask web` built [default: $KAO_WEB_RUNTIME, else the one
    /// in this kao's target dir].
    #[arg(long, value_name = "DIR")]
    pub runtime: Option<PathBuf>,
    /// A statically linked kao for the container [default: $KAO_STATIC_BINARY, else this
    /// kao when static, else the one `cargo xtask static` built].
    #[arg(long, value_name = "FILE")]
    pub binary: Option<PathBuf>,
    /// Also write <out>.zip (always for web).
    #[arg(long)]
    pub zip: bool,
}

pub fn run(global: &Global, args: ExportArgs) -> anyhow::Result<ExitCode> {
    let work = WorkDir::new(global.work());
    let selection = match (args.iteration, args.published) {
        (Some(n), _) => Selection::Iteration(n),
        (None, Some(name)) => Selection::Published(name),
        (None, None) => Selection::Latest,
    };
    let request = ExportRequest {
        platform: args.platform,
        selection,
        out: args.out.clone(),
        networks: kao_models::ModelFiles::default_dir(),
        web_runtime: args.runtime,
        binary: args.binary,
        zip: args.zip || args.platform == Platform::Web,
    };
    let summary = kao_export::export(&work, &request).with_context(|| {
        format!(
            "cannot export {} to {}",
            work.root().display(),
            args.out.display()
        )
    })?;
    if !global.quiet {
        let name = summary
            .info
            .published_name
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        println!(
            "exported iteration {}{name} for {}: {} files, {:.1} MB in {}",
            summary.info.iteration,
            args.platform.name(),
            summary.files.len(),
            summary.total_bytes() as f64 / 1e6,
            summary.dir.display()
        );
        if let Some(zip) = &summary.zip {
            println!("zip           {}", zip.display());
        }
        match args.platform {
            Platform::Web => println!(
                "serve it with  python3 -m http.server --directory {} 8000",
                summary.dir.display()
            ),
            Platform::Docker => println!(
                "build and run  see {}",
                summary.dir.join("README.md").display()
            ),
        }
    }
    Ok(ExitCode::SUCCESS)
}
