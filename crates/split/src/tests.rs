use super::*;

fn item(id: &str, tag: &str, source: &str, phash: u64) -> SplitItem {
    SplitItem {
        id: id.into(),
        tag: tag.into(),
        source: source.into(),
        phash: Some(PerceptualHash(phash)),
    }
}

/// `n` items of one tag with far-apart hashes (each its own group).
fn tag_items(tag: &str, n: usize) -> Vec<SplitItem> {
    (0..n)
        .map(|i| {
            // Spread hashes: distinct multiples of a large odd constant differ in many bits.
            let salt: u64 = tag.bytes().map(u64::from).sum::<u64>() << 20;
            let h = (i as u64 + 1 + salt).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            item(
                &format!("{tag}/{i:04}_0.png"),
                tag,
                &format!("{tag}-{i}"),
                h,
            )
        })
        .collect()
}

#[test]
fn targets_are_largest_remainder() {
    assert_eq!(targets(5, [3, 1, 1]), [3, 1, 1]);
    assert_eq!(targets(530, [3, 1, 1]), [318, 106, 106]);
    assert_eq!(targets(121, [3, 1, 1]), [73, 24, 24]);
    assert_eq!(targets(7, [3, 1, 1]), [4, 2, 1]);
    assert_eq!(targets(3, [8, 1, 1]), [1, 1, 1]);
    assert_eq!(targets(10, [4, 1, 0]), [8, 2, 0]);
}

#[test]
fn counts_follow_ratios_and_every_split_gets_each_tag() {
    for n in 3..40 {
        let items = tag_items("a", n);
        let out = split(&items, &SplitOptions::default()).unwrap();
        let c = out.counts["a"];
        assert_eq!(c, targets(n, [3, 1, 1]), "n = {n}");
        assert!(c.iter().all(|&x| x >= 1));
    }
}

#[test]
fn same_source_and_near_hashes_stay_together() {
    let mut items = tag_items("a", 20);
    // Two chips of one photo, and a photo 3 bits from another one.
    items.push(item("a/x_0.png", "a", "X", 0xFFFF_0000_FFFF_0000));
    items.push(item("a/x_1.png", "a", "X", 0xFFFF_0000_FFFF_0000));
    items.push(item("a/y_0.png", "a", "Y", 0xFFFF_0000_FFFF_0007));
    let out = split(&items, &SplitOptions::default()).unwrap();
    let s = &out.splits;
    let p = s.part_of("a/x_0.png");
    assert_eq!(s.part_of("a/x_1.png"), p);
    assert_eq!(s.part_of("a/y_0.png"), p);
    assert_eq!(
        s.groups,
        vec![vec![
            "a/x_0.png".to_string(),
            "a/x_1.png".into(),
            "a/y_0.png".into()
        ]]
    );
}

#[test]
fn input_order_does_not_matter_and_seed_does() {
    let mut items = tag_items("a", 30);
    items.extend(tag_items("b", 12));
    let a = split(&items, &SplitOptions::default()).unwrap();
    items.reverse();
    let b = split(&items, &SplitOptions::default()).unwrap();
    assert_eq!(a, b);
    let other = SplitOptions {
        seed: 6,
        ..SplitOptions::default()
    };
    let c = split(&items, &other).unwrap();
    assert_ne!(a.splits.train, c.splits.train);
    assert_eq!(a.counts, c.counts);
}

#[test]
fn tiny_tags_warn_or_fail_by_name() {
    let mut items = tag_items("big", 20);
    items.extend(tag_items("four", 4));
    let out = split(&items, &SplitOptions::default()).unwrap();
    assert_eq!(
        out.warnings,
        vec![SplitWarning::FewItems {
            tag: "four".into(),
            items: 4
        }]
    );

    items.extend(tag_items("two", 2));
    let err = split(&items, &SplitOptions::default()).unwrap_err();
    assert!(err.to_string().contains("\"two\""), "{err}");
    assert!(!err.to_string().contains("\"four\""), "{err}");

    // Three photos, but two are near-duplicates: only two groups, so still too small.
    let mut near = tag_items("big", 20);
    near.push(item("n/1.png", "n", "n1", 0));
    near.push(item("n/2.png", "n", "n2", 1));
    near.push(item("n/3.png", "n", "n3", u64::MAX));
    let err = split(&near, &SplitOptions::default()).unwrap_err();
    assert!(err.to_string().contains("\"n\" has 3 items in 2"), "{err}");
}

#[test]
fn groups_larger_than_a_share_still_fill_every_split() {
    // Sizes 2, 2, 1 against targets 3, 1, 1: greedy alone would leave test empty.
    let mut items = Vec::new();
    for (src, n) in [("p", 2), ("q", 2), ("r", 1)] {
        for k in 0..n {
            let h = match src {
                "p" => 0,
                "q" => u64::MAX,
                _ => 0x0000_FFFF_0000_FFFF,
            };
            items.push(item(&format!("t/{src}_{k}.png"), "t", src, h));
        }
    }
    let out = split(&items, &SplitOptions::default()).unwrap();
    assert!(out.counts["t"].iter().all(|&c| c >= 1), "{:?}", out.counts);
}

#[test]
fn ratios_parse() {
    assert_eq!(parse_ratios("3:1:1").unwrap(), [3, 1, 1]);
    assert_eq!(parse_ratios("8:1:1").unwrap(), [8, 1, 1]);
    assert!(parse_ratios("3:1").is_err());
    assert!(parse_ratios("0:1:1").is_err());
    assert!(parse_ratios("a:1:1").is_err());
}
