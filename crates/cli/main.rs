//! `kao`: the command line over Kao's crates. Each subcommand is one pipeline stage.

mod args;
mod augment;
mod crawl;
mod crop;
mod detect;
mod draw;
mod eval;
mod export;
mod import;
mod inspect;
mod iterations;
mod logging;
mod pipeline;
mod predict;
mod progress;
mod publish;
mod serve;
mod slurm;
mod split;
mod stage;
mod train;

use clap::Parser;

fn main() -> std::process::ExitCode {
    kao_models::runtime::tune_process();
    // HTTPS (crawl, import, URL fetches) through rustls with ring: see Cargo.toml.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = args::Cli::parse();
    logging::init(cli.global.verbose, cli.global.quiet);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: args::Cli) -> anyhow::Result<std::process::ExitCode> {
    match cli.command {
        args::Command::Inspect(a) => inspect::run(&cli.global, a),
        args::Command::Crawl(a) => crawl::run(&cli.global, a),
        args::Command::Collect(a) => {
            stage::run(&cli.global, kao_pipeline::Stage::Collect, &a.stage, a.json)
        }
        args::Command::Embed(a) => {
            stage::run(&cli.global, kao_pipeline::Stage::Augment, &a.stage, a.json)
        }
        args::Command::Detect(a) => detect::run(&cli.global, a),
        args::Command::Split(a) => split::run(&cli.global, a),
        args::Command::Augment(a) => augment::run(&cli.global, a),
        args::Command::Crop(a) => crop::run(&cli.global, a),
        args::Command::Train(a) => train::run(&cli.global, a),
        args::Command::Eval(a) => eval::run(&cli.global, a),
        args::Command::Predict(a) => predict::run(&cli.global, a),
        args::Command::Iterations(a) => iterations::run(&cli.global, a),
        args::Command::Publish(a) => publish::run(&cli.global, a),
        args::Command::Serve(a) => serve::run(&cli.global, a),
        args::Command::Export(a) => export::run(&cli.global, a),
        args::Command::Pipeline(a) => pipeline::run(&cli.global, a),
        args::Command::Import(a) => import::run(&cli.global, a),
    }
}
