//! Headless Chromium opens the Studio of a `kao serve --work` server (no Training API: the
//! Quick Test of what is published), uploads an unseen LFW photo and reads the Tags /
//! Probability table, driven through chromedriver's W3C WebDriver HTTP API.
//! Screenshots land in `$CARGO_TARGET_TMPDIR/kao-serve-browser/` (`quicktest-empty.png`
//! before the upload, `quicktest.png` after).

mod common;

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use common::data::lfw;
use common::server::{start, KEY};
use kao_harness::trained::{trained, PUBLISHED};
use kao_webdriver::{available, Browser};

/// What the page shows before a photo is chosen: images with an area, and the visible
/// controls that choose a file (the file input is visually hidden but focusable; its
/// label is the control).
const BEFORE_UPLOAD: &str = r#"
const shown = (e) => {
  const r = e.getBoundingClientRect();
  return r.width > 2 && r.height > 2 && getComputedStyle(e).visibility !== "hidden";
};
return {
  images: [...document.images].filter(shown).length,
  inputs: [...document.querySelectorAll("input[type=file]")].filter(shown).length,
  labels: [...document.querySelectorAll("label[for=file]")].filter(shown).length,
};
"#;
/// Face boxes that stick out of the photo they are drawn over (the layer must cover the
/// photo exactly for the boxes' percentages to land on the faces).
const BOXES_OUTSIDE_PHOTO: &str = r##"
const p = document.getElementById("photo").getBoundingClientRect();
return [...document.querySelectorAll("#boxes .box")]
  .map((b) => b.getBoundingClientRect())
  .filter((r) => r.left < p.left - 1 || r.top < p.top - 1 || r.right > p.right + 1 || r.bottom > p.bottom + 1)
  .map((r) => [r.left, r.top, r.right, r.bottom, p.left, p.top, p.right, p.bottom]);
"##;

#[tokio::test(flavor = "multi_thread")]
async fn quick_test_page_shows_the_top_tag_of_an_uploaded_photo() {
    if !available() {
        return;
    }
    let Some(work) = trained() else { return };
    let server = start(work, |_| {}).await;
    let mut browser = Browser::start(1280, 900).await;
    browser.fail_on("#status.error");
    browser.open(&server.url("/")).await;
    // The page has read the published names once the select has an option.
    browser
        .wait_for("#published option", Duration::from_secs(60))
        .await;
    // Before a photo is chosen: no image on show (no broken-image placeholder), and one
    // visible control for choosing the file.
    let before = browser.script(BEFORE_UPLOAD, json!([])).await;
    let empty_png = browser.screenshot().await;
    let key = browser.one("#key").await;
    browser.send_keys(&key, KEY).await;
    let photo = lfw("Colin_Powell", 30);
    let input = browser.one("#file").await;
    browser
        .send_keys(&input, &photo.display().to_string())
        .await;

    let rows = browser
        .wait_for("#results:not([hidden]) tbody tr", Duration::from_secs(120))
        .await;
    let first = browser.text(&rows[0]).await;
    let boxes = browser.find_all("#boxes .box").await;
    let outside = browser.script(BOXES_OUTSIDE_PHOTO, json!([])).await;
    let url = browser.one("#url").await;
    let shown_url = browser.text(&url).await;
    let console = browser.console().await;

    let png = browser.screenshot().await;
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kao-serve-browser");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("quicktest.png"), &png).unwrap();
    std::fs::write(out.join("quicktest-empty.png"), &empty_png).unwrap();
    eprintln!("screenshots: {}", out.display());
    browser.quit().await;
    server.stop().await;

    assert_eq!(
        before["images"], 0,
        "an image shows before upload: {before}"
    );
    assert_eq!(
        (before["inputs"].as_u64(), before["labels"].as_u64()),
        (Some(0), Some(1)),
        "{before}"
    );
    assert!(first.starts_with("Colin_Powell"), "top row: {first:?}");
    assert!(first.ends_with('%'), "top row: {first:?}");
    assert!(!boxes.is_empty(), "no face box drawn");
    assert_eq!(outside, json!([]), "boxes outside the photo");
    assert!(
        shown_url.ends_with(&format!("/classify/iterations/{PUBLISHED}/image")),
        "{shown_url}"
    );
    let errors: Vec<_> = console.iter().filter(|(l, _)| l == "SEVERE").collect();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    assert!(png.starts_with(b"\x89PNG"));
}
