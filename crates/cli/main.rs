//! `kao`: the command line over Kao's crates. Each subcommand is one pipeline stage.

mod args;
mod augment;
mod crawl;
mod detect;
mod inspect;
mod logging;
mod progress;
mod split;

use clap::Parser;

fn main() -> std::process::ExitCode {
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
        args::Command::Detect(a) => detect::run(&cli.global, a),
        args::Command::Split(a) => split::run(&cli.global, a),
        args::Command::Augment(a) => augment::run(&cli.global, a),
    }
}
