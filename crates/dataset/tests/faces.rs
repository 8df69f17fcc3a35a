use kao_dataset::{
    current_chips, BoxF, ChipRecord, FaceRecord, RejectReason, RejectRecord, SourceRef,
};

/// Lines as the crop stage wrote them before reject reasons were typed.
const OLD_LINES: &str = r#"{"kind":"reject","source":{"tag":"bob","rel":"bob/a.jpg","path":"/photos/bob/a.jpg","content_id":"","phash":null},"reason":"unreadable: not an image (text content)","settings":"s1"}
{"kind":"reject","source":{"tag":"bob","rel":"bob/b.jpg","path":"/photos/bob/b.jpg","content_id":"ab","phash":null},"reason":"no_face","settings":"s1"}
{"kind":"reject","source":{"tag":"bob","rel":"bob/c.jpg","path":"/photos/bob/c.jpg","content_id":"cd","phash":null},"reason":"face_too_small","settings":"s1"}
{"kind":"reject","source":{"tag":"bob","rel":"bob/d.jpg","path":"/photos/bob/d.jpg","content_id":"ef","phash":null},"reason":"low_score","settings":"s1"}
{"kind":"reject","source":{"tag":"bob","rel":"bob/e.jpg","path":"/photos/bob/e.jpg","content_id":"01","phash":null},"reason":"ambiguous","settings":"s1"}
"#;

#[test]
fn old_reject_lines_parse_into_typed_reasons() {
    let reasons: Vec<RejectReason> = OLD_LINES
        .lines()
        .map(|l| match serde_json::from_str::<FaceRecord>(l).unwrap() {
            FaceRecord::Reject(r) => {
                assert_eq!(r.detail, None);
                r.reason
            }
            FaceRecord::Chip(_) => panic!("{l}"),
        })
        .collect();
    assert_eq!(
        reasons,
        vec![
            RejectReason::Unreadable("not an image (text content)".into()),
            RejectReason::NoFace,
            RejectReason::FaceTooSmall,
            RejectReason::LowScore,
            RejectReason::Ambiguous,
        ]
    );
    let kinds: Vec<&str> = reasons.iter().map(RejectReason::kind).collect();
    assert_eq!(
        kinds,
        [
            "unreadable",
            "no_face",
            "face_too_small",
            "low_score",
            "ambiguous"
        ]
    );
}

#[test]
fn reject_reasons_serialise_to_the_old_strings() {
    for line in OLD_LINES.lines() {
        let r: FaceRecord = serde_json::from_str(line).unwrap();
        assert_eq!(serde_json::to_string(&r).unwrap(), line);
    }
    let r = FaceRecord::Reject(RejectRecord {
        source: source("bob/f.jpg"),
        reason: RejectReason::FaceTooSmall,
        detail: Some("largest face 31 px, the minimum is 40 px".into()),
        settings: "s2".into(),
    });
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["reason"], "face_too_small");
    assert_eq!(json["detail"], "largest face 31 px, the minimum is 40 px");
    assert_eq!(
        serde_json::from_value::<FaceRecord>(json).unwrap(),
        r,
        "round trip"
    );
}

#[test]
fn an_unknown_reason_is_an_error_naming_it() {
    let line = OLD_LINES
        .lines()
        .nth(1)
        .unwrap()
        .replace("no_face", "blurry");
    let err = serde_json::from_str::<FaceRecord>(&line).unwrap_err();
    assert!(err.to_string().contains("\"blurry\""), "{err}");
}

fn source(rel: &str) -> SourceRef {
    SourceRef {
        tag: "bob".into(),
        rel: rel.into(),
        path: format!("/photos/{rel}"),
        content_id: "00".into(),
        phash: None,
    }
}

fn chip(name: &str, settings: &str, score: f32) -> FaceRecord {
    FaceRecord::Chip(ChipRecord {
        source: source("bob/a.jpg"),
        chip: name.into(),
        face_index: 0,
        bbox: BoxF {
            x: 0.0,
            y: 0.0,
            width: 10.0,
            height: 10.0,
        },
        score,
        landmarks: Vec::new(),
        transform: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
        size: 150,
        settings: settings.into(),
    })
}

#[test]
fn current_chips_keeps_each_chips_latest_record_with_its_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("bob")).unwrap();
    for f in ["bob/1.png", "bob/2.png"] {
        std::fs::write(dir.path().join(f), b"png").unwrap();
    }
    let records = vec![
        chip("bob/1.png", "old", 0.5),
        chip("bob/2.png", "old", 0.6),
        chip("bob/3.png", "new", 0.7), // its file is gone
        chip("bob/1.png", "new", 0.9), // recropped: this record describes the file
    ];
    let summary = |settings: Option<&str>| -> Vec<(String, String)> {
        current_chips(records.clone(), settings, dir.path())
            .into_iter()
            .map(|c| (c.chip, c.settings))
            .collect()
    };
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        summary(None),
        vec![pair("bob/1.png", "new"), pair("bob/2.png", "old")]
    );
    assert_eq!(summary(Some("new")), vec![pair("bob/1.png", "new")]);
    assert_eq!(summary(Some("old")), vec![pair("bob/2.png", "old")]);
}
