//! The driver: tags one after another, each source's items fetched concurrently and
//! settled in the source's order (so a rerun, or a run killed and resumed, decides the
//! same way).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::stream::{self, Stream, StreamExt};
use kao_dataset::{read_manifest, Manifest, WalkEntry, WorkDir};
use url::Url;

use crate::archive::{self, ArchiveKind, Take};
use crate::error::{CrawlError, Result};
use crate::fetch::Fetcher;
use crate::html;
use crate::options::CrawlOptions;
use crate::record::{Outcome, RawRecord, Reject};
use crate::source::{Source, TagJob, DEFAULT_BING_MAX};
use crate::store::{analyse, remove_temp_files, Analysed, Store};
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
    for job in jobs {
        kao_dataset::validate_tag(&job.tag)?;
    }
    let fetcher = Fetcher::new(opts)?;
    let manifest = Arc::new(Manifest::<RawRecord>::open(&work.raw_manifest())?);
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
        let records = read_manifest::<RawRecord>(&work.raw_manifest())?.records;
        let mut store = Store::open(work, &job.tag, manifest.clone(), &records)?;
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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CrawlError::Io {
            path: PathBuf::from("<tokio runtime>"),
            source: e,
        })?;
    runtime.block_on(crawl(work, jobs, opts, progress))
}

struct Ctx<'a> {
    fetcher: &'a Fetcher,
    opts: &'a CrawlOptions,
    progress: Progress<'a>,
    downloads: &'a Downloads,
    limits: kao_image::Limits,
}

/// One thing to settle.
struct Item {
    source: String,
    referrer: Option<String>,
    kind: ItemKind,
}

enum ItemKind {
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
    fn url(url: Url, referrer: Option<String>, robots: bool) -> Self {
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
    fn mark_done(&self, store: &Store, items: &mut [Item]) {
        for item in items {
            if let Some(outcome) = store.done(&item.source) {
                item.kind = ItemKind::Done(outcome);
            }
        }
    }

    fn found(&self, store: &Store, count: usize) {
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
    async fn settle(
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

    async fn bing(&self, store: &mut Store, query: &str, max: usize) -> Result<()> {
        let endpoint = parse_url(&self.opts.bing_endpoint)?;
        let page_size = self.opts.bing_page_size.max(1);
        let mut seen: HashSet<Url> = HashSet::new();
        let mut kept = 0;
        for page in 0..self.opts.max_pages {
            let mut url = endpoint.clone();
            url.query_pairs_mut()
                .append_pair("q", query)
                .append_pair("first", &(1 + page * page_size).to_string())
                .append_pair("count", &page_size.to_string());
            let Some(fetched) = self.page(store, &url, None, true).await? else {
                break;
            };
            let text = String::from_utf8_lossy(&fetched.bytes);
            let results = html::search_results(&text, &fetched.url);
            let mut items: Vec<Item> = results
                .into_iter()
                .filter(|u| seen.insert(u.clone()))
                .map(|u| Item::url(u, Some(url.to_string()), true))
                .collect();
            tracing::debug!(page = %url, new = items.len(), "search results page");
            if items.is_empty() {
                break;
            }
            self.mark_done(store, &mut items);
            self.found(store, items.len());
            self.settle(store, stream::iter(items), Some(max), &mut kept)
                .await?;
            if kept >= max {
                break;
            }
        }
        Ok(())
    }

    /// Fetches an HTML page (robots.txt first when asked); a failure is recorded and
    /// gives `None`.
    async fn page(
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

    async fn fetch_page(
        &self,
        url: &Url,
        robots: bool,
    ) -> std::result::Result<crate::fetch::Fetched, Reject> {
        if robots && self.opts.obey_robots {
            self.fetcher.robots_allow(url).await?;
        }
        self.fetcher.get(url, self.opts.max_page_bytes).await
    }

    async fn site(
        &self,
        store: &mut Store,
        starts: &[String],
        depth: u32,
        hosts: &[String],
        max: Option<usize>,
    ) -> Result<()> {
        if starts.is_empty() {
            return Err(CrawlError::Config("a site crawl needs start URLs".into()));
        }
        let starts: Vec<Url> = starts.iter().map(|s| parse_url(s)).collect::<Result<_>>()?;
        let mut allowed: HashSet<String> = hosts.iter().map(|h| h.to_ascii_lowercase()).collect();
        allowed.extend(
            starts
                .iter()
                .filter_map(|u| u.host_str().map(str::to_ascii_lowercase)),
        );
        let max_pages = self.opts.max_pages.saturating_mul(10);
        let mut seen_pages: HashSet<Url> = starts.iter().cloned().collect();
        let mut seen_images: HashSet<String> = HashSet::new();
        let mut images: Vec<Item> = Vec::new();
        let mut level: Vec<(Url, Option<String>)> = starts.into_iter().map(|u| (u, None)).collect();
        let mut crawled = 0;
        for d in 0..=depth {
            if level.is_empty() {
                break;
            }
            let mut next = Vec::new();
            let fetched = stream::iter(level.clone())
                .map(|(u, _)| async move { self.fetch_page(&u, true).await })
                .buffered(self.opts.concurrency.max(1))
                .collect::<Vec<_>>()
                .await;
            for ((url, referrer), result) in level.into_iter().zip(fetched) {
                let page = match result {
                    Ok(p) => p,
                    Err(r) => {
                        tracing::info!(page = %url, reason = %r.reason, "page not crawled");
                        store.page_rejected(url.as_str(), referrer.as_deref(), &r)?;
                        continue;
                    }
                };
                crawled += 1;
                let is_html = page.content_type.as_deref().map_or_else(
                    || page.bytes.trim_ascii_start().starts_with(b"<"),
                    |t| t.to_ascii_lowercase().contains("html"),
                );
                if !is_html {
                    // A start URL (or a link) that is itself a picture.
                    if seen_images.insert(url.to_string()) {
                        images.push(Item {
                            source: url.to_string(),
                            referrer,
                            kind: ItemKind::Bytes(page.bytes),
                        });
                    }
                    continue;
                }
                store.summary.pages += 1;
                let links = html::extract(&String::from_utf8_lossy(&page.bytes), &page.url);
                for img in links.images {
                    if seen_images.insert(img.to_string()) {
                        images.push(Item::url(img, Some(url.to_string()), true));
                    }
                }
                if d < depth {
                    for p in links.pages {
                        let host_ok = p
                            .host_str()
                            .is_some_and(|h| allowed.contains(&h.to_ascii_lowercase()));
                        if host_ok && seen_pages.len() < max_pages && seen_pages.insert(p.clone()) {
                            next.push((p, Some(url.to_string())));
                        }
                    }
                }
            }
            tracing::debug!(
                depth = d,
                pages = crawled,
                images = images.len(),
                "site level crawled"
            );
            level = next;
        }
        self.mark_done(store, &mut images);
        self.found(store, images.len());
        let mut kept = 0;
        self.settle(store, stream::iter(images), max, &mut kept)
            .await
    }

    async fn urls(&self, store: &mut Store, file: &Path) -> Result<()> {
        let text = std::fs::read_to_string(file).map_err(CrawlError::io(file))?;
        let mut items: Vec<Item> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|line| match Url::parse(line) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => Item::url(u, None, false),
                Ok(u) => Item {
                    source: line.to_string(),
                    referrer: None,
                    kind: ItemKind::Rejected(Reject::new(
                        "invalid_url",
                        format!("unsupported scheme {}", u.scheme()),
                    )),
                },
                Err(e) => Item {
                    source: line.to_string(),
                    referrer: None,
                    kind: ItemKind::Rejected(Reject::new("invalid_url", e.to_string())),
                },
            })
            .collect();
        self.mark_done(store, &mut items);
        self.found(store, items.len());
        let mut kept = 0;
        self.settle(store, stream::iter(items), None, &mut kept)
            .await
    }

    async fn dir(&self, store: &mut Store, dir: &Path) -> Result<()> {
        let root = std::path::absolute(dir).map_err(CrawlError::io(dir))?;
        if !root.is_dir() {
            return Err(CrawlError::Config(format!(
                "{}: not a folder",
                dir.display()
            )));
        }
        // An entry that cannot be read (link loop, dangling link, FIFO, device) is a
        // rejected item with its reason; the walk goes on.
        let mut items: Vec<Item> = kao_dataset::walk_files(&root)
            .map(|entry| match entry {
                WalkEntry::File(path) => Item {
                    source: path.display().to_string(),
                    referrer: None,
                    kind: ItemKind::File(path),
                },
                WalkEntry::Unreadable(e) => Item {
                    source: e.path().display().to_string(),
                    referrer: None,
                    kind: ItemKind::Rejected(Reject::new(e.kind(), e.reason())),
                },
            })
            .collect();
        self.mark_done(store, &mut items);
        self.found(store, items.len());
        let mut kept = 0;
        self.settle(store, stream::iter(items), None, &mut kept)
            .await
    }

    async fn archive(
        &self,
        store: &mut Store,
        spec: &str,
        glob: Option<&str>,
        sha256: Option<&str>,
    ) -> Result<()> {
        let matcher = glob.map(archive::matcher).transpose()?;
        let (path, id) = self.downloads.resolve(self, spec, sha256).await?;
        let kind = archive::sniff(&path)?;
        let done: HashMap<String, Outcome> = store.done_with_prefix(&format!("{id}#"));
        let max_bytes = self.opts.max_bytes;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Item>(self.opts.concurrency.max(1) * 2);
        let reader = tokio::task::spawn_blocking(move || {
            let source = |name: &str| format!("{id}#{name}");
            let mut take = |name: &str| {
                if done.contains_key(&source(name)) {
                    Take::Skip
                } else {
                    Take::Read
                }
            };
            let mut sink = |member: Option<archive::Member>, name: &str| {
                let src = source(name);
                let kind = match member {
                    None => ItemKind::Done(done[&src]),
                    Some(m) => match m.content {
                        Ok(bytes) => ItemKind::Bytes(bytes),
                        Err(r) => ItemKind::Rejected(r),
                    },
                };
                let item = Item {
                    source: src,
                    referrer: None,
                    kind,
                };
                tx.blocking_send(item).is_ok()
            };
            archive::walk(
                &path,
                kind,
                matcher.as_ref(),
                max_bytes,
                &mut take,
                &mut sink,
            )
        });
        let items = stream::poll_fn(move |cx| rx.poll_recv(cx));
        let progress = self.progress;
        let tag = store.tag().to_string();
        let items = items.inspect(move |_| {
            progress(&CrawlEvent::Found {
                tag: &tag,
                count: 1,
            })
        });
        let mut kept = 0;
        let settled = self.settle(store, items, None, &mut kept).await;
        let walked = reader.await.map_err(|e| CrawlError::Archive {
            what: spec.to_string(),
            message: format!("reader failed: {e}"),
        })?;
        settled?;
        walked
    }
}

fn parse_url(s: &str) -> Result<Url> {
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

/// Archives fetched into `<work>/downloads/`, once per run and across runs.
struct Downloads {
    dir: PathBuf,
    /// Spec → (local file, source id), for archives already resolved by this run.
    resolved: tokio::sync::Mutex<HashMap<String, (PathBuf, String)>>,
}

impl Downloads {
    fn new(dir: PathBuf) -> Result<Self> {
        remove_temp_files(&dir)?;
        Ok(Downloads {
            dir,
            resolved: tokio::sync::Mutex::new(HashMap::new()),
        })
    }

    /// The verified local file of an archive spec (URL or path) and the id its members'
    /// sources start with.
    async fn resolve(
        &self,
        ctx: &Ctx<'_>,
        spec: &str,
        sha256: Option<&str>,
    ) -> Result<(PathBuf, String)> {
        let key = format!("{spec}\n{}", sha256.unwrap_or(""));
        let mut resolved = self.resolved.lock().await;
        if let Some(hit) = resolved.get(&key) {
            return Ok(hit.clone());
        }
        let is_url = spec.starts_with("http://") || spec.starts_with("https://");
        let hit = if is_url {
            let url = parse_url(spec)?;
            (self.download(ctx, &url, sha256).await?, url.to_string())
        } else {
            let path = std::path::absolute(spec).map_err(CrawlError::io(spec))?;
            if let Some(expected) = sha256 {
                let p = path.clone();
                let actual = tokio::task::spawn_blocking(move || archive::file_sha256(&p))
                    .await
                    .map_err(|e| CrawlError::Config(e.to_string()))??;
                archive::check_sha256(spec, expected, &actual)?;
            } else if !path.is_file() {
                return Err(CrawlError::Io {
                    path,
                    source: std::io::Error::from(std::io::ErrorKind::NotFound),
                });
            }
            let id = path.display().to_string();
            (path, id)
        };
        resolved.insert(key, hit.clone());
        Ok(hit)
    }

    async fn download(&self, ctx: &Ctx<'_>, url: &Url, sha256: Option<&str>) -> Result<PathBuf> {
        std::fs::create_dir_all(&self.dir).map_err(CrawlError::io(&self.dir))?;
        let stem = match sha256 {
            Some(s) => s.trim().to_ascii_lowercase(),
            None => format!(
                "url-{}",
                &kao_image::content_id(url.as_str().as_bytes())[..16]
            ),
        };
        if stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(CrawlError::Config(format!("{stem:?} is not a SHA-256")));
        }
        for kind in ArchiveKind::ALL {
            let path = self.dir.join(format!("{stem}.{}", kind.extension()));
            if !path.is_file() {
                continue;
            }
            match sha256 {
                None => return Ok(path),
                Some(expected) => {
                    let p = path.clone();
                    let actual = tokio::task::spawn_blocking(move || archive::file_sha256(&p))
                        .await
                        .map_err(|e| CrawlError::Config(e.to_string()))??;
                    if archive::check_sha256("", expected, &actual).is_ok() {
                        tracing::info!(file = %path.display(), "reusing the downloaded archive");
                        return Ok(path);
                    }
                    tracing::warn!(file = %path.display(), "downloaded archive does not match its checksum: downloading again");
                    std::fs::remove_file(&path).map_err(CrawlError::io(&path))?;
                }
            }
        }
        let tmp = self
            .dir
            .join(format!(".{stem}.{}.download.tmp", std::process::id()));
        let on_progress = |bytes: u64, total: Option<u64>| {
            (ctx.progress)(&CrawlEvent::Download {
                url: url.as_str(),
                bytes,
                total,
            })
        };
        tracing::info!(url = %url, "downloading archive");
        let result = ctx
            .fetcher
            .download(url, &tmp, ctx.opts.max_archive_bytes, &on_progress)
            .await;
        let finish = || -> Result<PathBuf> {
            let (actual, _len) = result.map_err(|r| CrawlError::Download {
                url: url.to_string(),
                reason: format!("{}: {}", r.reason, r.detail),
            })?;
            if let Some(expected) = sha256 {
                archive::check_sha256(url.as_str(), expected, &actual)?;
            }
            let kind = archive::sniff(&tmp)?;
            let path = self.dir.join(format!("{stem}.{}", kind.extension()));
            std::fs::rename(&tmp, &path).map_err(CrawlError::io(&path))?;
            Ok(path)
        };
        let out = finish();
        if out.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        out
    }
}
