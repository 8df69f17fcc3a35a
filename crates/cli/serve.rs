//! `kao serve`: the Custom Vision-compatible prediction service, and Kao Studio (or, for one
//! work dir, its Quick Test) at `/`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use kao_serve::{KeyOrigin, ServeConfig, Server};

use crate::args::Global;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Serve every project under DIR (created if missing) and answer Custom Vision's
    /// Training API too; projects made through the API live there. Without it, the one work
    /// dir of --work is served.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Training-Key clients must send to the Training API (with --root; repeat for several).
    /// Without it, the key stored in the root is used, generated and printed at the first start.
    #[arg(
        long,
        env = "KAO_TRAINING_KEY",
        value_delimiter = ',',
        hide_env_values = true,
        requires = "root"
    )]
    pub training_key: Vec<String>,
    /// Address to listen on; the default answers this machine only. Use 0.0.0.0:8080 to expose.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Prediction-Key clients must send (repeat for several). Without it, the key stored in
    /// the work dir is used, generated and printed at the first start.
    #[arg(
        long,
        env = "KAO_PREDICTION_KEY",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub key: Vec<String>,
    /// Let the /url routes fetch images from the internet.
    #[arg(long)]
    pub allow_url_fetch: bool,
    /// With --allow-url-fetch, also fetch from loopback, private and link-local addresses.
    #[arg(long, requires = "allow_url_fetch")]
    pub allow_private_urls: bool,
    /// Largest accepted image in bytes (Custom Vision's limit by default).
    #[arg(long, default_value_t = kao_serve::DEFAULT_MAX_BODY)]
    pub max_body: usize,
    /// Inferences at once (default: one per core).
    #[arg(long)]
    pub concurrency: Option<usize>,
}

pub fn run(global: &Global, args: ServeArgs) -> anyhow::Result<ExitCode> {
    if args.root.is_some() && global.work.is_some() {
        anyhow::bail!(
            "--root serves a folder of projects and --work one work dir: give one of them"
        );
    }
    let mut config = match &args.root {
        Some(root) => ServeConfig::for_root(root),
        None => ServeConfig::new(global.work()),
    };
    config.training_keys = args.training_key;
    config.bind = args.bind;
    config.keys = args.key;
    config.allow_url_fetch = args.allow_url_fetch;
    config.allow_private_urls = args.allow_private_urls;
    config.max_body = args.max_body;
    if let Some(n) = args.concurrency {
        config.concurrency = n.max(1);
    }
    serve(config)
}

/// Runs the service until Ctrl-C (or SIGTERM), then finishes the requests in flight.
pub fn serve(config: ServeConfig) -> anyhow::Result<ExitCode> {
    let work = config.root.clone().unwrap_or_else(|| config.work.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let server = Server::bind(config)
            .await
            .with_context(|| format!("starting the server for {}", work.display()))?;
        announce(&server);
        server.run(kao_serve::shutdown_signal()).await?;
        eprintln!("kao serve: stopped");
        Ok(ExitCode::SUCCESS)
    })
}

fn announce(server: &Server) {
    println!("Listening on  http://{}", server.local_addr());
    if server.training_key_origin().is_some() {
        println!(
            "Kao Studio    http://{}/ (sign in with the Training-Key)",
            server.local_addr()
        );
    } else {
        println!("Quick Test    http://{}/", server.local_addr());
    }
    match server.project_id() {
        Some(id) => println!("Project id    {id}"),
        None => println!(
            "Training API  http://{}/customvision/v3.3/training/ (and v3.0-v3.2, v3.4-preview)",
            server.local_addr()
        ),
    }
    key_line(
        "Prediction-Key",
        server.key_origin(),
        "--key / KAO_PREDICTION_KEY",
    );
    if let Some(origin) = server.training_key_origin() {
        key_line("Training-Key", origin, "--training-key / KAO_TRAINING_KEY");
    }
    let published = server.published();
    if published.is_empty() && server.project_id().is_none() {
        println!("Published     nothing yet: publish an iteration through the Training API");
    } else if published.is_empty() {
        println!("Published     nothing yet: run `kao publish N --name NAME`; it is picked up without a restart");
    }
    for (name, iteration) in published {
        println!("Published     {name} (iteration {iteration})");
        println!("Prediction URL {}", server.prediction_url(&name));
    }
}

fn key_line(what: &str, origin: &KeyOrigin, flags: &str) {
    match origin {
        KeyOrigin::Generated { key, path } => {
            println!("{what} {key}");
            println!(
                "              (generated now and stored in {}; it is not printed again)",
                path.display()
            );
        }
        KeyOrigin::Stored(path) => println!("{what} stored in {}", path.display()),
        KeyOrigin::Configured => println!("{what} as given ({flags})"),
    }
}
