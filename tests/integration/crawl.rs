//! `kao crawl` killed mid-way (SIGKILL) and rerun: same final files, no temp files, and
//! the images kept before the kill are not downloaded again.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Cursor, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use image::{DynamicImage, ImageFormat, RgbImage};

const IMAGES: usize = 30;

fn picture(seed: u64) -> RgbImage {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let grid: Vec<[u8; 3]> = (0..64)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            [s as u8, (s >> 8) as u8, (s >> 16) as u8]
        })
        .collect();
    RgbImage::from_fn(96, 96, |x, y| {
        image::Rgb(grid[((y / 12) * 8 + x / 12) as usize])
    })
}

fn encode(img: &RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(img.clone())
        .write_to(&mut out, format)
        .unwrap();
    out.into_inner()
}

type Hits = Arc<Mutex<HashMap<String, usize>>>;

/// A tiny HTTP/1.1 server on 127.0.0.1:0: `/img/<i>` answers slowly (so the crawl can be
/// killed mid-way); every 7th is a re-encoded copy of the previous one (a near-duplicate);
/// every 11th is missing.
fn serve() -> (String, Hits) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hits: Hits = Arc::default();
    let files: Arc<HashMap<String, Vec<u8>>> = Arc::new(
        (0..IMAGES)
            .filter(|i| i % 11 != 10)
            .map(|i| {
                let bytes = if i % 7 == 6 {
                    encode(&picture(i as u64 - 1), ImageFormat::Png)
                } else {
                    encode(&picture(i as u64), ImageFormat::Jpeg)
                };
                (format!("/img/{i}"), bytes)
            })
            .collect(),
    );
    let h = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let (files, hits) = (files.clone(), h.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    return;
                }
                loop {
                    let mut line = String::new();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) if line == "\r\n" => break,
                        Ok(_) => {}
                    }
                }
                let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
                *hits.lock().unwrap().entry(path.clone()).or_default() += 1;
                std::thread::sleep(Duration::from_millis(60));
                let (status, body) = match files.get(&path) {
                    Some(b) => ("200 OK", b.clone()),
                    None => ("404 Not Found", b"not found".to_vec()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            });
        }
    });
    (base, hits)
}

fn kao_crawl(work: &Path, list: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kao"));
    cmd.args(["crawl", "--quiet", "--work"])
        .arg(work)
        .args(["--tag", "people", "urls"])
        .arg(list)
        .args([
            "--per-host",
            "2",
            "--delay",
            "0ms",
            "--min-size",
            "32x32",
            "--json",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// The last record of each source: outcome, reason and file.
fn final_state(work: &Path) -> BTreeMap<String, (String, String, String)> {
    let text = std::fs::read_to_string(work.join("raw/manifest.jsonl")).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
            (s("source"), (s("outcome"), s("reason"), s("file")))
        })
        .collect()
}

#[test]
fn killed_crawl_resumes_to_the_same_files() {
    let (base, hits) = serve();
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("urls.txt");
    let urls: String = (0..IMAGES).map(|i| format!("{base}/img/{i}\n")).collect();
    std::fs::write(&list, urls).unwrap();

    // The reference: one uninterrupted run.
    let reference = dir.path().join("reference");
    let out = kao_crawl(&reference, &list).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let kept = summary["tags"][0]["kept"].as_u64().unwrap();
    assert!(kept >= 20, "{summary}");
    assert!(
        summary["tags"][0]["duplicates"].as_u64().unwrap() >= 3,
        "{summary}"
    );
    hits.lock().unwrap().clear();

    // Killed once a few images are recorded.
    let work = dir.path().join("work");
    let manifest = work.join("raw/manifest.jsonl");
    let mut child = kao_crawl(&work, &list).spawn().unwrap();
    let started = Instant::now();
    loop {
        let lines = std::fs::read_to_string(&manifest)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if lines >= 6 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "crawl made no progress"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "crawl ended before it was killed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = final_state(&work);
    assert!(before.len() < IMAGES, "killed too late to test anything");
    let kept_before: Vec<String> = before
        .iter()
        .filter(|(_, (o, _, _))| o == "kept")
        .map(|(s, _)| s.strip_prefix(&base).unwrap().to_string())
        .collect();
    assert!(!kept_before.is_empty());
    let hits_at_kill = hits.lock().unwrap().clone();

    // The rerun completes.
    let out = kao_crawl(&work, &list).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["tags"][0]["total_kept"].as_u64(), Some(kept));

    // Same files, same decisions, no temp file, nothing kept before the kill fetched again.
    let files = listing(&work.join("raw/people"));
    assert_eq!(files, listing(&reference.join("raw/people")));
    assert_eq!(files.len() as u64, kept);
    let everything = listing(&work);
    assert!(
        everything.iter().all(|f| !f.ends_with(".tmp")),
        "temp files left: {everything:?}"
    );
    assert_eq!(final_state(&work), final_state(&reference));
    let hits_after = hits.lock().unwrap().clone();
    for path in &kept_before {
        assert_eq!(
            hits_after.get(path),
            hits_at_kill.get(path),
            "{path} was kept before the kill and downloaded again"
        );
    }
}
