use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::Context;
use kao_dataset::{duplicate_groups, read_tree, Item, TreeRead};
use kao_image::Limits;
use serde::Serialize;

use crate::args::{Global, InspectArgs};
use crate::progress::Progress;

#[derive(Debug, Serialize)]
struct Report {
    root: String,
    tags: BTreeMap<String, TagSummary>,
    images: usize,
    total_bytes: u64,
    formats: BTreeMap<String, usize>,
    unreadable: Vec<Bad>,
    untagged: Vec<String>,
    exact_duplicates: Vec<Vec<String>>,
    near_duplicates: Vec<Vec<String>>,
    near_distance: u32,
    seconds: f64,
    images_per_second: f64,
}

#[derive(Debug, Default, Serialize)]
struct TagSummary {
    images: usize,
    bytes: u64,
    unreadable: usize,
}

#[derive(Debug, Serialize)]
struct Bad {
    file: String,
    kind: String,
    reason: String,
}

pub fn run(global: &Global, args: InspectArgs) -> anyhow::Result<ExitCode> {
    let files = kao_dataset::list_tree(&args.dir)
        .with_context(|| format!("cannot list {}", args.dir.display()))?;
    let progress = Progress::new(
        files.files.len() as u64,
        "inspect",
        global.quiet || args.json,
    );
    let started = std::time::Instant::now();
    let tree = read_tree(&args.dir, &Limits::default(), &|_| progress.inc())
        .with_context(|| format!("cannot read {}", args.dir.display()))?;
    progress.finish();
    let seconds = started.elapsed().as_secs_f64();
    let report = summarise(&args, &tree, seconds);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_tables(&report);
    }
    Ok(ExitCode::SUCCESS)
}

fn summarise(args: &InspectArgs, tree: &TreeRead, seconds: f64) -> Report {
    let mut tags: BTreeMap<String, TagSummary> = BTreeMap::new();
    let mut formats: BTreeMap<String, usize> = BTreeMap::new();
    for item in &tree.items {
        let t = tags.entry(item.tag.clone()).or_default();
        t.images += 1;
        t.bytes += item.bytes;
        *formats.entry(item.format.to_string()).or_default() += 1;
    }
    for bad in tree.unreadable.iter().filter(|b| !b.tag.is_empty()) {
        tags.entry(bad.tag.clone()).or_default().unreadable += 1;
    }
    let groups = duplicate_groups(&tree.items, args.near_distance);
    let names = |g: &Vec<usize>| {
        g.iter()
            .map(|&i| tree.items[i].rel.clone())
            .collect::<Vec<_>>()
    };
    let scanned = tree.items.len() + tree.unreadable.len();
    Report {
        root: args.dir.display().to_string(),
        images: tree.items.len(),
        total_bytes: tree.items.iter().map(|i: &Item| i.bytes).sum(),
        tags,
        formats,
        unreadable: tree
            .unreadable
            .iter()
            .map(|u| Bad {
                file: u.rel.clone(),
                kind: u.kind.clone(),
                reason: u.reason.clone(),
            })
            .collect(),
        untagged: tree
            .untagged
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        exact_duplicates: groups.exact.iter().map(names).collect(),
        near_duplicates: groups.near.iter().map(names).collect(),
        near_distance: args.near_distance,
        seconds,
        images_per_second: scanned as f64 / seconds.max(1e-9),
    }
}

fn print_tables(r: &Report) {
    println!(
        "{:<32} {:>8} {:>12} {:>10}",
        "tag", "images", "bytes", "unreadable"
    );
    for (tag, t) in &r.tags {
        println!(
            "{:<32} {:>8} {:>12} {:>10}",
            tag, t.images, t.bytes, t.unreadable
        );
    }
    println!(
        "{:<32} {:>8} {:>12} {:>10}",
        format!("total ({} tags)", r.tags.len()),
        r.images,
        r.total_bytes,
        r.unreadable.len()
    );
    let mix: Vec<String> = r.formats.iter().map(|(f, n)| format!("{f} {n}")).collect();
    println!(
        "\nformats: {}",
        if mix.is_empty() {
            "-".to_string()
        } else {
            mix.join(", ")
        }
    );
    if !r.unreadable.is_empty() {
        println!("\nunreadable files:");
        for b in &r.unreadable {
            println!("  {}: {}", b.file, b.reason);
        }
    }
    if !r.untagged.is_empty() {
        println!("\nfiles outside any tag folder (ignored):");
        for p in &r.untagged {
            println!("  {p}");
        }
    }
    println!("\nexact duplicate groups: {}", r.exact_duplicates.len());
    for g in &r.exact_duplicates {
        println!("  {}", g.join("  =  "));
    }
    println!(
        "near-duplicate groups (phash distance <= {}): {}",
        r.near_distance,
        r.near_duplicates.len()
    );
    for g in &r.near_duplicates {
        println!("  {}", g.join("  ~  "));
    }
    println!("\n{:.1} images/s ({:.2} s)", r.images_per_second, r.seconds);
}
