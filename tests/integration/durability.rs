//! The Training API under load and under `kill -9`: 16 clients uploading 1,000 photos into
//! one project while another trains; a server killed during an upload batch and during a
//! training, then restarted.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::server::{photos, Api, Kao};
use crate::shared;

/// Every photo of a folder-per-person dataset, as (person, path), sorted.
fn all_photos(dataset: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let mut people: Vec<PathBuf> = std::fs::read_dir(dataset)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    people.sort();
    for person in people {
        let name = person.file_name().unwrap().to_string_lossy().into_owned();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&person)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        out.extend(files.into_iter().map(|f| (name.clone(), f)));
    }
    out
}

/// Image files under `raw/` (content-named), and any temp file left behind.
fn raw_files(work: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let (mut images, mut temps) = (Vec::new(), Vec::new());
    for e in walk(&work.join("raw")) {
        let name = e.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".tmp") {
            temps.push(e);
        } else if name != "manifest.jsonl" {
            images.push(e);
        }
    }
    (images, temps)
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// An uploaded image's status and, when it went in, its id.
type Status = (String, Option<String>);

fn statuses(v: &Value) -> Vec<Status> {
    v["images"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|i| {
            (
                i["status"].as_str().unwrap_or_default().to_string(),
                i["image"]["id"].as_str().map(str::to_string),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_clients_upload_a_thousand_photos_while_another_project_trains() {
    let Some(shared) = shared() else { return };
    let root = tempfile::tempdir().unwrap();
    let kao = Kao::start(root.path());
    let api = kao.client();

    // Project B trains on two people while A fills up.
    let lfw5 = shared.join("datasets/lfw5");
    let b = api.project("trains").await;
    let mut b_files = Vec::new();
    for person in ["Colin_Powell", "Tony_Blair"] {
        let t = api.tag(&b, person).await;
        b_files.extend(
            photos(&lfw5, person, 100..110)
                .into_iter()
                .map(|p| (p, t.clone())),
        );
    }
    let (status, v) = api.upload(&b, &b_files).await;
    assert_eq!(status, 200, "{v}");
    let training = api.ok("POST", &format!("/projects/{b}/train"), None).await;

    // 1,000 photos of distinct content from lfw5 and lfw_dev20.
    let mut seen = HashSet::new();
    let chosen: Vec<(String, PathBuf)> = all_photos(&lfw5)
        .into_iter()
        .chain(all_photos(&shared.join("datasets/lfw_dev20")))
        .filter(|(_, p)| seen.insert(kao_image::content_id(&std::fs::read(p).unwrap())))
        .take(1000)
        .collect();
    assert_eq!(chosen.len(), 1000);
    let a = api.project("uploads").await;
    let mut tag_ids = BTreeMap::new();
    for (person, _) in &chosen {
        if !tag_ids.contains_key(person) {
            tag_ids.insert(person.clone(), api.tag(&a, person).await);
        }
    }
    let entries: Vec<(PathBuf, String)> = chosen
        .iter()
        .map(|(person, p)| (p.clone(), tag_ids[person].clone()))
        .collect();

    // 16 clients, each its sixteenth in batches of up to 48; every other batch also repeats
    // four photos of another client's share, so the same photo can arrive twice at once.
    let results: Arc<Mutex<Vec<Status>>> = Arc::default();
    let mut repeats = 0usize;
    let mut tasks = Vec::new();
    for client in 0..16 {
        let mine: Vec<(PathBuf, String)> =
            entries.iter().skip(client).step_by(16).cloned().collect();
        let mut batches: Vec<Vec<(PathBuf, String)>> =
            mine.chunks(48).map(|c| c.to_vec()).collect();
        for (i, batch) in batches.iter_mut().enumerate() {
            if i % 2 == 0 {
                let other = (client + 1 + i) % 16;
                batch.extend(
                    entries
                        .iter()
                        .skip(other)
                        .step_by(16)
                        .skip(i * 4)
                        .take(4)
                        .cloned(),
                );
                repeats += 4;
            }
        }
        let api: Api = api.clone();
        let (a, results) = (a.clone(), Arc::clone(&results));
        tasks.push(tokio::spawn(async move {
            for batch in batches {
                let (status, v) = api.upload(&a, &batch).await;
                assert_eq!(status, 200, "{v}");
                results.lock().unwrap().extend(statuses(&v));
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let results = results.lock().unwrap().clone();
    let ok = results.iter().filter(|(s, _)| s == "OK").count();
    let duplicate = results.iter().filter(|(s, _)| s == "OKDuplicate").count();
    assert_eq!(results.len(), 1000 + repeats);
    assert_eq!(ok, 1000, "every distinct photo is added exactly once");
    assert_eq!(duplicate, repeats, "every repeat is reported OKDuplicate");
    let ids: HashSet<&String> = results.iter().filter_map(|(_, id)| id.as_ref()).collect();
    assert_eq!(ids.len(), 1000, "a repeat names the image it duplicates");
    assert_eq!(
        api.ok("GET", &format!("/projects/{a}/images/count"), None)
            .await,
        1000
    );
    assert_eq!(
        api.ok("GET", &format!("/projects/{a}/images/tagged/count"), None)
            .await,
        1000
    );
    let mut expected: HashMap<String, u64> = HashMap::new();
    for (person, _) in &chosen {
        *expected.entry(tag_ids[person].clone()).or_default() += 1;
    }
    for t in api
        .ok("GET", &format!("/projects/{a}/tags"), None)
        .await
        .as_array()
        .unwrap()
    {
        assert_eq!(
            t["imageCount"].as_u64().unwrap(),
            expected[t["id"].as_str().unwrap()],
            "{t}"
        );
    }
    let (files, temps) = raw_files(&root.path().join("projects").join(&a));
    assert_eq!(files.len(), 1000, "one file per image");
    assert!(temps.is_empty(), "{temps:?}");

    let done = api
        .wait_trained(
            &b,
            training["id"].as_str().unwrap(),
            Duration::from_secs(600),
        )
        .await;
    assert_eq!(done["status"], "Completed", "{done}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_uploads_and_training_loses_nothing_acknowledged() {
    let Some(shared) = shared() else { return };
    let lfw5 = shared.join("datasets/lfw5");
    let root = tempfile::tempdir().unwrap();
    let kao = Kao::start(root.path());
    let api = kao.client();
    let p = api.project("crash").await;
    let a = api.tag(&p, "Colin_Powell").await;
    let b = api.tag(&p, "Tony_Blair").await;
    let batches: Vec<Vec<(PathBuf, String)>> = (0..40)
        .map(|i| {
            let person = if i % 2 == 0 {
                ("Colin_Powell", &a)
            } else {
                ("Tony_Blair", &b)
            };
            photos(&lfw5, person.0, i * 3..i * 3 + 3)
                .into_iter()
                .map(|f| (f, person.1.clone()))
                .collect()
        })
        .collect();

    // Upload until killed; remember what the server acknowledged.
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let uploader = {
        let (api, p, acked) = (api.clone(), p.clone(), Arc::clone(&acked));
        tokio::spawn(async move {
            for batch in batches {
                let r = api
                    .http
                    .post(format!("{}/projects/{p}/images/files", api.base))
                    .header("Training-Key", &api.key)
                    .json(&upload_body(&batch))
                    .send()
                    .await;
                let Ok(r) = r else { return };
                let Ok(v) = r.json::<Value>().await else {
                    return;
                };
                acked
                    .lock()
                    .unwrap()
                    .extend(statuses(&v).into_iter().filter_map(|(_, id)| id));
            }
        })
    };
    while acked.lock().unwrap().len() < 12 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    kao.kill();
    let _ = uploader.await;
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 12 && acked.len() < 120,
        "killed mid-way: {}",
        acked.len()
    );

    let kao = Kao::start(root.path());
    let api = kao.client();
    let work = root.path().join("projects").join(&p);
    let (files, temps) = raw_files(&work);
    assert!(temps.is_empty(), "temp files after restart: {temps:?}");
    let count = api
        .ok("GET", &format!("/projects/{p}/images/count"), None)
        .await;
    assert_eq!(
        count.as_u64().unwrap() as usize,
        files.len(),
        "one file per image, no orphan"
    );
    let found = api
        .ok(
            "GET",
            &format!("/projects/{p}/images/id?imageIds={}", acked.join(",")),
            None,
        )
        .await;
    assert_eq!(
        found.as_array().unwrap().len(),
        acked.len(),
        "every acknowledged image is there"
    );
    for f in &files {
        kao_image::load(f, &kao_image::Limits::default())
            .unwrap_or_else(|e| panic!("a partial or broken file after the crash: {e}"));
    }

    // Enough photos to train, then kill the training.
    for (person, tag) in [("Colin_Powell", &a), ("Tony_Blair", &b)] {
        let extra: Vec<_> = photos(&lfw5, person, 125..135)
            .into_iter()
            .map(|f| (f, tag.clone()))
            .collect();
        let (status, v) = api.upload(&p, &extra).await;
        assert_eq!(status, 200, "{v}");
    }
    let it = api.ok("POST", &format!("/projects/{p}/train"), None).await;
    let id = it["id"].as_str().unwrap().to_string();
    loop {
        let now = api
            .ok("GET", &format!("/projects/{p}/iterations/{id}"), None)
            .await;
        let stage = now["kaoProgress"]["stage"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if stage != "queued" && !stage.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    kao.kill();

    let kao = Kao::start(root.path());
    let api = kao.client();
    let done = api.wait_trained(&p, &id, Duration::from_secs(600)).await;
    assert_eq!(
        done["status"], "Completed",
        "resumed after the kill: {done}"
    );
    let perf = api
        .ok(
            "GET",
            &format!("/projects/{p}/iterations/{id}/performance"),
            None,
        )
        .await;
    assert!(perf["precision"].as_f64().unwrap() > 0.5, "{perf}");
    let (_, temps) = raw_files(&work);
    assert!(temps.is_empty(), "{temps:?}");
}

fn upload_body(batch: &[(PathBuf, String)]) -> Value {
    use base64::Engine;
    serde_json::json!({
        "images": batch.iter().map(|(path, tag)| serde_json::json!({
            "name": path.file_name().unwrap().to_string_lossy(),
            "contents": base64::engine::general_purpose::STANDARD.encode(std::fs::read(path).unwrap()),
            "tagIds": [tag],
        })).collect::<Vec<_>>()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kao_import_copies_a_project_from_another_server() {
    let Some(shared) = shared() else { return };
    let lfw5 = shared.join("datasets/lfw5");
    let from = tempfile::tempdir().unwrap();
    let kao = Kao::start(from.path());
    let api = kao.client();
    let p = api.project("to-move").await;
    let a = api.tag(&p, "Colin_Powell").await;
    let b = api.tag(&p, "Tony_Blair").await;
    let files: Vec<_> = photos(&lfw5, "Colin_Powell", 0..7)
        .into_iter()
        .map(|f| (f, a.clone()))
        .chain(
            photos(&lfw5, "Tony_Blair", 0..5)
                .into_iter()
                .map(|f| (f, b.clone())),
        )
        .collect();
    let (status, v) = api.upload(&p, &files).await;
    assert_eq!(status, 200, "{v}");

    let to = tempfile::tempdir().unwrap();
    let import = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_kao"))
            .args(["import", "--quiet", "--endpoint", &kao.base])
            .args([
                "--training-key",
                crate::server::TRAINING_KEY,
                "--project",
                &p,
            ])
            .arg("--root")
            .arg(to.path())
            .output()
            .unwrap()
    };
    let out = import();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Again: resumes, finds everything done, and verifies the counts.
    let out = import();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let copy = Kao::start(to.path());
    let api2 = copy.client();
    let project = api2.ok("GET", &format!("/projects/{p}"), None).await;
    assert_eq!(project["name"], "to-move");
    let tags = api2.ok("GET", &format!("/projects/{p}/tags"), None).await;
    let counts: BTreeMap<String, u64> = tags
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["id"].as_str().unwrap().to_string(),
                t["imageCount"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(counts, BTreeMap::from([(a.clone(), 7), (b.clone(), 5)]));
    let work = to.path().join("projects").join(&p);
    assert_eq!(raw_files(&work).0.len(), 12);
}
