//! Headless Chromium opens the Studio of a `kao serve --work` server (no Training API: the
//! Quick Test of what is published), uploads an unseen LFW photo and reads the Tags /
//! Probability table, driven through chromedriver's W3C WebDriver HTTP API.
//! A screenshot lands in `$CARGO_TARGET_TMPDIR/kao-serve-browser/quicktest.png`.

mod common;

use std::path::Path;
use std::time::Duration;

use common::data::lfw;
use common::server::{start, KEY};
use common::trained::trained;
use kao_webdriver::{available, Browser};

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
    let url = browser.one("#url").await;
    let shown_url = browser.text(&url).await;
    let console = browser.console().await;

    let png = browser.screenshot().await;
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kao-serve-browser");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("quicktest.png"), &png).unwrap();
    eprintln!("screenshot: {}", out.join("quicktest.png").display());
    browser.quit().await;
    server.stop().await;

    assert!(first.starts_with("Colin_Powell"), "top row: {first:?}");
    assert!(first.ends_with('%'), "top row: {first:?}");
    assert!(!boxes.is_empty(), "no face box drawn");
    assert!(
        shown_url.ends_with("/classify/iterations/test/image"),
        "{shown_url}"
    );
    let errors: Vec<_> = console.iter().filter(|(l, _)| l == "SEVERE").collect();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    assert!(png.starts_with(b"\x89PNG"));
}
