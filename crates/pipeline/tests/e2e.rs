//! The whole pipeline on a small archive with LFW's layout (`lfw/<Person>/<Person>_NNNN.jpg`),
//! built here from `$KAO_SHARED/datasets/lfw5`: collect from the archive (checksum
//! verified), crop, split, augment, train, evaluate, publish; then a rerun that skips
//! everything, and a head change that retrains without recomputing a descriptor.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use kao_pipeline::{Event, PipelineConfig, RunOptions, Stage, Status};
use sha2::{Digest, Sha256};

const PEOPLE: [&str; 3] = ["George_W_Bush", "Colin_Powell", "Tony_Blair"];
const PER_PERSON: usize = 12;

/// A .tgz of the first photos of each person, plus a stray member the glob must skip.
fn build_archive(lfw5: &Path, out: &Path) -> String {
    let file = std::fs::File::create(out).unwrap();
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for person in PEOPLE {
        let mut photos: Vec<PathBuf> = std::fs::read_dir(lfw5.join(person))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        photos.sort();
        for p in photos.iter().take(PER_PERSON) {
            let name = format!("lfw/{person}/{}", p.file_name().unwrap().to_string_lossy());
            tar.append_path_with_name(p, name).unwrap();
        }
    }
    let readme = b"not a photo";
    let mut header = tar::Header::new_gnu();
    header.set_size(readme.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, "lfw/README.txt", &readme[..])
        .unwrap();
    tar.into_inner().unwrap().finish().unwrap();
    hex::encode(Sha256::digest(std::fs::read(out).unwrap()))
}

fn config(dir: &Path, sha256: &str, head: &str) -> PipelineConfig {
    let mut text = String::from("work = \"work\"\n");
    for person in PEOPLE {
        text.push_str(&format!(
            "[[tags]]\nname = \"{person}\"\n[[tags.sources]]\nkind = \"archive\"\nurl = \"lfw-small.tgz\"\nsha256 = \"{sha256}\"\nglob = \"lfw/{person}/*.jpg\"\n\n"
        ));
    }
    text.push_str(&format!(
        "[augment]\nper_image = 1\n\n[train]\nhead = \"{head}\"\n\n[publish]\nname = \"smoke\"\n"
    ));
    PipelineConfig::parse(&text, dir, &dir.join("pipeline.toml")).unwrap()
}

fn statuses(report: &kao_pipeline::PipelineReport) -> Vec<(Stage, Status)> {
    report.stages.iter().map(|s| (s.stage, s.status)).collect()
}

#[test]
fn archive_to_published_model_then_skips_and_retrains() {
    let Some(lfw5) = kao_testdata::lfw5() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sha = build_archive(&lfw5, &dir.path().join("lfw-small.tgz"));
    let events = Mutex::new(Vec::new());
    let sink = |e: Event| {
        if let Event::Started { stage } = e {
            events.lock().unwrap().push(stage);
        }
    };

    let first = kao_pipeline::run(
        &config(dir.path(), &sha, "logreg"),
        &RunOptions::default(),
        &sink,
    )
    .expect("first run");
    assert!(
        first.stages.iter().all(|s| s.status == Status::Ran),
        "{first:#?}"
    );
    assert_eq!(*events.lock().unwrap(), Stage::ALL.to_vec());
    let collect = &first.stages[0];
    // The glob takes the photos, not the README.
    assert_eq!(collect.items_in, PEOPLE.len() * PER_PERSON, "{collect:?}");
    let crop = &first.stages[1];
    assert_eq!(crop.items_in, collect.items_out);
    assert!(
        crop.items_out + crop.rejected() >= crop.items_in,
        "{crop:?}"
    );
    assert!(
        crop.items_out >= PEOPLE.len() * PER_PERSON * 3 / 4,
        "{crop:?}"
    );
    let test = first.test.as_ref().expect("test metrics");
    assert!(test.metrics.faces > 0);
    assert!(test.metrics.top1 >= 0.8, "top-1 {}", test.metrics.top1);
    assert_eq!(first.iteration, Some(1));
    assert_eq!(first.published_name.as_deref(), Some("smoke"));
    let work = dir.path().join("work");
    let published = kao_infer::read_published(&kao_dataset::WorkDir::new(&work)).unwrap();
    assert_eq!(
        (published[0].name.as_str(), published[0].iteration),
        ("smoke", 1)
    );
    assert!(first.report.as_ref().unwrap().is_file());
    assert!(kao_dataset::WorkDir::new(&work).pipeline_report().is_file());
    let table = first.table("http://127.0.0.1:8080");
    assert!(
        table.contains("/classify/iterations/smoke/image"),
        "{table}"
    );

    // Nothing changed: nothing runs.
    events.lock().unwrap().clear();
    let second = kao_pipeline::run(
        &config(dir.path(), &sha, "logreg"),
        &RunOptions::default(),
        &sink,
    )
    .expect("second run");
    assert!(
        events.lock().unwrap().is_empty(),
        "{:?}",
        events.lock().unwrap()
    );
    assert!(second.stages.iter().all(|s| s.status == Status::Unchanged));
    assert_eq!(second.iteration, Some(1));

    // Only the head changed: train, evaluate and publish run; no descriptor is computed.
    let third = kao_pipeline::run(
        &config(dir.path(), &sha, "centroid"),
        &RunOptions::default(),
        &sink,
    )
    .expect("third run");
    let expected: Vec<_> = Stage::ALL
        .iter()
        .map(|&s| {
            let ran = s >= Stage::Train;
            (s, if ran { Status::Ran } else { Status::Unchanged })
        })
        .collect();
    assert_eq!(statuses(&third), expected);
    assert_eq!(third.iteration, Some(2));
    let published = kao_infer::read_published(&kao_dataset::WorkDir::new(&work)).unwrap();
    assert_eq!(published[0].iteration, 2);

    // --until stops early; --from forces the later stages again.
    let fourth = kao_pipeline::run(
        &config(dir.path(), &sha, "centroid"),
        &RunOptions {
            from: Some(Stage::Evaluate),
            until: Some(Stage::Evaluate),
            force: false,
        },
        &sink,
    )
    .expect("fourth run");
    let ran: Vec<_> = fourth
        .stages
        .iter()
        .filter(|s| s.status == Status::Ran)
        .map(|s| s.stage)
        .collect();
    assert_eq!(ran, [Stage::Evaluate]);
}

#[test]
fn a_wrong_checksum_stops_collect_and_names_the_archive() {
    let Some(lfw5) = kao_testdata::lfw5() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    build_archive(&lfw5, &dir.path().join("lfw-small.tgz"));
    let wrong = "0".repeat(64);
    let err = kao_pipeline::run(
        &config(dir.path(), &wrong, "logreg"),
        &RunOptions::default(),
        &|_| {},
    )
    .unwrap_err();
    let text = format!(
        "{err}: {}",
        std::error::Error::source(&err)
            .map(|s| s.to_string())
            .unwrap_or_default()
    );
    assert!(text.contains("collect"), "{text}");
    assert!(
        text.contains("lfw-small.tgz") || text.contains("sha"),
        "{text}"
    );
}
