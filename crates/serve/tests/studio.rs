//! Kao Studio end to end, in headless Chromium through chromedriver, against a real
//! `kao serve --root` (in process) and real photos: sign in, create a project and its
//! tags, upload three lfw5 people as a folder (with a text file and a 50 MB file that
//! must be refused), collect more photos from a site, train, read the performance and
//! move the threshold slider (each number checked against the API's own answer), publish,
//! export for the browser and download the zip,
//! Quick Test a held-back photo, re-tag a stored prediction, train again and compare the
//! two iterations, switch to Japanese and to phone width, delete the project — no console
//! errors on the way. A second test loses the connection in the middle of an upload.
//!
//! Screenshots of every view land in `$KAO_STUDIO_SCREENSHOTS` (docs/studio/ through
//! `cargo xtask studio-screenshots`), else `$CARGO_TARGET_TMPDIR/kao-studio`.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::data::shared;
use common::server::{client, start_root, training_call, Running, KEY, TRAINING_KEY};
use kao_webdriver::{available, keys, Browser};
use serde_json::{json, Value};

const PEOPLE: [&str; 3] = ["Colin_Powell", "Donald_Rumsfeld", "Tony_Blair"];
const PHOTOS: u32 = 10;
/// Photos of people who are none of the three, for the Negative tag.
const STRANGERS: usize = 8;
const WAIT: Duration = Duration::from_secs(60);
const TRAINING: Duration = Duration::from_secs(600);
/// Where the Studio says that something failed.
const SHOWN_ERRORS: &str = ".status.error, #banner:not([hidden])";

/// The Training API, as a script would call it.
struct Api {
    addr: std::net::SocketAddr,
}

impl Api {
    fn new(server: &Running) -> Api {
        Api { addr: server.addr }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        training_call(self.addr, method, path, body).await
    }

    /// The project's tag of this name.
    async fn tag(&self, project: &str, name: &str) -> Value {
        let tags = self.get(&format!("/projects/{project}/tags")).await;
        tags.as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("no tag {name}: {tags}"))
            .clone()
    }

    async fn get(&self, path: &str) -> Value {
        let (status, v) = self.call(reqwest::Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}: {v}");
        v
    }
}

fn shots_dir() -> PathBuf {
    let dir = std::env::var_os("KAO_STUDIO_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("kao-studio"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(browser: &Browser, name: &str) {
    shot_of(browser, name, false).await;
}

/// The whole page, for views longer than a screen.
async fn full_shot(browser: &Browser, name: &str) {
    shot_of(browser, name, true).await;
}

async fn shot_of(browser: &Browser, name: &str, full: bool) {
    // Let images finish decoding and the last frame paint.
    browser
        .script(
            "return Promise.all([...document.images].filter(i => !i.complete).map(i => new Promise(r => { i.onload = r; i.onerror = r; })))",
            json!([]),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let png = if full {
        browser.full_page_screenshot().await
    } else {
        browser.screenshot().await
    };
    assert!(png.starts_with(b"\x89PNG"));
    let path = shots_dir().join(format!("{name}.png"));
    std::fs::write(&path, &png).unwrap();
    eprintln!("screenshot: {}", path.display());
}

async fn tab(browser: &Browser, name: &str) {
    let t = browser.one(&format!("#tab-{name}")).await;
    browser.click(&t).await;
}

/// The exact number behind a shown percentage (`data-value`, the page's `String(number)`).
/// Read with serde_json's parser, as the API's answers are: both print a double as its
/// shortest round-trip digits, so the same double gives the same text, and the same text
/// the same value (serde_json's default parser may round the last bit differently from
/// `str::parse`).
async fn data_number(browser: &Browser, css: &str) -> f64 {
    browser.one(css).await;
    let text = browser
        .attribute_of(css, "data-value")
        .await
        .unwrap_or_default();
    serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{css} has no numeric data-value: {text:?}"))
}

/// The folder the page uploads: a folder per person, plus what must not get in.
fn people_folder(shared: &Path, root: &Path) -> PathBuf {
    let dir = root.join("people");
    for person in PEOPLE {
        let d = dir.join(person);
        std::fs::create_dir_all(&d).unwrap();
        for n in 1..=PHOTOS {
            let name = format!("{person}_{n:04}.jpg");
            std::fs::copy(
                shared.join("datasets/lfw5").join(person).join(&name),
                d.join(&name),
            )
            .unwrap();
        }
    }
    // Strangers, for the Negative tag.
    let strangers = dir.join("Strangers");
    std::fs::create_dir_all(&strangers).unwrap();
    let mut all: Vec<PathBuf> = std::fs::read_dir(shared.join("datasets/lfw_strangers"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    all.sort();
    for p in all.into_iter().take(STRANGERS) {
        std::fs::copy(&p, strangers.join(p.file_name().unwrap())).unwrap();
    }
    // A photo with no face (the crop stage rejects it), a text file (the server rejects
    // it) and a 50 MB file (the page refuses it before sending).
    std::fs::copy(
        shared.join("datasets/nonface/dlib_dog.jpg"),
        dir.join("Colin_Powell/dog.jpg"),
    )
    .unwrap();
    std::fs::write(dir.join("Tony_Blair/notes.txt"), "not a photo\n").unwrap();
    let big = std::fs::File::create(dir.join("Donald_Rumsfeld/huge.jpg")).unwrap();
    big.set_len(50 * 1024 * 1024).unwrap();
    dir
}

/// A small web site on loopback to collect from: a page showing five more photos of one
/// person and a broken image.
async fn fixture_site(shared: &Path) -> (String, tokio::task::JoinHandle<()>) {
    use axum::routing::get;
    let mut photos: HashMap<String, Vec<u8>> = HashMap::new();
    for n in 11..=15u32 {
        let p = shared.join(format!(
            "datasets/lfw5/Colin_Powell/Colin_Powell_{n:04}.jpg"
        ));
        photos.insert(format!("{n}.jpg"), std::fs::read(p).unwrap());
    }
    let page = format!(
        "<!doctype html><title>Colin Powell</title>{}<img src=\"/img/broken.jpg\">",
        (11..=15)
            .map(|n| format!("<img src=\"/img/{n}.jpg\">"))
            .collect::<String>()
    );
    let app = axum::Router::new()
        .route(
            "/people.html",
            get(move || async move { axum::response::Html(page) }),
        )
        .route(
            "/img/{name}",
            get(
                move |axum::extract::Path(name): axum::extract::Path<String>| {
                    let photos = photos.clone();
                    async move {
                        match photos.get(&name) {
                            Some(b) => {
                                ([("content-type", "image/jpeg")], b.clone()).into_response()
                            }
                            None => (
                                [("content-type", "image/jpeg")],
                                b"<html>not here</html>".to_vec(),
                            )
                                .into_response(),
                        }
                    }
                },
            ),
        );
    use axum::response::IntoResponse;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/people.html", listener.local_addr().unwrap());
    let handle = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (url, handle)
}

async fn sign_in(browser: &Browser, server: &Running) {
    browser.open(&server.url("/")).await;
    let key = browser.one("#training-key").await;
    browser.send_keys(&key, TRAINING_KEY).await;
    let button = browser.one("#signin-button").await;
    browser.click(&button).await;
    browser.wait_for("#project-table", WAIT).await;
}

async fn wait_attr(
    browser: &Browser,
    css: &str,
    name: &str,
    want: impl Fn(&str) -> bool,
    timeout: Duration,
) -> String {
    let start = Instant::now();
    loop {
        if let Some(v) = browser.attribute_of(css, name).await {
            if want(&v) {
                return v;
            }
        }
        assert!(
            start.elapsed() < timeout,
            "{css} [{name}] never became what was wanted"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

async fn train(browser: &Browser) {
    tab(browser, "train").await;
    let button = browser.one("#train-button").await;
    browser.click(&button).await;
    wait_attr(
        browser,
        "#train-state",
        "data-status",
        |s| s == "Training",
        WAIT,
    )
    .await;
    let status = wait_attr(
        browser,
        "#train-state",
        "data-status",
        |s| s != "Training",
        TRAINING,
    )
    .await;
    if status != "Completed" {
        let error = browser.one("#train-error").await;
        panic!("the training failed: {}", browser.text(&error).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn studio_end_to_end() {
    if !available() {
        return;
    }
    let Some(shared) = shared() else { return };
    let root = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let people = people_folder(&shared, files.path());
    let (site, site_task) = fixture_site(&shared).await;
    // The Publish tab exports for the browser: the runtime that copies.
    let runtime = tokio::task::spawn_blocking(kao_harness::build_web_runtime)
        .await
        .unwrap()
        .expect("build the browser runtime (cargo xtask web)");
    let server = start_root(&root.path().join("root"), |c| {
        c.allow_url_fetch = true;
        c.allow_private_urls = true;
        c.export_tools.web_runtime = Some(runtime);
    })
    .await;
    let api = Api::new(&server);
    let mut browser = Browser::start(1280, 800).await;
    browser.fail_on(SHOWN_ERRORS);

    // Sign in.
    browser.open(&server.url("/")).await;
    browser.one("#training-key").await;
    shot(&browser, "signin").await;
    sign_in(&browser, &server).await;

    // A project, and its tags through the tag form.
    let name = browser.one("#new-project-name").await;
    browser.send_keys(&name, "Studio e2e").await;
    let create = browser.one("#create-project").await;
    browser.click(&create).await;
    browser.wait_for("#tag-list", WAIT).await;
    let project = api.get("/projects").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for person in PEOPLE {
        let input = browser.one("#new-tag-name").await;
        browser.send_keys(&input, person).await;
        let add = browser.one("#add-tag").await;
        browser.click(&add).await;
        browser
            .wait_for(&format!("#tag-list li[data-tag-name=\"{person}\"]"), WAIT)
            .await;
    }

    // The Negative tag: none of these people.
    let input = browser.one("#new-tag-name").await;
    browser.send_keys(&input, "Strangers").await;
    let negative = browser.one("#new-tag-negative").await;
    browser.click(&negative).await;
    let add = browser.one("#add-tag").await;
    browser.click(&add).await;
    browser
        .wait_for("#tag-list li[data-tag-name=\"Strangers\"]", WAIT)
        .await;

    // Upload the folder through the folder picker: a tag per person folder.
    let folder = browser.one("#folder-input").await;
    browser
        .send_keys(&folder, &people.display().to_string())
        .await;
    browser
        .wait_for("#upload-report[data-state=\"done\"]", WAIT)
        .await;
    let ok = browser
        .attribute_of("#upload-report", "data-ok")
        .await
        .unwrap();
    let rejected = browser
        .attribute_of("#upload-report", "data-rejected")
        .await
        .unwrap();
    assert_eq!(
        ok,
        (PHOTOS as usize * 3 + STRANGERS + 1).to_string(),
        "photos, strangers and the dog photo added"
    );
    assert_eq!(rejected, "2", "the text file and the 50 MB file");
    let problems = browser.texts_of("#upload-files tbody tr").await;
    let huge = problems
        .iter()
        .find(|r| r.contains("huge.jpg"))
        .expect("huge.jpg listed");
    assert!(
        huge.contains("Not sent") && huge.contains("50.0 MB") && huge.contains("6.0 MB"),
        "{huge}"
    );
    let notes = problems
        .iter()
        .find(|r| r.contains("notes.txt"))
        .expect("notes.txt listed");
    assert!(notes.contains("ErrorImageFormat"), "{notes}");
    // The counts the page shows are the API's.
    let tags = api.get(&format!("/projects/{project}/tags")).await;
    for tag in tags.as_array().unwrap() {
        let tag_name = tag["name"].as_str().unwrap();
        let count = browser
            .text_of(&format!(
                "#tag-list li[data-tag-name=\"{tag_name}\"] .count"
            ))
            .await;
        assert_eq!(count, Some(tag["imageCount"].to_string()), "{tag_name}");
    }
    assert_eq!(
        api.tag(&project, "Colin_Powell").await["imageCount"],
        PHOTOS + 1,
        "Colin_Powell has the dog photo too"
    );
    assert_eq!(
        browser.text_of("[data-filter=\"all\"] .count").await,
        Some(
            api.get(&format!("/projects/{project}/images/count"))
                .await
                .to_string()
        )
    );
    shot(&browser, "photos").await;

    // Collect five more photos of one person from a site.
    tab(&browser, "collect").await;
    let kind = browser.one("#crawl-kind option[value=\"site\"]").await;
    browser.click(&kind).await;
    let url = browser.one("#crawl-site").await;
    browser.send_keys(&url, &site).await;
    let depth = browser.one("#crawl-depth").await;
    browser.clear(&depth).await;
    browser.send_keys(&depth, "0").await;
    let start = browser.one("#crawl-start").await;
    browser.click(&start).await;
    let added = wait_attr(
        &browser,
        ".crawl-job",
        "data-status",
        |s| s != "Running",
        WAIT,
    )
    .await;
    assert_eq!(added, "Completed");
    assert_eq!(
        browser
            .attribute_of(".crawl-job", "data-added")
            .await
            .as_deref(),
        Some("5")
    );
    let job_text = browser.text_of(".crawl-job").await.unwrap_or_default();
    assert!(
        job_text.contains("Dropped: not_an_image")
            || job_text.contains("Dropped: unsupported_format"),
        "{job_text}"
    );
    shot(&browser, "collect").await;
    let colin = api.tag(&project, "Colin_Powell").await["imageCount"].clone();
    assert_eq!(colin, PHOTOS + 6);

    // Train, watching the stages.
    train(&browser).await;
    let stages = browser.find_all("#stage-table tbody tr").await;
    assert_eq!(stages.len(), 5, "crop, split, augment, train, evaluate");
    shot(&browser, "train").await;

    // The dog photo is listed as rejected, with why.
    tab(&browser, "photos").await;
    let rejected_filter = browser.one("[data-filter=\"rejected\"]").await;
    browser.click(&rejected_filter).await;
    let cells = browser.wait_for(".cell .thumb", WAIT).await;
    assert_eq!(cells.len(), 1, "one rejected photo");
    assert_eq!(
        browser
            .text(&browser.one("[data-filter=\"rejected\"] .count").await)
            .await,
        api.get(&format!("/projects/{project}/images/rejected/count"))
            .await
            .to_string()
    );
    browser.click(&cells[0]).await;
    let state = browser.one("#detail-state").await;
    let why = browser.text(&state).await;
    let reason = api
        .get(&format!("/projects/{project}/images/rejected"))
        .await[0]["rejectReason"]
        .clone();
    assert!(why.starts_with("Not trained on:"), "{why}");
    assert!(reason == "no_face" || reason == "low_score", "{reason}");
    shot(&browser, "photo-rejected").await;
    let close = browser.one("dialog .dlg-head button").await;
    browser.click(&close).await;
    let first_tag = browser.one("[data-filter=\"tag\"]").await;
    browser.click(&first_tag).await;
    let cells = browser.wait_for(".cell .thumb", WAIT).await;
    browser.click(&cells[0]).await;
    browser.wait_for("#photo-detail .chips img", WAIT).await;
    browser.wait_for("#photo-detail .box", WAIT).await;
    shot(&browser, "photo").await;
    let close = browser.one("dialog .dlg-head button").await;
    browser.click(&close).await;

    // Performance: the numbers are the API's, at 0.5 and wherever the slider goes.
    let iterations = api.get(&format!("/projects/{project}/iterations")).await;
    let iteration = iterations[0]["id"].as_str().unwrap().to_string();
    tab(&browser, "performance").await;
    let perf_path = format!("/projects/{project}/iterations/{iteration}/performance");
    let at_half = api.get(&format!("{perf_path}?threshold=0.5")).await;
    assert_eq!(
        data_number(&browser, "#precision").await,
        at_half["precision"].as_f64().unwrap()
    );
    assert_eq!(
        data_number(&browser, "#recall").await,
        at_half["recall"].as_f64().unwrap()
    );
    // Where both numbers differ from 0.5's, nearest to it (the test asks the API).
    let mut target = None;
    for step in 1..=50u32 {
        for k in [50 + step, 50 - step] {
            let v = api
                .get(&format!("{perf_path}?threshold={}", k as f64 / 100.0))
                .await;
            if target.is_none()
                && v["precision"] != at_half["precision"]
                && v["recall"] != at_half["recall"]
            {
                target = Some((k, v));
            }
        }
        if target.is_some() {
            break;
        }
    }
    let (k, expected) = target.expect("some threshold changes both precision and recall");
    let slider = browser.one("#threshold").await;
    let key = if k > 50 { keys::RIGHT } else { keys::LEFT };
    browser
        .send_keys(&slider, &key.repeat(k.abs_diff(50) as usize))
        .await;
    let want = k as f64 / 100.0;
    wait_attr(
        &browser,
        "#perf",
        "data-threshold",
        |v| v.parse::<f64>().ok() == Some(want),
        WAIT,
    )
    .await;
    let precision = data_number(&browser, "#precision").await;
    let recall = data_number(&browser, "#recall").await;
    assert_eq!(
        precision,
        expected["precision"].as_f64().unwrap(),
        "precision at {want}"
    );
    assert_eq!(
        recall,
        expected["recall"].as_f64().unwrap(),
        "recall at {want}"
    );
    assert_ne!(precision, at_half["precision"].as_f64().unwrap());
    assert_ne!(recall, at_half["recall"].as_f64().unwrap());
    // Back to 0.5 for the picture.
    browser
        .send_keys(
            &slider,
            &(if k > 50 { keys::LEFT } else { keys::RIGHT }).repeat(k.abs_diff(50) as usize),
        )
        .await;
    wait_attr(&browser, "#perf", "data-threshold", |v| v == "0.5", WAIT).await;
    shot(&browser, "performance").await;
    full_shot(&browser, "performance-full").await;

    // Publish under a name.
    tab(&browser, "publish").await;
    let input = browser.one("#publish-table input.publish-name").await;
    browser.clear(&input).await;
    browser.send_keys(&input, "e2e").await;
    let publish = browser.one("#publish-table button.publish").await;
    browser.click(&publish).await;
    let prediction_url = browser.one(".prediction-url").await;
    let prediction_url = browser.text(&prediction_url).await;
    assert!(
        prediction_url.ends_with(&format!("/{project}/classify/iterations/e2e/image")),
        "{prediction_url}"
    );
    let curl = browser.text(&browser.one("pre.curl").await).await;
    assert!(
        curl.contains(KEY) && curl.contains(&prediction_url),
        "{curl}"
    );
    let python = browser.text(&browser.one("pre.python").await).await;
    assert!(
        python.contains("classify_image") && python.contains("\"e2e\""),
        "{python}"
    );
    assert_eq!(
        api.get(&format!("/projects/{project}/iterations/{iteration}"))
            .await["publishName"],
        "e2e"
    );
    // The snippet's URL answers at once.
    let held_back = shared.join("datasets/lfw5/Tony_Blair/Tony_Blair_0040.jpg");
    let answer: Value = client()
        .post(&prediction_url)
        .header("Prediction-Key", KEY)
        .body(std::fs::read(&held_back).unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer["predictions"][0]["tagName"], "Tony_Blair",
        "{answer}"
    );
    // Export for the browser: the button waits for the export and links its zip.
    let export = browser.one("#publish-table button.export-web").await;
    browser.click(&export).await;
    let zip = wait_attr(
        &browser,
        "#publish-table a.export-download",
        "href",
        |v| v.contains("/kao/exports/"),
        WAIT,
    )
    .await;
    let r = client().get(&zip).send().await.unwrap();
    assert_eq!(r.status(), 200, "{zip}");
    assert_eq!(r.headers()["content-type"], "application/zip");
    assert!(r.bytes().await.unwrap().starts_with(b"PK"));
    shot(&browser, "publish").await;

    // Quick Test a held-back photo.
    tab(&browser, "quicktest").await;
    let file = browser.one("#file").await;
    browser
        .send_keys(&file, &held_back.display().to_string())
        .await;
    let rows = browser
        .wait_for("#results:not([hidden]) tbody tr", WAIT)
        .await;
    let top = browser.text(&rows[0]).await;
    assert!(top.starts_with("Tony_Blair"), "{top}");
    assert!(!browser.find_all("#boxes .box").await.is_empty());
    shot(&browser, "quicktest").await;

    // The quick test is a stored prediction: give it the right tag, add it to the photos.
    tab(&browser, "predictions").await;
    browser.wait_for(".pred", WAIT).await;
    let before = api.tag(&project, "Tony_Blair").await;
    assert_eq!(before["name"], "Tony_Blair");
    shot(&browser, "predictions").await;
    let option = browser
        .one(".pred select option[data-name=\"Tony_Blair\"]")
        .await;
    browser.click(&option).await;
    let add = browser.one(".pred button.add").await;
    browser.click(&add).await;
    browser.wait_for("#predictions-status.ok", WAIT).await;
    let after = api.tag(&project, "Tony_Blair").await;
    assert_eq!(
        after["imageCount"].as_u64().unwrap(),
        before["imageCount"].as_u64().unwrap() + 1
    );
    let (_, stored) = api
        .call(
            reqwest::Method::POST,
            &format!("/projects/{project}/predictions/query"),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        stored["results"].as_array().unwrap().len(),
        0,
        "the added prediction leaves the list"
    );

    // A second iteration, and the two side by side.
    train(&browser).await;
    tab(&browser, "performance").await;
    browser.wait_for("#precision", WAIT).await;
    let compare = browser.one("#compare option:nth-child(2)").await;
    browser.click(&compare).await;
    browser
        .wait_for("#side-by-side #other-precision", WAIT)
        .await;
    let iterations = api.get(&format!("/projects/{project}/iterations")).await;
    let older = iterations[1]["id"].as_str().unwrap();
    let other = api
        .get(&format!(
            "/projects/{project}/iterations/{older}/performance?threshold=0.5"
        ))
        .await;
    assert_eq!(
        data_number(&browser, "#other-precision").await,
        other["precision"].as_f64().unwrap()
    );
    shot(&browser, "performance-compare").await;

    // Japanese, then phone width.
    let ja = browser.one("#lang option[value=\"ja\"]").await;
    browser.click(&ja).await;
    let photos_tab = browser.one("#tab-photos").await;
    wait_attr(&browser, "html", "lang", |l| l == "ja", WAIT).await;
    assert_eq!(browser.text(&photos_tab).await, "写真");
    browser.wait_for("#precision", WAIT).await;
    shot(&browser, "performance-ja").await;
    let en = browser.one("#lang option[value=\"en\"]").await;
    browser.click(&en).await;
    wait_attr(&browser, "html", "lang", |l| l == "en", WAIT).await;
    browser.viewport(390, 844).await;
    tab(&browser, "photos").await;
    browser.wait_for(".cell .thumb", WAIT).await;
    let overflow = browser
        .script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
            json!([]),
        )
        .await;
    assert_eq!(
        overflow.as_i64(),
        Some(0),
        "nothing wider than a phone's screen"
    );
    shot(&browser, "photos-phone").await;
    browser.viewport(1280, 800).await;

    // The projects list, then delete the project (with confirmation).
    let projects = browser.one("#crumbs a").await;
    browser.click(&projects).await;
    let row = format!("tr[data-project=\"{project}\"]");
    browser
        .wait_for(&format!("{row} td[data-value]"), WAIT)
        .await;
    shot(&browser, "projects").await;
    let delete = browser.one(&format!("{row} button.danger")).await;
    browser.click(&delete).await;
    let yes = browser.one("#confirm-yes").await;
    browser.click(&yes).await;
    browser.wait_for("#projects-status.ok", WAIT).await;
    assert!(browser.find_all(&row).await.is_empty());
    let (status, gone) = api
        .call(reqwest::Method::GET, &format!("/projects/{project}"), None)
        .await;
    assert_eq!(
        (status, gone["code"].as_str()),
        (404, Some("NotFoundProject"))
    );

    let console = browser.console().await;
    let errors: Vec<_> = console
        .iter()
        .filter(|(level, _)| level == "SEVERE")
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    browser.quit().await;
    server.stop().await;
    site_task.abort();
}

/// The connection is lost in the middle of an upload: the page tries each batch again for
/// a while, then lists exactly the files that did not arrive; once the server is back,
/// one click sends those, and every file is in the project once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn upload_survives_a_lost_connection() {
    if !available() {
        return;
    }
    let Some(shared) = shared() else { return };
    let root = tempfile::tempdir().unwrap();
    let root = root.path().join("root");
    let files = tempfile::tempdir().unwrap();
    // Enough batches that the upload is still running when the server goes.
    let dir = files.path().join("photos");
    let mut total = 0;
    for person in ["George_W_Bush", "Colin_Powell"] {
        let d = dir.join(person);
        std::fs::create_dir_all(&d).unwrap();
        for entry in std::fs::read_dir(shared.join("datasets/lfw5").join(person)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), d.join(entry.file_name())).unwrap();
            total += 1;
        }
    }
    let mut server = start_root(&root, |_| {}).await;
    let addr = server.addr;
    let api = Api::new(&server);
    let browser = Browser::start(1280, 800).await;
    sign_in(&browser, &server).await;
    let (_, project) = api
        .call(reqwest::Method::POST, "/projects?name=lost", None)
        .await;
    let project = project["id"].as_str().unwrap().to_string();
    browser
        .open(&server.url(&format!("/#/p/{project}/photos")))
        .await;
    let folder = browser.one("#folder-input").await;
    browser.send_keys(&folder, &dir.display().to_string()).await;
    // Stop the server as soon as the first batch has arrived.
    wait_attr(
        &browser,
        "#upload-progress",
        "value",
        |v| v.parse::<u32>().unwrap_or(0) >= 64,
        WAIT,
    )
    .await;
    server.signal_stop().await.unwrap().unwrap();
    let report = browser.one("#upload-report").await;
    // Every try fails; after the last, the files that did not arrive are listed.
    wait_attr(
        &browser,
        "#upload-report",
        "data-state",
        |s| s == "done",
        Duration::from_secs(120),
    )
    .await;
    let lost: usize = browser
        .attribute(&report, "data-lost")
        .await
        .unwrap()
        .parse()
        .unwrap();
    let ok: usize = browser
        .attribute(&report, "data-ok")
        .await
        .unwrap()
        .parse()
        .unwrap();
    assert!(lost > 0, "the connection was lost before the end");
    assert_eq!(
        ok + lost,
        total,
        "every file either arrived or is listed as not arrived"
    );
    let lost_rows = browser
        .find_all("#upload-files tr[data-state=\"lost\"]")
        .await;
    assert_eq!(lost_rows.len(), lost);

    // The server comes back (same address, same root): what arrived is there, exactly.
    server = start_root(&root, |c| c.bind = addr).await;
    let arrived = api.get(&format!("/projects/{project}/images/count")).await;
    assert_eq!(
        arrived.as_u64().unwrap() as usize,
        ok,
        "the page's count of arrived files is the server's"
    );
    let retry = browser.one("#upload-retry").await;
    browser.click(&retry).await;
    wait_attr(&browser, "#upload-report", "data-lost", |s| s == "0", WAIT).await;
    wait_attr(
        &browser,
        "#upload-report",
        "data-state",
        |s| s == "done",
        WAIT,
    )
    .await;
    let count = api.get(&format!("/projects/{project}/images/count")).await;
    assert_eq!(count.as_u64().unwrap() as usize, total, "every photo once");
    browser.quit().await;
    server.stop().await;
}
