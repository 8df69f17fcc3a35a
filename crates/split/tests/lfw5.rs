//! The split on real photos: LFW "five people" (1,140 photos, one known near-duplicate pair).

use kao_dataset::{read_tree, BoxF, ChipRecord, SourceRef, SplitPart, WorkDir};
use kao_image::{Limits, NEAR_DUPLICATE_DISTANCE};
use kao_split::{split_chips, targets, SplitOptions};

use kao_testdata::shared;

/// One pseudo-chip per photo, as the crop stage would write: the central 150×150 of the
/// 250×250 photo, carrying the photo's content id and perceptual hash.
fn lfw5_chips() -> Option<Vec<ChipRecord>> {
    let Some(shared) = shared() else {
        eprintln!("skipping: shared/datasets/lfw5 not found");
        return None;
    };
    let tree = read_tree(&shared.join("datasets/lfw5"), &Limits::default(), &|_| {}).unwrap();
    assert_eq!(tree.items.len(), 1140);
    let chips = tree
        .items
        .iter()
        .map(|it| ChipRecord {
            source: SourceRef {
                tag: it.tag.clone(),
                rel: it.rel.clone(),
                path: it.path.display().to_string(),
                content_id: it.content_id.clone(),
                phash: Some(it.phash),
            },
            chip: format!("{}/{}_0.png", it.tag, WorkDir::short_id(&it.content_id)),
            face_index: 0,
            bbox: BoxF {
                x: 50.0,
                y: 50.0,
                width: 150.0,
                height: 150.0,
            },
            score: 1.0,
            landmarks: Vec::new(),
            transform: [1.0, 0.0, 50.0, 0.0, 1.0, 50.0],
            size: 150,
            settings: "test".into(),
        })
        .collect();
    Some(chips)
}

#[test]
fn lfw5_split_is_leakage_free_stratified_and_deterministic() {
    let Some(chips) = lfw5_chips() else { return };
    let out = split_chips(&chips, &SplitOptions::default()).unwrap();
    let s = &out.splits;
    assert_eq!(s.train.len() + s.val.len() + s.test.len(), chips.len());
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);

    // No pair of photos within the near-duplicate distance is split apart (all pairs).
    let part = |c: &ChipRecord| s.part_of(&c.chip).expect("every chip placed");
    let mut near_pairs = 0;
    for (i, a) in chips.iter().enumerate() {
        for b in &chips[i + 1..] {
            let d = a.source.phash.unwrap().distance(b.source.phash.unwrap());
            if d <= NEAR_DUPLICATE_DISTANCE {
                near_pairs += 1;
                assert_eq!(
                    part(a),
                    part(b),
                    "{} and {} ({d} bits)",
                    a.source.rel,
                    b.source.rel
                );
            }
        }
    }
    assert!(near_pairs >= 1);
    let find = |name: &str| chips.iter().find(|c| c.source.rel.ends_with(name)).unwrap();
    let (a, b) = (
        find("George_W_Bush_0130.jpg"),
        find("George_W_Bush_0206.jpg"),
    );
    assert_eq!(part(a), part(b));
    assert!(s
        .groups
        .iter()
        .any(|g| g.contains(&a.chip) && g.contains(&b.chip)));

    // Per tag, each split within one item of 3:1:1.
    for (tag, count) in &out.counts {
        let n: usize = count.iter().sum();
        for (p, &c) in count.iter().enumerate() {
            let ideal = n as f64 * [3.0, 1.0, 1.0][p] / 5.0;
            assert!((c as f64 - ideal).abs() <= 1.0, "{tag}: {count:?} of {n}");
        }
        assert_eq!(*count, targets(n, [3, 1, 1]), "{tag}");
    }
    assert_eq!(out.counts["George_W_Bush"], [318, 106, 106]);

    // Same seed, any input order: the same file; another seed: another shuffle.
    let mut reversed = chips.clone();
    reversed.reverse();
    assert_eq!(
        split_chips(&reversed, &SplitOptions::default()).unwrap(),
        out
    );
    let other = SplitOptions {
        seed: 99,
        ..SplitOptions::default()
    };
    assert_ne!(split_chips(&chips, &other).unwrap().splits.test, s.test);

    // Round trip through splits.json.
    let dir = tempfile::tempdir().unwrap();
    let path = WorkDir::new(dir.path()).splits();
    s.write(&path).unwrap();
    let back = kao_dataset::Splits::read(&path).unwrap();
    assert_eq!(&back, s);
    assert_eq!(back.part_of(&a.chip), Some(part(a)));
    assert!(SplitPart::ALL.iter().all(|&p| !back.part(p).is_empty()));
}
