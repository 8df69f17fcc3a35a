//! The Training API's exports, as the official SDK drives them: `POST …/export?platform=`
//! starts one and answers `Exporting`, `GET …/export` is polled until `Done`, and the
//! `downloadUri` is fetched with a plain GET (no key: the URI is signed). The `web` zip is
//! the page, its wasm and the iteration's bundle under the API's iteration id; `DockerFile`
//! without a static `kao` fails with the reason; a restarted server lists the same exports.
//!
//! The browser runtime is built once in `<target>/export` (as the kao-export tests do).

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine;
use common::data::{lfw, shared};
use common::server::{client, start_root, Running};
use kao_serve::{ExportTools, ServeConfig};
use serde_json::{json, Value};

async fn call(server: &Running, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    server.training(method, path, body).await
}

async fn ok(server: &Running, method: &str, path: &str, body: Option<Value>) -> Value {
    let (status, v) = call(server, method, path, body).await;
    assert_eq!(status, 200, "{method} {path}: {v}");
    v
}

fn tools(runtime: &Path, missing_binary: &Path) -> impl FnOnce(&mut ServeConfig) {
    let tools = ExportTools {
        web_runtime: Some(runtime.to_path_buf()),
        static_binary: Some(missing_binary.to_path_buf()),
    };
    move |c: &mut ServeConfig| c.export_tools = tools
}

/// A project of two people, eight photos each, with one training started: its id and the
/// iteration's.
async fn project_in_training(server: &Running) -> (String, String) {
    let p = ok(server, "POST", "/projects?name=export", None).await;
    let project = p["id"].as_str().unwrap().to_string();
    let mut images = Vec::new();
    for person in ["Colin_Powell", "Tony_Blair"] {
        let t = ok(
            server,
            "POST",
            &format!("/projects/{project}/tags?name={person}"),
            None,
        )
        .await;
        for n in 1..=8 {
            let photo = lfw(person, n);
            images.push(json!({
                "name": photo.file_name().unwrap().to_string_lossy(),
                "contents": base64::engine::general_purpose::STANDARD
                    .encode(std::fs::read(&photo).unwrap()),
                "tagIds": [t["id"]],
            }));
        }
    }
    ok(
        server,
        "POST",
        &format!("/projects/{project}/images/files"),
        Some(json!({ "images": images })),
    )
    .await;
    let it = ok(server, "POST", &format!("/projects/{project}/train"), None).await;
    (project, it["id"].as_str().unwrap().to_string())
}

/// Polls `GET …/export` until no export is `Exporting`.
async fn settled(server: &Running, path: &str, limit: Duration) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let list = ok(server, "GET", path, None).await;
        let list = list.as_array().unwrap().clone();
        if list.iter().all(|e| e["status"] != "Exporting") {
            return list;
        }
        assert!(start.elapsed() < limit, "exports never finished: {list:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn by_platform<'a>(list: &'a [Value], platform: &str) -> &'a Value {
    list.iter()
        .find(|e| e["platform"] == platform)
        .unwrap_or_else(|| panic!("no {platform} export in {list:?}"))
}

/// The zip's files by name.
fn unzip(bytes: &[u8]) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    let mut out = std::collections::BTreeMap::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).unwrap();
        let name = f.name().expect("a UTF-8 name").to_string();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        out.insert(name, data);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_run_in_the_background_download_by_signed_uri_and_survive_a_restart() {
    if shared().is_none() {
        return;
    }
    let runtime: PathBuf = tokio::task::spawn_blocking(kao_harness::build_web_runtime)
        .await
        .unwrap()
        .expect("build the browser runtime (cargo xtask web)");
    let root = tempfile::tempdir().unwrap();
    let missing = root.path().join("no-static-kao");
    let server = start_root(root.path(), tools(&runtime, &missing)).await;
    let (project, id) = project_in_training(&server).await;
    let iteration = format!("/projects/{project}/iterations/{id}");
    let exports = format!("{iteration}/export");

    // Untrained: the spec's code. (Checked only while the iteration is still training.)
    let (status, v) = call(&server, "POST", &format!("{exports}?platform=web"), None).await;
    let now = ok(&server, "GET", &iteration, None).await;
    if now["status"] == "Training" {
        assert_eq!(
            (status, v["code"].as_str()),
            (400, Some("BadRequestIterationIsNotTrained")),
            "{v}"
        );
    } else {
        eprintln!("training finished before the untrained export was refused; not checked");
    }
    let start = Instant::now();
    loop {
        let now = ok(&server, "GET", &iteration, None).await;
        if now["status"] != "Training" {
            assert_eq!(now["status"], "Completed", "{now}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(600), "{now}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(ok(&server, "GET", &exports, None).await, json!([]));

    // Custom Vision's other platforms and flavors are refused by name.
    for (query, named) in [
        ("platform=CoreML", "CoreML"),
        ("platform=ONNX", "ONNX"),
        ("platform=DockerFile&flavor=ARM", "ARM"),
    ] {
        let (status, v) = call(&server, "POST", &format!("{exports}?{query}"), None).await;
        assert_eq!(
            (status, v["code"].as_str()),
            (400, Some("BadRequestNotSupported")),
            "{v}"
        );
        let message = v["message"].as_str().unwrap();
        assert!(message.contains(named) && message.contains("Web"), "{v}");
    }

    // web: answered at once as Exporting; a second POST while it runs is the conflict.
    let clock = Instant::now();
    let first = ok(&server, "POST", &format!("{exports}?platform=Web"), None).await;
    assert_eq!(first["platform"], "Web");
    assert_eq!(first["status"], "Exporting");
    assert_eq!(first["downloadUri"], Value::Null);
    assert_eq!(first["newerVersionAvailable"], false);
    let (again, v) = call(&server, "POST", &format!("{exports}?platform=web"), None).await;
    let listed = ok(&server, "GET", &exports, None).await;
    if by_platform(listed.as_array().unwrap(), "Web")["status"] == "Exporting" {
        assert_eq!(
            (again, v["code"].as_str()),
            (400, Some("BadRequestExportAlreadyInProgress")),
            "{v}"
        );
    } else {
        eprintln!("the export finished before the second POST; the conflict was not checked");
    }
    let docker = ok(
        &server,
        "POST",
        &format!("{exports}?platform=DockerFile&flavor=Linux"),
        None,
    )
    .await;
    assert_eq!(docker["platform"], "DockerFile");
    assert_eq!(docker["flavor"], "Linux");

    let list = settled(&server, &exports, Duration::from_secs(300)).await;
    eprintln!(
        "export through the API: {:.2} s from POST to Done",
        clock.elapsed().as_secs_f64()
    );
    let web = by_platform(&list, "Web");
    assert_eq!(web["status"], "Done", "{web}");
    let failed = by_platform(&list, "DockerFile");
    assert_eq!(failed["status"], "Failed", "{failed}");
    assert_eq!(failed["downloadUri"], Value::Null);
    let why = failed["error"].as_str().unwrap();
    assert!(why.contains(&missing.display().to_string()), "{why}");

    // The zip, with a plain GET: the page, its wasm and the bundle of this iteration.
    let uri = web["downloadUri"].as_str().unwrap();
    let r = client().get(uri).send().await.unwrap();
    assert_eq!(r.status(), 200, "{uri}");
    assert_eq!(r.headers()["content-type"], "application/zip");
    let zip = r.bytes().await.unwrap();
    let files = unzip(&zip);
    for name in [
        "index.html",
        "kao.js",
        "kao_web_bg.wasm",
        "model/bundle.json",
    ] {
        assert!(files.contains_key(name), "{name} not in {:?}", files.keys());
    }
    assert!(files["kao_web_bg.wasm"].starts_with(b"\0asm"));
    let bundle: Value = serde_json::from_slice(&files["model/bundle.json"]).unwrap();
    assert_eq!(bundle["iteration"], id.as_str(), "{bundle}");
    assert_eq!(bundle["project"], project.as_str(), "{bundle}");
    eprintln!("web zip: {:.1} MB", zip.len() as f64 / 1e6);
    let tampered = uri.replace("sig=", "sig=0");
    let r = client().get(&tampered).send().await.unwrap();
    assert_eq!(r.status(), 401);

    // A restart: the same exports; one a stop cut short reads Failed.
    server.stop().await;
    let status_file = root
        .path()
        .join("projects")
        .join(&project)
        .join("exports")
        .join(&id)
        .join("docker.json");
    let mut record: Value = serde_json::from_slice(&std::fs::read(&status_file).unwrap()).unwrap();
    record["status"] = json!("Exporting");
    record["error"] = Value::Null;
    std::fs::write(&status_file, serde_json::to_vec(&record).unwrap()).unwrap();
    let server = start_root(root.path(), tools(&runtime, &missing)).await;
    let list = ok(&server, "GET", &exports, None).await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    let web = by_platform(list, "Web");
    assert_eq!(web["status"], "Done", "{web}");
    let r = client()
        .get(web["downloadUri"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap(), zip);
    let cut = by_platform(list, "DockerFile");
    assert_eq!(cut["status"], "Failed", "{cut}");
    assert!(cut["error"].as_str().unwrap().contains("stopped"), "{cut}");

    // The iteration's exports go with it.
    let (status, _) = call(&server, "DELETE", &iteration, None).await;
    assert_eq!(status, 204);
    assert!(!status_file.parent().unwrap().exists());
    let (status, v) = call(&server, "GET", &exports, None).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (404, Some("NotFoundIteration"))
    );
    server.stop().await;
}
