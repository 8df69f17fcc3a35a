//! `kao crawl`: collect a tag's images into `raw/` (see `docs/crawl.md`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use kao_crawl::{
    crawl_blocking, parse_duration, CrawlEvent, CrawlOptions, CrawlSummary, MinSize, Outcome,
    Source, TagJob,
};
use kao_dataset::WorkDir;

use crate::args::Global;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  kao crawl --work work --tag George_W_Bush bing \"George W Bush\" --max 200
  kao crawl --tag team site https://example.org/team/ --depth 1
  kao crawl --tag bush archive https://example.org/lfw.tgz --glob 'lfw/George_W_Bush/*.jpg' --sha256 055f…
Several tags at once: pipeline.toml (docs/crawl.md).")]
pub struct CrawlArgs {
    /// The tag (person) the images are for: they go to raw/<TAG>/.
    #[arg(long)]
    pub tag: String,
    #[command(subcommand)]
    pub source: SourceArgs,
    // Boxed: the network options would make this the one huge variant of `Command`.
    #[command(flatten)]
    pub net: Box<NetArgs>,
}

/// Options valid anywhere after `crawl`, before or after the source.
#[derive(Debug, clap::Args)]
pub struct NetArgs {
    /// Smallest accepted picture, WIDTHxHEIGHT.
    #[arg(long, global = true, value_name = "WxH", default_value = "64x64")]
    pub min_size: MinSize,
    /// Do not obey robots.txt (only for hosts you own or may crawl regardless).
    #[arg(long, global = true)]
    pub ignore_robots: bool,
    /// Base URL of the image-search results page (default https://www.bing.com/images/search).
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint: Option<String>,
    /// User-Agent header; its first word is the robots.txt product token.
    #[arg(long, global = true)]
    pub user_agent: Option<String>,
    /// Requests in flight at once, over all hosts [default: 16].
    #[arg(long, global = true, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Requests in flight at once to one host [default: 2].
    #[arg(long, global = true, value_name = "N")]
    pub per_host: Option<usize>,
    /// Least time between two requests to one host, e.g. 250ms [default: 250ms].
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub delay: Option<Duration>,
    /// Connect timeout [default: 10s].
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub connect_timeout: Option<Duration>,
    /// Time allowed until the response headers [default: 20s].
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub first_byte_timeout: Option<Duration>,
    /// Time allowed for a whole image or page download [default: 60s].
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Retries after connection errors, 5xx and 429 [default: 3].
    #[arg(long, global = true, value_name = "N")]
    pub retries: Option<u32>,
    /// Largest image accepted, in bytes [default: 20000000].
    #[arg(long, global = true, value_name = "BYTES")]
    pub max_bytes: Option<u64>,
    /// Print the summary as JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum SourceArgs {
    /// Image-search results for a query (all words are joined).
    Bing {
        #[arg(required = true, num_args = 1..)]
        query: Vec<String>,
        /// Stop once this many images are kept.
        #[arg(long, default_value_t = kao_crawl::DEFAULT_BING_MAX)]
        max: usize,
    },
    /// Crawl a site from start pages, within their hosts.
    Site {
        #[arg(required = true, num_args = 1.., value_name = "URL")]
        urls: Vec<String>,
        /// Link depth followed (0: the start pages only).
        #[arg(long, default_value_t = 2)]
        depth: u32,
        /// Another host whose pages may be followed (repeatable).
        #[arg(long = "allow-host", value_name = "HOST")]
        hosts: Vec<String>,
        /// Stop once this many images are kept.
        #[arg(long)]
        max: Option<usize>,
    },
    /// A file of image URLs, one a line.
    Urls { file: PathBuf },
    /// Import the images of a local folder (recursively).
    Dir { dir: PathBuf },
    /// Import members of a .tar, .tar.gz/.tgz or .zip, local or http(s) (downloaded once
    /// into <work>/downloads/).
    Archive {
        #[arg(value_name = "PATH_OR_URL")]
        archive: String,
        /// Members to import, e.g. 'lfw/George_W_Bush/*.jpg'.
        #[arg(long)]
        glob: Option<String>,
        /// Expected SHA-256 of the archive, checked before extraction.
        #[arg(long)]
        sha256: Option<String>,
    },
}

impl SourceArgs {
    fn to_source(&self) -> Source {
        match self {
            SourceArgs::Bing { query, max } => Source::Bing {
                query: query.join(" "),
                max: Some(*max),
            },
            SourceArgs::Site {
                urls,
                depth,
                hosts,
                max,
            } => Source::Site {
                urls: urls.clone(),
                depth: *depth,
                hosts: hosts.clone(),
                max: *max,
            },
            SourceArgs::Urls { file } => Source::Urls { file: file.clone() },
            SourceArgs::Dir { dir } => Source::Dir { path: dir.clone() },
            SourceArgs::Archive {
                archive,
                glob,
                sha256,
            } => Source::Archive {
                url: archive.clone(),
                glob: glob.clone(),
                sha256: sha256.clone(),
            },
        }
    }
}

impl NetArgs {
    fn options(&self) -> CrawlOptions {
        kao_pipeline::CrawlSection {
            min_size: Some(self.min_size),
            ignore_robots: self.ignore_robots,
            endpoint: self.endpoint.clone(),
            user_agent: self.user_agent.clone(),
            concurrency: self.concurrency,
            per_host: self.per_host,
            delay: self.delay,
            connect_timeout: self.connect_timeout,
            first_byte_timeout: self.first_byte_timeout,
            timeout: self.timeout,
            retries: self.retries,
            max_bytes: self.max_bytes,
        }
        .options()
    }
}

pub fn run(global: &Global, args: CrawlArgs) -> anyhow::Result<ExitCode> {
    let work = WorkDir::new(global.work());
    let jobs = [TagJob::new(&args.tag, vec![args.source.to_source()])];
    let opts = args.net.options();
    let bars = Bars::new(global.quiet || args.net.json);
    let summary = crawl_blocking(&work, &jobs, &opts, &|e| bars.event(e)).with_context(|| {
        format!(
            "crawl of {} for tag {:?} failed",
            jobs[0].sources[0].describe(),
            args.tag
        )
    })?;
    bars.clear();
    if args.net.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_summary(&summary, &work);
    }
    Ok(ExitCode::SUCCESS)
}

/// One progress bar per tag (and one per archive download), drawn only on a terminal.
struct Bars {
    multi: MultiProgress,
    enabled: bool,
    tags: Mutex<HashMap<String, (ProgressBar, [usize; 3])>>,
    downloads: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    fn new(quiet: bool) -> Self {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        Bars {
            multi: MultiProgress::with_draw_target(target),
            enabled: !quiet,
            tags: Mutex::new(HashMap::new()),
            downloads: Mutex::new(HashMap::new()),
        }
    }

    fn event(&self, e: &CrawlEvent<'_>) {
        if !self.enabled {
            return;
        }
        let mut tags = self.tags.lock().unwrap_or_else(|p| p.into_inner());
        match e {
            CrawlEvent::TagStarted { tag } => {
                let bar = self.multi.add(ProgressBar::new(0));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>14} [{bar:30}] {pos}/{len} {msg} {elapsed}",
                    )
                    .expect("static template")
                    .progress_chars("=> "),
                );
                bar.set_prefix(tag.to_string());
                tags.insert(tag.to_string(), (bar, [0; 3]));
            }
            CrawlEvent::Found { tag, count } => {
                if let Some((bar, _)) = tags.get(*tag) {
                    bar.inc_length(*count as u64);
                }
            }
            CrawlEvent::Skipped { tag, .. } => {
                if let Some((bar, _)) = tags.get(*tag) {
                    bar.inc(1);
                }
            }
            CrawlEvent::Settled { tag, record } => {
                if let Some((bar, counts)) = tags.get_mut(*tag) {
                    counts[match record.outcome {
                        Outcome::Kept => 0,
                        Outcome::Duplicate => 1,
                        Outcome::Rejected => 2,
                    }] += 1;
                    bar.set_message(format!(
                        "kept {} dup {} rejected {}",
                        counts[0], counts[1], counts[2]
                    ));
                    bar.inc(1);
                }
            }
            CrawlEvent::TagFinished { summary } => {
                if let Some((bar, _)) = tags.get(&summary.tag) {
                    bar.finish();
                }
            }
            CrawlEvent::Download { url, bytes, total } => {
                let mut downloads = self.downloads.lock().unwrap_or_else(|p| p.into_inner());
                let bar = downloads.entry(url.to_string()).or_insert_with(|| {
                    let bar = self.multi.add(ProgressBar::new(total.unwrap_or(0)));
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{prefix:>14} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                        )
                        .expect("static template")
                        .progress_chars("=> "),
                    );
                    bar.set_prefix("download");
                    bar
                });
                bar.set_position(*bytes);
                if total.is_some_and(|t| *bytes >= t) {
                    bar.finish_and_clear();
                }
            }
            _ => {}
        }
    }

    fn clear(&self) {
        let _ = self.multi.clear();
    }
}

fn print_summary(summary: &CrawlSummary, work: &WorkDir) {
    println!(
        "{:<20} {:>6} {:>8} {:>10} {:>8} {:>7} {:>8}",
        "tag", "kept", "skipped", "duplicates", "rejected", "pages", "in raw/"
    );
    for t in &summary.tags {
        println!(
            "{:<20} {:>6} {:>8} {:>10} {:>8} {:>7} {:>8}",
            t.tag,
            t.kept,
            t.skipped,
            t.duplicates,
            t.rejected_total(),
            t.pages,
            t.total_kept
        );
        if !t.rejected.is_empty() {
            let reasons: Vec<String> = t
                .rejected
                .iter()
                .map(|(reason, n)| format!("{reason} ×{n}"))
                .collect();
            println!("  rejected: {}", reasons.join(", "));
        }
    }
    println!(
        "images in {}, one record per item in {}",
        work.raw().display(),
        work.raw_manifest().display()
    );
}
