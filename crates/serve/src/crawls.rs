//! Kao's crawl jobs (the Studio's "Collect from the web"): a tag's photos from an image
//! search, a site, or a list of URLs, fetched by `kao_crawl` into a private staging work
//! dir and added to the project through the store as they arrive (so each lands exactly
//! as an upload would: content-addressed, deduplicated, in the tag's `raw/` folder).
//!
//! Jobs run only on a server started with `--allow-url-fetch`, and never reach loopback,
//! private or link-local addresses unless `--allow-private-urls`. A job's state lives in
//! memory: the images it added stay, the job record is gone after a restart.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use kao_crawl::{CrawlEvent, CrawlOptions, Outcome, Source, TagJob};
use kao_dataset::WorkDir;
use kao_projects::{CreateStatus, NewImage, Store};
use serde::{Deserialize, Serialize};

/// Most images one job keeps.
pub(crate) const MAX_IMAGES: usize = 500;
/// Jobs kept per server (the oldest finished ones are forgotten first).
const KEEP_JOBS: usize = 200;

/// What a client asks for: a tag and exactly one source.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CrawlRequest {
    pub tag_id: String,
    /// An image-search query (the search engine `kao crawl` uses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// A start page: the site is crawled from it (same host), to `depth` links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<u32>,
    /// Image URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    /// Stop once this many images are kept (search and site; at most [`MAX_IMAGES`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<usize>,
}

impl CrawlRequest {
    /// The `kao_crawl` source, or why the request is not one.
    pub fn source(&self, staging: &std::path::Path) -> Result<Source, String> {
        let max = Some(self.max.unwrap_or(100).clamp(1, MAX_IMAGES));
        let given = [
            self.query.is_some(),
            self.site.is_some(),
            self.urls.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err("give exactly one of query, site and urls".into());
        }
        if let Some(q) = &self.query {
            if q.trim().is_empty() {
                return Err("query is empty".into());
            }
            return Ok(Source::Bing {
                query: q.trim().to_string(),
                max,
            });
        }
        if let Some(site) = &self.site {
            let url = url::Url::parse(site.trim()).map_err(|e| format!("site {site:?}: {e}"))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(format!("site {site:?} is not an http(s) URL"));
            }
            return Ok(Source::Site {
                urls: vec![url.to_string()],
                depth: self.depth.unwrap_or(1).min(3),
                hosts: Vec::new(),
                max,
            });
        }
        let urls: Vec<&str> = self
            .urls
            .iter()
            .flatten()
            .map(|u| u.trim())
            .filter(|u| !u.is_empty())
            .collect();
        if urls.is_empty() {
            return Err("urls is empty".into());
        }
        if urls.len() > MAX_IMAGES {
            return Err(format!(
                "urls lists {} URLs; a job takes at most {MAX_IMAGES}",
                urls.len()
            ));
        }
        let file = staging.join("urls.txt");
        std::fs::create_dir_all(staging).map_err(|e| format!("{}: {e}", staging.display()))?;
        kao_dataset::write_atomic(&file, format!("{}\n", urls.join("\n")).as_bytes())
            .map_err(|e| e.to_string())?;
        Ok(Source::Urls { file })
    }
}

/// A crawl job as the API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CrawlJob {
    pub id: String,
    pub project_id: String,
    pub tag_id: String,
    pub tag_name: String,
    pub request: CrawlRequest,
    /// `Running`, `Completed` or `Failed`.
    pub status: String,
    pub error: Option<String>,
    pub created: String,
    pub finished: Option<String>,
    /// Items (images and pages) found so far, and how many of them are settled.
    pub found: usize,
    pub settled: usize,
    /// HTML pages read (search results, site pages), once the crawl has finished.
    pub pages: usize,
    /// Images the crawl kept (new to this job).
    pub kept: usize,
    /// Images dropped as duplicates of one this job already kept.
    pub duplicates: usize,
    /// Items dropped, by reason (`http 404`, `not_an_image`, `too_small`, …).
    pub rejected: BTreeMap<String, usize>,
    /// Kept images added to the project as new photos of the tag.
    pub added: usize,
    /// Kept images the project already had (`OKDuplicate`; they keep their tags).
    pub already_in_project: usize,
    /// Kept images the project refused, by reason.
    pub not_added: BTreeMap<String, usize>,
}

/// Every job of the server.
#[derive(Default)]
pub(crate) struct Crawls {
    jobs: Mutex<Vec<Arc<Mutex<CrawlJob>>>>,
}

impl Crawls {
    pub fn list(&self, project: &str) -> Vec<CrawlJob> {
        let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.iter()
            .rev()
            .map(|j| j.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .filter(|j| j.project_id == project)
            .collect()
    }

    pub fn get(&self, project: &str, id: &str) -> Option<CrawlJob> {
        self.list(project)
            .into_iter()
            .find(|j| j.id.eq_ignore_ascii_case(id))
    }

    fn push(&self, job: CrawlJob) -> Arc<Mutex<CrawlJob>> {
        let job = Arc::new(Mutex::new(job));
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.push(Arc::clone(&job));
        while jobs.len() > KEEP_JOBS {
            let Some(done) = jobs
                .iter()
                .position(|j| j.lock().unwrap_or_else(|p| p.into_inner()).status != "Running")
            else {
                break;
            };
            jobs.remove(done);
        }
        job
    }

    /// Starts a job on its own thread; returns it as first shown.
    pub fn start(
        &self,
        store: Arc<Store>,
        job: CrawlJob,
        source: Source,
        staging: PathBuf,
        options: CrawlOptions,
    ) -> CrawlJob {
        let shown = job.clone();
        let job = self.push(job);
        let spawned = std::thread::Builder::new()
            .name("kao-crawl-job".into())
            .spawn({
                let job = Arc::clone(&job);
                let staging = staging.clone();
                move || run(&store, &job, source, &staging, &options)
            });
        if let Err(e) = spawned {
            finish(&job, Some(format!("could not start the crawl: {e}")));
            let _ = std::fs::remove_dir_all(&staging);
        }
        shown
    }
}

fn lock(job: &Mutex<CrawlJob>) -> std::sync::MutexGuard<'_, CrawlJob> {
    job.lock().unwrap_or_else(|p| p.into_inner())
}

fn finish(job: &Mutex<CrawlJob>, error: Option<String>) {
    let mut j = lock(job);
    j.status = if error.is_some() {
        "Failed"
    } else {
        "Completed"
    }
    .into();
    j.error = error;
    j.finished = Some(kao_infer::now_rfc3339());
}

/// The staging tag folder (the real tag may be any name; this one only lives here).
const STAGING_TAG: &str = "photos";

fn run(
    store: &Arc<Store>,
    job: &Arc<Mutex<CrawlJob>>,
    source: Source,
    staging: &std::path::Path,
    options: &CrawlOptions,
) {
    let (project, tag) = {
        let j = lock(job);
        (j.project_id.clone(), j.tag_id.clone())
    };
    let work = WorkDir::new(staging);
    let (sender, receiver) = mpsc::channel::<(String, PathBuf)>();
    let importer = {
        let store = Arc::clone(store);
        let job = Arc::clone(job);
        std::thread::Builder::new()
            .name("kao-crawl-import".into())
            .spawn(move || import(&store, &job, &project, &tag, &receiver))
    };
    let importer = match importer {
        Ok(h) => h,
        Err(e) => {
            finish(job, Some(format!("could not start the import: {e}")));
            let _ = std::fs::remove_dir_all(staging);
            return;
        }
    };
    let raw = work.raw();
    let sender = Mutex::new(sender);
    let progress = |e: &CrawlEvent<'_>| {
        let mut j = lock(job);
        match e {
            CrawlEvent::Found { count, .. } => j.found += count,
            // Pages read, as the crawl counts them (a page is recorded only when it fails).
            CrawlEvent::TagFinished { summary } => j.pages = summary.pages,
            CrawlEvent::Settled { record, .. } => {
                j.settled += 1;
                match record.outcome {
                    Outcome::Kept => {
                        j.kept += 1;
                        if let Some(file) = &record.file {
                            let _ = sender
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .send((record.source.clone(), raw.join(file)));
                        }
                    }
                    Outcome::Duplicate => j.duplicates += 1,
                    Outcome::Rejected if !record.page => {
                        let reason = record.reason.clone().unwrap_or_else(|| "rejected".into());
                        *j.rejected.entry(reason).or_default() += 1;
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    };
    let jobs = [TagJob::new(STAGING_TAG, vec![source])];
    let result = kao_crawl::crawl_blocking(&work, &jobs, options, &progress);
    drop(sender);
    let _ = importer.join();
    let _ = std::fs::remove_dir_all(staging);
    finish(job, result.err().map(|e| e.to_string()));
}

/// Adds the crawl's kept images to the project in batches as they arrive.
fn import(
    store: &Store,
    job: &Mutex<CrawlJob>,
    project: &str,
    tag: &str,
    receiver: &mpsc::Receiver<(String, PathBuf)>,
) {
    let mut open = true;
    while open {
        let mut batch = Vec::new();
        match receiver.recv_timeout(Duration::from_millis(300)) {
            Ok(item) => batch.push(item),
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => open = false,
        }
        while batch.len() < kao_projects::MAX_BATCH_IMAGES {
            match receiver.try_recv() {
                Ok(item) => batch.push(item),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        if batch.is_empty() {
            continue;
        }
        let images: Vec<NewImage> = batch
            .into_iter()
            .map(|(source, path)| NewImage {
                bytes: std::fs::read(&path).map_err(|e| {
                    (
                        CreateStatus::ErrorStorage,
                        format!("{}: {e}", path.display()),
                    )
                }),
                source,
                tag_ids: vec![tag.to_string()],
            })
            .collect();
        let n = images.len();
        let results = store.add_images(project, images, &[]);
        let mut j = lock(job);
        match results {
            Ok(results) => {
                for r in results {
                    match r.status {
                        CreateStatus::Ok => j.added += 1,
                        CreateStatus::OkDuplicate => j.already_in_project += 1,
                        other => {
                            let key = serde_json::to_value(other)
                                .ok()
                                .and_then(|v| v.as_str().map(str::to_string))
                                .unwrap_or_else(|| format!("{other:?}"));
                            *j.not_added.entry(key).or_default() += 1;
                        }
                    }
                }
            }
            Err(e) => {
                *j.not_added.entry(e.code().to_string()).or_default() += n;
                j.error = Some(e.to_string());
            }
        }
    }
}
