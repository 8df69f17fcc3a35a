//! A tree with a symbolic link loop, a dangling link, a FIFO and a link to /dev/zero among
//! real photos: `kao inspect`, `kao crop` and `kao crawl … dir` finish, exit 0, and report
//! each bad entry with its reason. Each run is bounded: a hang is killed and fails the test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::shared;

/// Generous: the bound only turns a hang into a failure, it measures nothing.
const BOUND: Duration = Duration::from_secs(300);

fn run_bounded(cmd: &mut Command) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > BOUND {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{cmd:?} did not finish in {BOUND:?}; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn kao() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kao"))
}

/// `root/alice/` with two photos and every kind of bad entry, and `root/bob/` with one
/// photo. Real LFW photos when the shared data is there, generated pictures otherwise.
fn hostile_tree(root: &Path) -> PathBuf {
    use std::os::unix::fs::symlink;
    let alice = root.join("alice");
    let bob = root.join("bob");
    std::fs::create_dir_all(&alice).unwrap();
    std::fs::create_dir_all(&bob).unwrap();
    let photos = [
        (alice.join("p1.jpg"), "Tony_Blair/Tony_Blair_0001.jpg"),
        (alice.join("p2.jpg"), "Tony_Blair/Tony_Blair_0002.jpg"),
        (bob.join("p3.jpg"), "Colin_Powell/Colin_Powell_0001.jpg"),
    ];
    for (i, (to, from)) in photos.iter().enumerate() {
        match shared() {
            Some(s) => {
                std::fs::copy(s.join("datasets/lfw5").join(from), to).unwrap();
            }
            None => image::RgbImage::from_fn(96, 96, |x, y| {
                image::Rgb([(x * 2) as u8, (y * 2) as u8, i as u8 * 60])
            })
            .save(to)
            .unwrap(),
        }
    }
    symlink(alice.join("loop_b.jpg"), alice.join("loop_a.jpg")).unwrap();
    symlink(alice.join("loop_a.jpg"), alice.join("loop_b.jpg")).unwrap();
    symlink("missing.jpg", alice.join("dangling.jpg")).unwrap();
    symlink("/dev/zero", alice.join("zero.jpg")).unwrap();
    let fifo = alice.join("pipe.jpg");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success(), "mkfifo");
    alice
}

const BAD: [(&str, &str); 5] = [
    (
        "alice/dangling.jpg",
        "dangling symbolic link to missing.jpg",
    ),
    ("alice/loop_a.jpg", "symbolic link loop"),
    ("alice/loop_b.jpg", "symbolic link loop"),
    ("alice/pipe.jpg", "not a regular file (FIFO)"),
    ("alice/zero.jpg", "not a regular file (character device)"),
];

#[test]
fn inspect_reports_each_bad_entry_and_reads_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("photos");
    hostile_tree(&root);
    let out = run_bounded(kao().args(["inspect", "--json"]).arg(&root));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["images"], 3, "{r}");
    assert_eq!(r["tags"]["alice"]["images"], 2, "{r}");
    assert_eq!(r["tags"]["alice"]["unreadable"], 5, "{r}");
    let bad: Vec<(String, String)> = r["unreadable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["file"].as_str().unwrap().to_string(),
                b["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = BAD
        .iter()
        .map(|(f, r)| (f.to_string(), r.to_string()))
        .collect();
    assert_eq!(bad, expected);

    // The table names each entry and its reason too.
    let out = run_bounded(kao().arg("inspect").arg(&root));
    let text = String::from_utf8_lossy(&out.stdout);
    for (file, reason) in BAD {
        assert!(text.contains(&format!("{file}: {reason}")), "{text}");
    }
}

#[test]
fn crop_rejects_each_bad_entry_and_crops_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("photos");
    hostile_tree(&root);
    let work = dir.path().join("work");
    let out = run_bounded(
        kao()
            .args(["crop", "--json", "--work"])
            .arg(&work)
            .arg(&root),
    );
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["tags"]["alice"]["photos"], 7, "{s}");
    assert_eq!(s["tags"]["alice"]["rejects"]["unreadable"], 5, "{s}");
    assert_eq!(s["tags"]["bob"]["photos"], 1, "{s}");
    for (file, reason) in BAD {
        assert_eq!(s["unreadable"][file], reason, "{s}");
    }
    if shared().is_some() {
        assert_eq!(s["tags"]["alice"]["chips"], 2, "{s}");
        assert_eq!(s["tags"]["bob"]["chips"], 1, "{s}");
    }
    // Each is a reject record of the faces manifest, with its reason.
    let records =
        kao_dataset::read_manifest::<kao_dataset::FaceRecord>(&work.join("faces/manifest.jsonl"))
            .unwrap()
            .records;
    for (file, reason) in BAD {
        assert!(
            records.iter().any(|r| matches!(r,
                kao_dataset::FaceRecord::Reject(r)
                    if r.source.rel == file
                        && r.reason == kao_dataset::RejectReason::Unreadable(reason.into()))),
            "{file}"
        );
    }

    let out = run_bounded(kao().args(["crop", "--work"]).arg(&work).arg(&root));
    let text = String::from_utf8_lossy(&out.stdout);
    for (file, reason) in BAD {
        assert!(text.contains(&format!("{file}: {reason}")), "{text}");
    }
}

#[test]
fn crawl_dir_rejects_each_bad_entry_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let alice = hostile_tree(&dir.path().join("photos"));
    let work = dir.path().join("work");
    let out = run_bounded(
        kao()
            .args([
                "crawl",
                "--quiet",
                "--json",
                "--min-size",
                "32x32",
                "--work",
            ])
            .arg(&work)
            .args(["--tag", "alice", "dir"])
            .arg(&alice),
    );
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let records =
        kao_dataset::read_manifest::<kao_crawl::RawRecord>(&work.join("raw/manifest.jsonl"))
            .unwrap()
            .records;
    let kept = records
        .iter()
        .filter(|r| r.outcome == kao_crawl::Outcome::Kept)
        .count();
    assert_eq!(kept, 2, "{s}");
    for (file, reason) in BAD {
        let name = file.strip_prefix("alice/").unwrap();
        let r = records
            .iter()
            .find(|r| r.source.ends_with(&format!("/{name}")))
            .unwrap_or_else(|| panic!("no record for {name}: {records:?}"));
        assert_eq!(r.outcome, kao_crawl::Outcome::Rejected);
        assert_eq!(r.detail.as_deref(), Some(reason), "{r:?}");
    }
}
