//! End-to-end tests of `kao-crawl` against a local fixture server.

mod fixture;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use fixture::{jpeg, png, Server};
use kao_crawl::{
    crawl, no_progress, CrawlError, CrawlEvent, CrawlOptions, MinSize, Outcome, RawRecord, Source,
    TagJob,
};
use kao_dataset::{read_manifest, WorkDir};

fn options(server: &Server) -> CrawlOptions {
    CrawlOptions {
        concurrency: 8,
        per_host: 8,
        per_host_delay: Duration::ZERO,
        connect_timeout: Duration::from_secs(2),
        first_byte_timeout: Duration::from_secs(2),
        total_timeout: Duration::from_secs(2),
        idle_timeout: Duration::from_secs(2),
        retries: 2,
        backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        max_bytes: 1_000_000,
        min_size: MinSize {
            width: 32,
            height: 32,
        },
        bing_endpoint: server.url("/images/search"),
        ..CrawlOptions::default()
    }
}

fn records(work: &WorkDir) -> Vec<RawRecord> {
    read_manifest::<RawRecord>(&work.raw_manifest())
        .unwrap()
        .records
}

/// The last record of each image source, by URL path.
fn by_path(records: &[RawRecord], server: &Server) -> BTreeMap<String, RawRecord> {
    records
        .iter()
        .filter(|r| !r.page)
        .map(|r| {
            let key = r
                .source
                .strip_prefix(&server.base)
                .unwrap_or(&r.source)
                .to_string();
            (key, r.clone())
        })
        .collect()
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn reason(r: &RawRecord) -> &str {
    r.reason.as_deref().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bing_results_pages() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let work = WorkDir::new(dir.path());
    let jobs = [TagJob::new(
        "bush",
        vec![Source::Bing {
            query: "george w bush".into(),
            max: Some(50),
        }],
    )];
    let summary = crawl(&work, &jobs, &options(&server), &no_progress)
        .await
        .unwrap();
    let recs = by_path(&records(&work), &server);
    let outcome = |p: &str| recs.get(p).map(|r| (r.outcome, reason(r).to_string()));

    for p in [
        "/img/a.jpg",
        "/img/b.png",
        "/img/c.webp",
        "/img/d.jpg",
        "/img/f.gif",
    ] {
        assert_eq!(outcome(p), Some((Outcome::Kept, String::new())), "{p}");
    }
    let a = server.url("/img/a.jpg");
    let d = server.url("/img/d.jpg");
    assert_eq!(
        outcome("/img/a-copy.png"),
        Some((Outcome::Duplicate, format!("duplicate_of {a}")))
    );
    assert_eq!(
        outcome("/img/e.jpg"),
        Some((Outcome::Duplicate, format!("duplicate_of {d}")))
    );
    assert_eq!(recs["/img/e.jpg"].duplicate_of.as_deref(), Some(d.as_str()));
    assert_eq!(recs["/img/e.jpg"].file, recs["/img/d.jpg"].file);
    assert_eq!(
        outcome("/img/missing.jpg"),
        Some((Outcome::Rejected, "http 404".into()))
    );
    assert_eq!(
        outcome("/img/fake.jpg"),
        Some((Outcome::Rejected, "not_an_image".into()))
    );
    assert_eq!(
        outcome("/img/small.jpg"),
        Some((Outcome::Rejected, "too_small".into()))
    );
    assert_eq!(recs.len(), 10);

    // Files named by content id and sniffed format.
    let kept_b = &recs["/img/b.png"];
    let id = kept_b.content_id.as_deref().unwrap();
    assert_eq!(
        kept_b.file.as_deref(),
        Some(format!("bush/{}.png", &id[..16]).as_str())
    );
    assert_eq!(recs["/img/c.webp"].format, Some(kao_image::Format::Webp));
    assert_eq!(files(&work.raw_tag("bush")).len(), 5);
    assert!(recs["/img/a.jpg"]
        .referrer
        .as_deref()
        .unwrap()
        .contains("first=1"));

    // Each image fetched once; paging stopped at the first page with nothing new.
    assert_eq!(server.hits_of("/img/a.jpg"), 1);
    assert_eq!(server.hits(|p| p.contains("first=106")).len(), 1);
    assert!(server.hits(|p| p.contains("first=141")).is_empty());

    let s = summary.tag("bush").unwrap();
    assert_eq!(
        (s.kept, s.duplicates, s.rejected_total(), s.pages),
        (5, 2, 3, 4)
    );
    assert_eq!(s.rejected["http 404"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bing_stops_at_max() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let work = WorkDir::new(dir.path());
    let jobs = [TagJob::new(
        "bush",
        vec![Source::Bing {
            query: "bush".into(),
            max: Some(2),
        }],
    )];
    crawl(&work, &jobs, &options(&server), &no_progress)
        .await
        .unwrap();
    let recs = records(&work);
    assert_eq!(recs.len(), 2, "{recs:#?}");
    assert!(recs.iter().all(|r| r.outcome == Outcome::Kept));
    assert!(server.hits(|p| p.contains("first=36")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn robots_can_forbid_the_search_engine() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let work = WorkDir::new(dir.path());
    let jobs = [TagJob::new(
        "bush",
        vec![Source::Bing {
            query: "bush".into(),
            max: None,
        }],
    )];
    let opts = CrawlOptions {
        user_agent: "evilbot/1.0".into(),
        ..options(&server)
    };
    let summary = crawl(&work, &jobs, &opts, &no_progress).await.unwrap();
    assert_eq!(summary.tags[0].kept, 0);
    let recs = records(&work);
    assert_eq!(recs.len(), 1);
    assert!(recs[0].page);
    assert_eq!(reason(&recs[0]), "robots");
    assert!(server.hits(|p| p.starts_with("/images/")).is_empty());
    // The flag for hosts you own.
    let opts = CrawlOptions {
        obey_robots: false,
        ..opts
    };
    let summary = crawl(&work, &jobs, &opts, &no_progress).await.unwrap();
    assert_eq!(summary.tags[0].kept, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_crawl() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let work = WorkDir::new(dir.path());
    let site = |depth| {
        [TagJob::new(
            "team",
            vec![Source::Site {
                urls: vec![server.url("/site/index.html")],
                depth,
                hosts: vec![],
                max: None,
            }],
        )]
    };
    // The README's site-crawl example, against the local site: every image's record is
    // announced as it settles.
    let settled = std::sync::Mutex::new(Vec::new());
    let progress = |e: &CrawlEvent<'_>| {
        if let CrawlEvent::Settled { record, .. } = e {
            settled.lock().unwrap().push(record.source.clone());
        }
    };
    let summary = crawl(&work, &site(1), &options(&server), &progress)
        .await
        .unwrap();
    let mut announced = settled.into_inner().unwrap();
    let mut recorded: Vec<String> = records(&work)
        .into_iter()
        .filter(|r| !r.page)
        .map(|r| r.source)
        .collect();
    announced.sort();
    recorded.sort();
    assert_eq!(announced, recorded);
    let recs = by_path(&records(&work), &server);
    let kept: Vec<&str> = recs
        .iter()
        .filter(|(_, r)| r.outcome == Outcome::Kept)
        .map(|(p, _)| p.as_str())
        .collect();
    assert_eq!(
        kept,
        [
            "/site/img/lazy1.png",
            "/site/img/lazy2.webp",
            "/site/img/linked.jpg",
            "/site/img/og.jpg",
            "/site/img/p2.jpg",
            "/site/img/s1-large.jpg",
        ]
    );
    assert_eq!(reason(&recs["/site/private/secret.jpg"]), "robots");
    assert_eq!(server.hits_of("/site/private/secret.jpg"), 0);
    assert_eq!(
        server.hits_of("/site/img/s1-small.jpg"),
        0,
        "srcset's largest only"
    );
    assert_eq!(
        server.hits_of("/site/gallery/page3.html"),
        0,
        "beyond depth 1"
    );
    assert_eq!(server.hits_of("/robots.txt"), 1);
    // The disallowed page is recorded, never fetched.
    let all = records(&work);
    let pages: Vec<&RawRecord> = all.iter().filter(|r| r.page).collect();
    assert_eq!(pages.len(), 1);
    assert!(pages[0].source.ends_with("/site/private/hidden.html"));
    assert_eq!(reason(pages[0]), "robots");
    assert_eq!(server.hits_of("/site/private/hidden.html"), 0);
    assert_eq!(server.hits_of("/site/img/hidden.jpg"), 0);
    assert_eq!(summary.tags[0].pages, 2);

    // Deeper: only the new image is fetched; the others are skipped.
    let before = server.hits(|p| p.starts_with("/site/img/")).len();
    let summary = crawl(&work, &site(2), &options(&server), &no_progress)
        .await
        .unwrap();
    let s = &summary.tags[0];
    assert_eq!((s.kept, s.skipped, s.total_kept), (1, 7, 7));
    assert_eq!(
        server.hits(|p| p.starts_with("/site/img/")).len(),
        before + 1
    );
    assert_eq!(server.hits_of("/site/img/p3.jpg"), 1);
    // The page rejection is not recorded twice.
    assert_eq!(records(&work).iter().filter(|r| r.page).count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_endpoints() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let work = WorkDir::new(dir.path());
    let list = dir.path().join("urls.txt");
    let paths = [
        "/hostile/drip",
        "/hostile/loop",
        "/hostile/huge",
        "/hostile/huge-chunked",
        "/hostile/flaky",
        "/hostile/busy",
        "/hostile/gone",
        "/hostile/notfound.jpg",
        "/hostile/ok.jpg",
    ];
    // A port nobody listens on: connection refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let refused = format!("http://{}/x.jpg", closed.local_addr().unwrap());
    drop(closed);
    let mut text = format!("# hostile endpoints\n\nnot a url\nftp://x/y.jpg\n{refused}\n");
    for p in paths {
        text.push_str(&server.url(p));
        text.push('\n');
    }
    std::fs::write(&list, text).unwrap();
    let jobs = [TagJob::new("hostile", vec![Source::Urls { file: list }])];
    let summary = crawl(&work, &jobs, &options(&server), &no_progress)
        .await
        .unwrap();
    let recs = by_path(&records(&work), &server);
    let got = |p: &str| (recs[p].outcome, reason(&recs[p]).to_string());
    let rejected = |r: &str| (Outcome::Rejected, r.to_string());
    let kept = (Outcome::Kept, String::new());

    assert_eq!(got("/hostile/drip"), rejected("timeout"));
    assert_eq!(got("/hostile/loop"), rejected("too_many_redirects"));
    assert_eq!(got("/hostile/huge"), rejected("too_large"));
    assert_eq!(got("/hostile/huge-chunked"), rejected("too_large"));
    assert_eq!(got("/hostile/flaky"), kept);
    assert_eq!(got("/hostile/busy"), kept);
    assert_eq!(got("/hostile/gone"), rejected("http 503"));
    assert_eq!(got("/hostile/notfound.jpg"), rejected("http 404"));
    assert_eq!(got("/hostile/ok.jpg"), kept);
    assert_eq!(got("not a url"), rejected("invalid_url"));
    assert_eq!(got("ftp://x/y.jpg"), rejected("invalid_url"));
    assert_eq!(got(&refused), rejected("connection"));
    assert!(recs[&refused]
        .detail
        .as_deref()
        .unwrap()
        .contains("after 2 retries"));

    // The streamed 2 GB body was cut at the cap: the server produced only what fits in
    // the socket buffers beyond the 1 MB cap.
    let sent = server
        .fixture
        .huge_sent
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(sent < 64_000_000, "server sent {sent} bytes");
    // Retried: 500 then 200, 429 then (after Retry-After: 1) 200; 503 until the retries
    // ran out; never a 404.
    assert_eq!(server.hits_of("/hostile/flaky"), 2);
    let busy = server.hits(|p| p == "/hostile/busy");
    assert_eq!(busy.len(), 2);
    assert!(
        busy[1] - busy[0] >= Duration::from_millis(950),
        "{:?}",
        busy[1] - busy[0]
    );
    assert_eq!(server.hits_of("/hostile/gone"), 3);
    assert_eq!(server.hits_of("/hostile/notfound.jpg"), 1);
    // The drip was abandoned at the 2 s total timeout, not read for its whole minute.
    let dripped = server
        .fixture
        .drip_sent
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(dripped < 30, "{dripped} bytes dripped");
    assert_eq!(summary.tags[0].kept, 3);

    // A rerun retries only the transient failures (the 503), nothing else.
    let before = server.hits(|_| true).len();
    let summary = crawl(&work, &jobs, &options(&server), &no_progress)
        .await
        .unwrap();
    assert_eq!(
        server.hits(|_| true).len(),
        before + 3 + 1,
        "503 ×3 and the drip"
    );
    assert_eq!(summary.tags[0].skipped, 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_host_limit() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let work = WorkDir::new(dir.path());
    let list = dir.path().join("urls.txt");
    let text: String = (0..6)
        .map(|i| format!("{}\n", server.url(&format!("/slow/{i}.jpg"))))
        .collect();
    std::fs::write(&list, text).unwrap();
    let jobs = [TagJob::new("slow", vec![Source::Urls { file: list }])];
    let opts = CrawlOptions {
        per_host: 2,
        ..options(&server)
    };
    let summary = crawl(&work, &jobs, &opts, &no_progress).await.unwrap();
    assert_eq!(summary.tags[0].kept, 6);
    let max = server
        .fixture
        .max_in_flight
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!(max <= 2, "{max} requests at once to one host");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rerun_cleans_up_and_does_not_refetch() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let work = WorkDir::new(dir.path());
    let list = dir.path().join("urls.txt");
    std::fs::write(
        &list,
        format!(
            "{}\n{}\n",
            server.url("/img/a.jpg"),
            server.url("/img/b.png")
        ),
    )
    .unwrap();
    let jobs = [TagJob::new("t", vec![Source::Urls { file: list }])];
    crawl(&work, &jobs, &options(&server), &no_progress)
        .await
        .unwrap();
    let kept = files(&work.raw_tag("t"));
    assert_eq!(kept.len(), 2);
    // What a killed run can leave: a temp file, and an image saved but not recorded.
    std::fs::write(work.raw_tag("t").join(".0123.jpg.77.0.tmp"), b"half").unwrap();
    std::fs::write(work.raw_tag("t").join("0123456789abcdef.jpg"), jpeg(9)).unwrap();
    std::fs::write(work.raw_tag("t").join("mine.jpg"), jpeg(9)).unwrap();
    // And a kept file deleted by hand is fetched again.
    let b = by_path(&records(&work), &server)["/img/b.png"]
        .file
        .clone()
        .unwrap();
    std::fs::remove_file(work.raw().join(&b)).unwrap();
    let summary = crawl(&work, &jobs, &options(&server), &no_progress)
        .await
        .unwrap();
    let mut expected = kept.clone();
    expected.push("mine.jpg".into());
    expected.sort();
    assert_eq!(files(&work.raw_tag("t")), expected);
    assert_eq!(server.hits_of("/img/a.jpg"), 1);
    assert_eq!(server.hits_of("/img/b.png"), 2);
    assert_eq!((summary.tags[0].kept, summary.tags[0].skipped), (1, 1));
}

fn tgz(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (name, bytes) in members {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, name, bytes.as_slice())
            .unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

fn zip(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    w.add_directory("lfw/", options).unwrap();
    for (name, bytes) in members {
        w.start_file(*name, options).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn lfw_members() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("lfw/George_W_Bush/George_W_Bush_0001.jpg", jpeg(201)),
        ("lfw/George_W_Bush/George_W_Bush_0002.jpg", jpeg(202)),
        ("lfw/George_W_Bush/George_W_Bush_0003.jpg", jpeg(201)), // the same photo again
        ("lfw/George_W_Bush/notes.txt", b"not a photo".to_vec()),
        ("lfw/George_W_Bush/extra/George_W_Bush_0004.jpg", jpeg(204)),
        ("lfw/Colin_Powell/Colin_Powell_0001.jpg", jpeg(205)),
        ("lfw/Colin_Powell/Colin_Powell_0002.png", png(206)),
    ]
}

fn sha256(bytes: &[u8]) -> String {
    kao_image::content_id(bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archives_tgz_and_zip_with_checksums() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let work = WorkDir::new(dir.path().join("work"));
    let members = lfw_members();
    for (name, bytes) in [("lfw.tgz", tgz(&members)), ("lfw.zip", zip(&members))] {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let tag = name.replace('.', "_");
        let jobs = [TagJob::new(
            &tag,
            vec![Source::Archive {
                url: path.display().to_string(),
                glob: Some("lfw/George_W_Bush/*.jpg".into()),
                sha256: Some(sha256(&bytes).to_uppercase()),
            }],
        )];
        let summary = crawl(&work, &jobs, &options(&server), &no_progress)
            .await
            .unwrap();
        let s = &summary.tags[0];
        assert_eq!(
            (s.kept, s.duplicates, s.rejected_total()),
            (2, 1, 0),
            "{name}"
        );
        let recs: Vec<RawRecord> = records(&work)
            .into_iter()
            .filter(|r| r.tag == tag)
            .collect();
        let prefix = format!(
            "{}#lfw/George_W_Bush/",
            std::path::absolute(&path).unwrap().display()
        );
        assert!(
            recs.iter().all(|r| r.source.starts_with(&prefix)),
            "{recs:#?}"
        );
        assert_eq!(files(&work.raw_tag(&tag)).len(), 2);

        // All members, no glob.
        let all = [TagJob::new(
            format!("{tag}_all"),
            vec![Source::Archive {
                url: path.display().to_string(),
                glob: None,
                sha256: None,
            }],
        )];
        let s = crawl(&work, &all, &options(&server), &no_progress)
            .await
            .unwrap();
        assert_eq!((s.tags[0].kept, s.tags[0].rejected["not_an_image"]), (5, 1));

        // A wrong checksum stops before anything is extracted.
        let bad = [TagJob::new(
            format!("{tag}_bad"),
            vec![Source::Archive {
                url: path.display().to_string(),
                glob: None,
                sha256: Some("00".repeat(32)),
            }],
        )];
        let err = crawl(&work, &bad, &options(&server), &no_progress)
            .await
            .unwrap_err();
        match &err {
            CrawlError::Checksum {
                expected, actual, ..
            } => {
                assert_eq!(expected, &"00".repeat(32));
                assert_eq!(actual, &sha256(&bytes));
            }
            other => panic!("{other}"),
        }
        assert!(err.to_string().contains("checksum mismatch"), "{err}");
        assert!(files(&work.raw_tag(&format!("{tag}_bad"))).is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_archive_is_downloaded_once_and_shared() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let work = WorkDir::new(dir.path());
    let bytes = tgz(&lfw_members());
    let sum = sha256(&bytes);
    // Like figshare: no file extension; the type is sniffed.
    server.serve("/files/5976018", bytes, "application/octet-stream");
    let source = |glob: &str| Source::Archive {
        url: server.url("/files/5976018"),
        glob: Some(glob.into()),
        sha256: Some(sum.clone()),
    };
    let jobs = [
        TagJob::new("George_W_Bush", vec![source("lfw/George_W_Bush/*.jpg")]),
        TagJob::new("Colin_Powell", vec![source("lfw/Colin_Powell/*")]),
    ];
    let summary = crawl(&work, &jobs, &options(&server), &no_progress)
        .await
        .unwrap();
    assert_eq!(summary.tags[0].kept, 2);
    assert_eq!(summary.tags[1].kept, 2);
    assert_eq!(server.hits_of("/files/5976018"), 1);
    let downloads = work.downloads();
    // The verified download, and the lock collect shards take around downloads.
    assert_eq!(
        files(&downloads),
        [".lock".to_string(), format!("{sum}.tgz")]
    );
    // A later run reuses the verified download and skips settled members.
    let summary = crawl(&work, &jobs, &options(&server), &no_progress)
        .await
        .unwrap();
    assert_eq!(server.hits_of("/files/5976018"), 1);
    assert_eq!(summary.tags[0].skipped, 3);

    // A download that does not match is an error and leaves nothing behind.
    let bad = [TagJob::new(
        "bad",
        vec![Source::Archive {
            url: server.url("/files/5976018"),
            glob: None,
            sha256: Some("ab".repeat(32)),
        }],
    )];
    let err = crawl(&work, &bad, &options(&server), &no_progress)
        .await
        .unwrap_err();
    assert!(matches!(err, CrawlError::Checksum { .. }), "{err}");
    assert_eq!(
        files(&downloads),
        [".lock".to_string(), format!("{sum}.tgz")]
    );
}

#[test]
fn sources_deserialise_from_pipeline_tables() {
    let job: TagJob = serde_json::from_str(
        r#"{"tag": "George_W_Bush", "sources": [
            {"kind": "bing", "query": "George W Bush", "max": 150},
            {"kind": "site", "urls": ["https://example.org/"], "depth": 1},
            {"kind": "urls", "file": "bush.txt"},
            {"kind": "dir", "path": "photos/bush"},
            {"kind": "archive", "url": "https://ndownloader.figshare.com/files/5976018",
             "sha256": "055f7d9c", "glob": "lfw/George_W_Bush/*.jpg"}
        ]}"#,
    )
    .unwrap();
    assert_eq!(job.sources.len(), 5);
    assert_eq!(
        job.sources[1],
        Source::Site {
            urls: vec!["https://example.org/".into()],
            depth: 1,
            hosts: vec![],
            max: None
        }
    );
    let typo = serde_json::from_str::<Source>(r#"{"kind": "bing", "qurey": "x"}"#);
    assert!(typo.is_err());
}

#[test]
fn crawl_future_is_send() {
    // So a server or pipeline can spawn a crawl on a multi-threaded runtime.
    fn assert_send<T: Send>(_: T) {}
    let work = WorkDir::new("unused");
    let opts = CrawlOptions::default();
    assert_send(crawl(&work, &[], &opts, &no_progress));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn address_filter_keeps_the_crawl_off_refused_networks() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let work = WorkDir::new(dir.path());
    let list = dir.path().join("urls.txt");
    // The fixture listens on 127.0.0.1: once as an IP literal, once by a name that
    // resolves to it.
    let by_name = server.url("/img/b.png").replace("127.0.0.1", "localhost");
    std::fs::write(&list, format!("{}\n{by_name}\n", server.url("/img/a.jpg"))).unwrap();
    let jobs = [TagJob::new("t", vec![Source::Urls { file: list }])];
    let opts = CrawlOptions {
        address_filter: Some(kao_crawl::AddressFilter::new(|ip| !ip.is_loopback())),
        ..options(&server)
    };
    let summary = crawl(&work, &jobs, &opts, &no_progress).await.unwrap();
    assert_eq!(summary.tags[0].kept, 0);
    assert_eq!(
        summary.tags[0].rejected.get("internal_address"),
        Some(&2),
        "{summary:?}"
    );
    assert_eq!(
        server.hits_of("/img/a.jpg") + server.hits_of("/img/b.png"),
        0
    );
    // The same list with a filter that allows loopback is fetched.
    let opts = CrawlOptions {
        address_filter: Some(kao_crawl::AddressFilter::new(|_| true)),
        ..options(&server)
    };
    let work2 = WorkDir::new(dir.path().join("again"));
    let summary = crawl(&work2, &jobs, &opts, &no_progress).await.unwrap();
    assert_eq!(summary.tags[0].kept, 2, "{summary:?}");
}
