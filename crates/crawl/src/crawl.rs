//! The driver: tags one after another, each source's items fetched concurrently and
//! settled in the source's order (so a rerun, or a run killed and resumed, decides the
//! same way).

use std::path::PathBuf;
use std::sync::Arc;

use futures_util::stream::{Stream, StreamExt};
use kao_dataset::{ManifestFiles, WorkDir};
use url::Url;

use crate::downloads::Downloads;
use crate::error::{CrawlError, Result};
use crate::fetch::Fetcher;
use crate::options::CrawlOptions;
use crate::record::{Outcome, RawRecord, Reject};
use crate::source::{Source, TagJob, DEFAULT_BING_MAX};
use crate::store::{analyse, Analysed, Store};
use crate::summary::{CrawlSummary, TagSummary};

/// What a crawl reports while it runs (for progress bars; the library prints nothing).
#[derive(Debug)]
#[non_exhaustive]
pub enum CrawlEvent<'a> {
    TagStarted {
        tag: &'a str,
    },
    SourceStarted {
        tag: &'a str,
        source: &'a Source,
    },
    /// `count` more items to settle became known.
    Found {
        tag: &'a str,
        count: usize,
    },
    /// One item settled (kept, duplicate or rejected) and recorded.
    Settled {
        tag: &'a str,
        record: &'a RawRecord,
    },
    /// One item skipped: an earlier run settled it.
    Skipped {
        tag: &'a str,
        source: &'a str,
    },
    /// An archive download advanced.
    Download {
        url: &'a str,
        bytes: u64,
        total: Option<u64>,
    },
    TagFinished {
        summary: &'a TagSummary,
    },
}

/// The progress callback: called from the crawl's threads, must be quick.
pub type Progress<'a> = &'a (dyn Fn(&CrawlEvent<'_>) + Send + Sync);

/// A progress callback that ignores everything.
pub fn no_progress(_: &CrawlEvent<'_>) {}

/// Collects the images of each job's tag into `raw/<tag>/` and records every item in
/// `raw/manifest.jsonl`. Resumes what an earlier (possibly killed) run left: kept images
/// are not fetched again. Per-item failures are records; an `Err` means a source could
/// not run at all (wrong archive checksum, unreadable URL list, …).
pub async fn crawl(
    work: &WorkDir,
    jobs: &[TagJob],
    opts: &CrawlOptions,
    progress: Progress<'_>,
) -> Result<CrawlSummary> {
    let manifest = ManifestFiles::single(work.raw_manifest());
    crawl_into(work, &manifest, jobs, opts, progress).await
}

/// [`crawl`] with the records read from and appended to `manifest` (one shard's view of
/// `raw/manifest.jsonl`: `kao_dataset::ShardDir::files`). Images still go to `raw/<tag>/`.
pub async fn crawl_into(
    work: &WorkDir,
    manifest: &ManifestFiles,
    jobs: &[TagJob],
    opts: &CrawlOptions,
    progress: Progress<'_>,
) -> Result<CrawlSummary> {
    for job in jobs {
        kao_dataset::validate_tag(&job.tag)?;
    }
    let fetcher = Fetcher::new(opts)?;
    let appender = Arc::new(manifest.open::<RawRecord>()?);
    let downloads = Downloads::new(work.downloads())?;
    let ctx = Ctx {
        fetcher: &fetcher,
        opts,
        progress,
        downloads: &downloads,
        limits: opts.limits(),
    };
    let mut summary = CrawlSummary::default();
    for job in jobs {
        progress(&CrawlEvent::TagStarted { tag: &job.tag });
        let records = manifest.read_records::<RawRecord>()?;
        let mut store = Store::open(work, &job.tag, appender.clone(), &records)?;
        drop(records);
        for source in &job.sources {
            progress(&CrawlEvent::SourceStarted {
                tag: &job.tag,
                source,
            });
            tracing::info!(tag = %job.tag, source = %source.describe(), "crawling");
            ctx.run(&mut store, source).await?;
        }
        let tag = store.finish()?;
        progress(&CrawlEvent::TagFinished { summary: &tag });
        summary.tags.push(tag);
    }
    Ok(summary)
}

/// [`crawl`] on a Tokio runtime of its own, for callers that are not async.
pub fn crawl_blocking(
    work: &WorkDir,
    jobs: &[TagJob],
    opts: &CrawlOptions,
    progress: Progress<'_>,
) -> Result<CrawlSummary> {
    let manifest = ManifestFiles::single(work.raw_manifest());
    crawl_blocking_into(work, &manifest, jobs, opts, progress)
}

/// [`crawl_into`] on a Tokio runtime of its own.
pub fn crawl_blocking_into(
    work: &WorkDir,
    manifest: &ManifestFiles,
    jobs: &[TagJob],
    opts: &CrawlOptions,
    progress: Progress<'_>,
) -> Result<CrawlSummary> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CrawlError::Io {
            path: PathBuf::from("<tokio runtime>"),
            source: e,
        })?;
    runtime.block_on(crawl_into(work, manifest, jobs, opts, progress))
}

pub(crate) struct Ctx<'a> {
    pub fetcher: &'a Fetcher,
    pub opts: &'a CrawlOptions,
    pub progress: Progress<'a>,
    pub downloads: &'a Downloads,
    pub limits: kao_image::Limits,
}

/// One thing to settle.
pub(crate) struct Item {
    pub source: String,
    pub referrer: Option<String>,
    pub kind: ItemKind,
}

pub(crate) enum ItemKind {
    Url {
        url: Url,
        robots: bool,
    },
    File(PathBuf),
    Bytes(Vec<u8>),
    Rejected(Reject),
    /// Settled by an earlier run.
    Done(Outcome),
}

impl Item {
    pub fn url(url: Url, referrer: Option<String>, robots: bool) -> Self {
        Item {
            source: url.to_string(),
            referrer,
            kind: ItemKind::Url { url, robots },
        }
    }
}

enum Ready {
    Done(Outcome),
    Result(std::result::Result<Analysed, Reject>),
}

impl Ctx<'_> {
    async fn run(&self, store: &mut Store, source: &Source) -> Result<()> {
        match source {
            Source::Bing { query, max } => {
                self.bing(store, query, max.unwrap_or(DEFAULT_BING_MAX))
                    .await
            }
            Source::Site {
                urls,
                depth,
                hosts,
                max,
            } => self.site(store, urls, *depth, hosts, *max).await,
            Source::Urls { file } => self.urls(store, file).await,
            Source::Dir { path } => self.dir(store, path).await,
            Source::Archive { url, glob, sha256 } => {
                self.archive(store, url, glob.as_deref(), sha256.as_deref())
                    .await
            }
        }
    }

    /// Marks the items an earlier run settled.
    pub fn mark_done(&self, store: &Store, items: &mut [Item]) {
        for item in items {
            if let Some(outcome) = store.done(&item.source) {
                item.kind = ItemKind::Done(outcome);
            }
        }
    }

    pub fn found(&self, store: &Store, count: usize) {
        if count > 0 {
            (self.progress)(&CrawlEvent::Found {
                tag: store.tag(),
                count,
            });
        }
    }

    /// Fetches (or reads) and analyses one item; runs concurrently with others.
    async fn fetch(&self, kind: ItemKind) -> Ready {
        let limits = self.limits;
        let min_size = self.opts.min_size;
        let bytes = match kind {
            ItemKind::Done(o) => return Ready::Done(o),
            ItemKind::Rejected(r) => return Ready::Result(Err(r)),
            ItemKind::Bytes(b) => Ok(b),
            ItemKind::Url { url, robots } => {
                if robots && self.opts.obey_robots {
                    if let Err(r) = self.fetcher.robots_allow(&url).await {
                        return Ready::Result(Err(r));
                    }
                }
                self.fetcher
                    .get(&url, self.opts.max_bytes)
                    .await
                    .map(|f| f.bytes)
            }
            // Refused from its metadata when it is not a regular file or is over the
            // byte limit; never read past the limit.
            ItemKind::File(path) => tokio::task::spawn_blocking(move || {
                kao_image::read_limited(&path, &limits)
                    .map_err(|e| Reject::new(e.kind(), e.reason()))
            })
            .await
            .unwrap_or_else(|e| Err(Reject::new("io", e.to_string()))),
        };
        let result = match bytes {
            Err(r) => Err(r),
            Ok(bytes) => tokio::task::spawn_blocking(move || analyse(bytes, &limits, min_size))
                .await
                .unwrap_or_else(|e| Err(Reject::new("io", format!("analysis failed: {e}")))),
        };
        Ready::Result(result)
    }

    /// Settles items in order, `concurrency` at a time, until the stream ends or
    /// `max` images are kept (`kept` counts this source's kept images, resumed ones too).
    pub async fn settle(
        &self,
        store: &mut Store,
        items: impl Stream<Item = Item>,
        max: Option<usize>,
        kept: &mut usize,
    ) -> Result<()> {
        if max.is_some_and(|m| *kept >= m) {
            return Ok(());
        }
        let results = items
            .map(|item| async move {
                let fetched = self.fetch(item.kind).await;
                (item.source, item.referrer, fetched)
            })
            .buffered(self.opts.concurrency.max(1));
        let mut results = std::pin::pin!(results);
        while let Some((source, referrer, fetched)) = results.next().await {
            match fetched {
                Ready::Done(outcome) => {
                    store.skip();
                    if outcome == Outcome::Kept {
                        *kept += 1;
                    }
                    (self.progress)(&CrawlEvent::Skipped {
                        tag: store.tag(),
                        source: &source,
                    });
                }
                Ready::Result(result) => {
                    let record = store.commit(&source, referrer.as_deref(), result)?;
                    if record.outcome == Outcome::Kept {
                        *kept += 1;
                    }
                    (self.progress)(&CrawlEvent::Settled {
                        tag: store.tag(),
                        record: &record,
                    });
                }
            }
            if max.is_some_and(|m| *kept >= m) {
                break;
            }
        }
        Ok(())
    }

    /// Fetches an HTML page (robots.txt first when asked); a failure is recorded and
    /// gives `None`.
    pub async fn page(
        &self,
        store: &mut Store,
        url: &Url,
        referrer: Option<&str>,
        robots: bool,
    ) -> Result<Option<crate::fetch::Fetched>> {
        match self.fetch_page(url, robots).await {
            Ok(f) => {
                store.summary.pages += 1;
                Ok(Some(f))
            }
            Err(r) => {
                tracing::info!(page = %url, reason = %r.reason, "page not crawled");
                store.page_rejected(url.as_str(), referrer, &r)?;
                Ok(None)
            }
        }
    }

    pub async fn fetch_page(
        &self,
        url: &Url,
        robots: bool,
    ) -> std::result::Result<crate::fetch::Fetched, Reject> {
        if robots && self.opts.obey_robots {
            self.fetcher.robots_allow(url).await?;
        }
        self.fetcher.get(url, self.opts.max_page_bytes).await
    }
}

pub(crate) fn parse_url(s: &str) -> Result<Url> {
    let u = Url::parse(s.trim()).map_err(|e| CrawlError::Url {
        url: s.to_string(),
        message: e.to_string(),
    })?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(CrawlError::Url {
            url: s.to_string(),
            message: "only http and https are supported".into(),
        });
    }
    Ok(u)
}
