//! `kao import`: copies a project — its tags and tagged images — from any server that
//! answers Custom Vision's Training API (Azure, or another Kao) into a local project store,
//! keeping the project's and the tags' ids, so client code keeps working with only the
//! endpoint changed. Resumable: images already here are recognised by their bytes, and the
//! remote images done so far are recorded in the project's `import-state.json`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kao_projects::{NewImage, Store, StoreOptions, Tagging};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::args::Global;

#[derive(Debug, clap::Args)]
#[command(after_help = "Example:
  kao import --endpoint https://westeurope.api.cognitive.microsoft.com \\
             --training-key $KEY --project 0f3c…  --root projects
Then `kao serve --root projects` answers for the project under the same id.")]
pub struct ImportArgs {
    /// The Training API's endpoint (scheme and host, as given to Custom Vision's SDKs).
    #[arg(long)]
    pub endpoint: String,
    /// The remote server's Training-Key.
    #[arg(long, env = "KAO_IMPORT_TRAINING_KEY", hide_env_values = true)]
    pub training_key: String,
    /// The remote project's id.
    #[arg(long)]
    pub project: String,
    /// The local project store (the folder `kao serve --root` serves).
    #[arg(long, value_name = "DIR")]
    pub root: PathBuf,
    /// The API version to call the remote server with.
    #[arg(long, default_value = "v3.3")]
    pub api_version: String,
}

/// What an interrupted import already did, in the local project's work dir.
#[derive(Debug, Default, Serialize, Deserialize)]
struct ImportState {
    endpoint: String,
    done: BTreeSet<String>,
}

const STATE_FILE: &str = "import-state.json";
const PAGE: usize = 256;
const BATCH: usize = 64;

struct Remote {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Remote {
    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let r = self
            .http
            .get(&url)
            .header("Training-Key", &self.key)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        let status = r.status();
        let body = r.text().await.with_context(|| format!("GET {url}"))?;
        if !status.is_success() {
            bail!("GET {url}: {status}: {body}");
        }
        serde_json::from_str(&body).with_context(|| format!("GET {url}: the answer is not JSON"))
    }

    /// An image by its download URI (a signed URL needs no key; the key is sent anyway for
    /// servers that want it).
    async fn download(&self, uri: &str) -> Result<Vec<u8>, String> {
        let r = self
            .http
            .get(uri)
            .header("Training-Key", &self.key)
            .send()
            .await
            .map_err(|e| format!("{uri}: {e}"))?;
        if !r.status().is_success() {
            return Err(format!("{uri}: {}", r.status()));
        }
        r.bytes()
            .await
            .map(|b| b.to_vec())
            .map_err(|e| format!("{uri}: {e}"))
    }
}

pub fn run(global: &Global, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(import(global, args))
}

async fn import(global: &Global, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let remote = Remote {
        http: reqwest::Client::builder()
            .no_proxy()
            .build()
            .context("HTTP client")?,
        base: format!(
            "{}/customvision/{}/training",
            args.endpoint.trim_end_matches('/'),
            args.api_version
        ),
        key: args.training_key.clone(),
    };
    let id = args.project.trim().to_ascii_lowercase();
    let project = remote.get(&format!("/projects/{id}")).await?;
    let name = project["name"].as_str().unwrap_or(&id).to_string();
    let description = project["description"].as_str().map(str::to_string);
    let tags = remote.get(&format!("/projects/{id}/tags")).await?;
    let tags: Vec<(String, String, String)> = tags
        .as_array()
        .context("the tag list is not a list")?
        .iter()
        .map(|t| {
            (
                t["id"].as_str().unwrap_or_default().to_ascii_lowercase(),
                t["name"].as_str().unwrap_or_default().to_string(),
                t["type"].as_str().unwrap_or("Regular").to_string(),
            )
        })
        .collect();

    let root = args.root.clone();
    let store =
        tokio::task::spawn_blocking(move || Store::open(&root, StoreOptions { train: false }))
            .await??;
    let (s, remote_tags) = (store.clone(), tags.clone());
    let (pid, pname) = (id.clone(), name.clone());
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        if s.project(&pid).is_err() {
            s.create_project_with_id(&pid, &pname, description.as_deref())?;
        }
        let have: BTreeSet<String> = s.tags(&pid)?.into_iter().map(|t| t.id).collect();
        for (tid, tname, kind) in &remote_tags {
            if !have.contains(tid) {
                s.create_tag_with_id(&pid, tid, tname, Some(kind))
                    .with_context(|| format!("tag {tname:?}"))?;
            }
        }
        Ok(())
    })
    .await??;

    let work = store.work_dir(&id);
    let state_path = work.root().join(STATE_FILE);
    let mut state: ImportState = std::fs::read(&state_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    state.endpoint = args.endpoint.clone();

    let total = remote
        .get(&format!("/projects/{id}/images/tagged/count"))
        .await?
        .as_u64()
        .context("the image count is not a number")? as usize;
    let bar = if global.quiet {
        ProgressBar::hidden()
    } else {
        let b = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
        b.set_style(
            ProgressStyle::with_template("{msg:>10} [{bar:36}] {pos}/{len} {per_sec} eta {eta}")
                .expect("static template")
                .progress_chars("=> "),
        );
        b.set_message("images");
        b
    };
    let mut failed: Vec<String> = Vec::new();
    let mut skip = 0;
    loop {
        let page = remote
            .get(&format!(
                "/projects/{id}/images/tagged?take={PAGE}&skip={skip}&orderBy=Oldest"
            ))
            .await?;
        let page = page
            .as_array()
            .context("the image list is not a list")?
            .clone();
        if page.is_empty() {
            break;
        }
        skip += page.len();
        let todo: Vec<&Value> = page
            .iter()
            .filter(|i| {
                let done = state.done.contains(i["id"].as_str().unwrap_or_default());
                if done {
                    bar.inc(1);
                }
                !done
            })
            .collect();
        for chunk in todo.chunks(BATCH) {
            let downloads = chunk.iter().map(|img| {
                let remote = &remote;
                async move {
                    let uri = img["originalImageUri"].as_str().unwrap_or_default();
                    let tag_ids: Vec<String> = img["tags"]
                        .as_array()
                        .map(|t| {
                            t.iter()
                                .filter_map(|t| t["tagId"].as_str())
                                .map(str::to_ascii_lowercase)
                                .collect()
                        })
                        .unwrap_or_default();
                    let bytes = remote
                        .download(uri)
                        .await
                        .map_err(|e| (kao_projects::CreateStatus::ErrorSource, e));
                    NewImage {
                        source: format!("import:{}", img["id"].as_str().unwrap_or_default()),
                        bytes,
                        tag_ids,
                    }
                }
            });
            let images = futures_util::future::join_all(downloads).await;
            let (s, pid) = (store.clone(), id.clone());
            let results =
                tokio::task::spawn_blocking(move || s.add_images(&pid, images, &[])).await??;
            for (img, r) in chunk.iter().zip(results) {
                let remote_id = img["id"].as_str().unwrap_or_default().to_string();
                if r.status.is_ok() {
                    state.done.insert(remote_id);
                } else {
                    failed.push(format!(
                        "{remote_id}: {:?} {}",
                        r.status,
                        r.reason.unwrap_or_default()
                    ));
                }
                bar.inc(1);
            }
            kao_dataset::write_atomic_json(&state_path, &state)
                .with_context(|| format!("writing {}", state_path.display()))?;
        }
    }
    bar.finish_and_clear();

    // Verify: every remote tag's image count here.
    let (s, pid) = (store.clone(), id.clone());
    let (local_tags, local_tagged) = tokio::task::spawn_blocking(move || {
        Ok::<_, kao_projects::ProjectError>((
            s.tags(&pid)?,
            s.image_count(&pid, Tagging::Tagged, &[])?,
        ))
    })
    .await??;
    let remote_counts: BTreeMap<String, u64> = remote
        .get(&format!("/projects/{id}/tags"))
        .await?
        .as_array()
        .map(|a| {
            a.iter()
                .map(|t| {
                    (
                        t["id"].as_str().unwrap_or_default().to_ascii_lowercase(),
                        t["imageCount"].as_u64().unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let mut mismatches = Vec::new();
    for t in &local_tags {
        if let Some(&n) = remote_counts.get(&t.id) {
            if n != t.image_count {
                mismatches.push(format!("{}: {} here, {n} there", t.name, t.image_count));
            }
        }
    }
    if !global.quiet {
        println!(
            "imported project {name:?} ({id}): {} tags, {local_tagged} of {total} tagged images",
            local_tags.len()
        );
    }
    for f in &failed {
        eprintln!("not imported: {f}");
    }
    if !mismatches.is_empty() || local_tagged as usize != total || !failed.is_empty() {
        for m in &mismatches {
            eprintln!("count differs: {m}");
        }
        bail!(
            "the import is incomplete ({local_tagged} of {total} images): run the same command again to resume"
        );
    }
    Ok(ExitCode::SUCCESS)
}
