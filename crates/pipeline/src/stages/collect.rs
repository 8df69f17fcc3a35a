//! collect: every tag's sources into `raw/` through `kao-crawl`.

use std::sync::atomic::{AtomicU64, Ordering};

use kao_crawl::{CrawlEvent, Source};
use kao_dataset::{ManifestFiles, ShardDir};

use super::Ctx;
use crate::error::{PipelineError, Result};
use crate::event::Event;
use crate::fingerprint::Fingerprint;
use crate::report::StageReport;
use crate::stage::Stage;

const STAGE: Stage = Stage::Collect;

/// Settings and the local sources' contents. Network sources (search, sites, URLs, remote
/// archives) cannot be fingerprinted: they are collected once, and `--from collect`
/// collects them again (kept images are never downloaded twice).
pub fn fingerprint(ctx: &Ctx) -> String {
    let mut f = Fingerprint::new(STAGE.name());
    f.json(&ctx.config.jobs()).json(&ctx.config.crawl);
    for tag in &ctx.config.tags {
        for source in &tag.sources {
            match source {
                Source::Dir { path } => {
                    f.tree(path);
                }
                Source::Urls { file } => {
                    f.file(file);
                }
                Source::Archive { url, .. } if !url.contains("://") => {
                    let meta = std::fs::metadata(url)
                        .map(|m| (m.len(), m.modified().ok()))
                        .ok();
                    f.text(&format!("{meta:?}"));
                }
                _ => {}
            }
        }
    }
    f.finish()
}

pub fn outputs_exist(ctx: &Ctx) -> bool {
    ctx.work.raw_manifest().is_file()
}

pub fn run(ctx: &Ctx) -> Result<(StageReport, serde_json::Value)> {
    Ok((run_in(ctx, None)?, serde_json::Value::Null))
}

/// The stage, or one shard of it: the shard's tags (sorted by name, round robin), their
/// records to the shard's part of `raw/manifest.jsonl`.
pub fn run_in(ctx: &Ctx, shard: Option<&ShardDir>) -> Result<StageReport> {
    // Tags and local sources were checked by `PipelineConfig::validate` before the run.
    let mut jobs = ctx.config.jobs();
    if let Some(s) = shard {
        jobs.sort_by(|a, b| a.tag.cmp(&b.tag));
        jobs = jobs
            .into_iter()
            .enumerate()
            .filter(|(i, _)| s.shard().holds_index(*i))
            .map(|(_, j)| j)
            .collect();
    }
    let manifest = ManifestFiles::of(ctx.work.raw_manifest(), shard);
    let options = ctx.config.crawl_options();
    let found = AtomicU64::new(0);
    let settled = AtomicU64::new(0);
    let events = ctx.events;
    let progress = |e: &CrawlEvent<'_>| {
        let (done, total) = match e {
            CrawlEvent::Found { count, .. } => (
                settled.load(Ordering::Relaxed),
                found.fetch_add(*count as u64, Ordering::Relaxed) + *count as u64,
            ),
            CrawlEvent::Settled { .. } | CrawlEvent::Skipped { .. } => (
                settled.fetch_add(1, Ordering::Relaxed) + 1,
                found.load(Ordering::Relaxed),
            ),
            _ => return,
        };
        events(Event::Progress {
            stage: STAGE,
            phase: "items",
            done,
            total: total.max(done),
        });
    };
    let summary = kao_crawl::crawl_blocking_into(&ctx.work, &manifest, &jobs, &options, &progress)
        .map_err(PipelineError::stage(STAGE))?;
    let mut report = StageReport::new(STAGE);
    let mut fresh = 0;
    for t in &summary.tags {
        report.items_in += t.kept + t.duplicates + t.rejected.values().sum::<usize>() + t.skipped;
        report.items_out += t.total_kept;
        fresh += t.kept;
        if t.duplicates > 0 {
            *report.rejects.entry("duplicate".into()).or_default() += t.duplicates;
        }
        for (reason, n) in &t.rejected {
            *report.rejects.entry(reason.clone()).or_default() += n;
        }
    }
    let empty: Vec<String> = summary
        .tags
        .iter()
        .filter(|t| t.total_kept == 0)
        .map(|t| no_photo(ctx, t))
        .collect();
    if !empty.is_empty() {
        // A tag without photos cannot be learnt; going on would only fail later, less clearly.
        return Err(PipelineError::input(
            STAGE,
            format!(
                "{} (reasons per item in {})",
                empty.join("; "),
                ctx.work.raw_manifest().display()
            ),
        ));
    }
    report.note = format!(
        "{} tags; {fresh} new images, {} settled earlier",
        summary.tags.len(),
        summary.tags.iter().map(|t| t.skipped).sum::<usize>()
    );
    Ok(report)
}

/// Why `tag` has no photo, naming its folders (or its other sources) and what this run
/// dropped there.
fn no_photo(ctx: &Ctx, tag: &kao_crawl::TagSummary) -> String {
    let sources = ctx
        .config
        .tags
        .iter()
        .find(|t| t.name.get_ref() == &tag.tag)
        .map(|t| t.sources.as_slice())
        .unwrap_or_default();
    let folders: Vec<String> = sources
        .iter()
        .filter_map(|s| match s {
            Source::Dir { path } => Some(path.display().to_string()),
            _ => None,
        })
        .collect();
    let place = if folders.len() == sources.len() && !folders.is_empty() {
        format!("no usable photo in {}", folders.join(", "))
    } else {
        "no image collected from its sources".to_string()
    };
    let mut dropped: Vec<String> = tag
        .rejected
        .iter()
        .map(|(reason, n)| format!("{n} {reason}"))
        .collect();
    if tag.duplicates > 0 {
        dropped.push(format!("{} duplicate", tag.duplicates));
    }
    if tag.skipped > 0 {
        dropped.push(format!("{} rejected by an earlier run", tag.skipped));
    }
    let why = if dropped.is_empty() {
        "no image file found".to_string()
    } else {
        format!("dropped: {}", dropped.join(", "))
    };
    format!("tag {:?}: {place} ({why})", tag.tag)
}
