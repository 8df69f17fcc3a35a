#![doc = include_str!("../README.md")]

mod assign;
mod error;
mod groups;

use std::collections::BTreeMap;

use kao_dataset::{ChipRecord, Splits};
use kao_image::PerceptualHash;

pub use assign::targets;
pub use error::{SplitError, TooSmall};
pub use groups::group_items;

/// Seed used when none is given: the same chips always split the same way.
pub const DEFAULT_SEED: u64 = 5;

/// Custom Vision's minimum number of images per tag; smaller tags get a warning.
pub const MIN_ITEMS_PER_TAG: usize = 5;

/// How to split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitOptions {
    pub seed: u64,
    /// Relative sizes of train, validation and test.
    pub ratios: [u32; 3],
    /// Source photos whose perceptual hashes are at most this many bits apart are one group.
    pub near_distance: u32,
}

impl Default for SplitOptions {
    fn default() -> Self {
        SplitOptions {
            seed: DEFAULT_SEED,
            ratios: [3, 1, 1],
            near_distance: kao_image::NEAR_DUPLICATE_DISTANCE,
        }
    }
}

/// One thing to split: a chip (or any item) with the photo it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitItem {
    /// Stable id written to `splits.json` (a chip path relative to `faces/`).
    pub id: String,
    pub tag: String,
    /// Content id of the source photo: items that share it are always in one split.
    pub source: String,
    /// Perceptual hash of the source photo, for near-duplicate grouping.
    pub phash: Option<PerceptualHash>,
}

impl From<&ChipRecord> for SplitItem {
    fn from(c: &ChipRecord) -> Self {
        SplitItem {
            id: c.chip.clone(),
            tag: c.source.tag.clone(),
            source: c.source.content_id.clone(),
            phash: c.source.phash,
        }
    }
}

/// Something worth telling the user that does not stop the split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitWarning {
    /// Fewer than [`MIN_ITEMS_PER_TAG`] items: Custom Vision would refuse to train.
    FewItems { tag: String, items: usize },
    /// Near-duplicate photos filed under different tags (a mislabel, or one photo of two
    /// people): kept together, counted under `placed_under`.
    CrossTagGroup {
        ids: Vec<String>,
        placed_under: String,
    },
    /// The same id appeared more than once (a re-run appended a newer record): the last won.
    DuplicateId { id: String },
}

impl std::fmt::Display for SplitWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SplitWarning::FewItems { tag, items } => write!(
                f,
                "tag {tag:?} has only {items} items (Custom Vision needs at least {MIN_ITEMS_PER_TAG})"
            ),
            SplitWarning::CrossTagGroup { ids, placed_under } => write!(
                f,
                "near-duplicate photos under different tags kept together under {placed_under:?}: {}",
                ids.join(", ")
            ),
            SplitWarning::DuplicateId { id } => {
                write!(f, "{id} listed more than once; using its last record")
            }
        }
    }
}

/// The split, per-tag counts and warnings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitOutcome {
    pub splits: Splits,
    /// Items per tag in train, val, test.
    pub counts: BTreeMap<String, [usize; 3]>,
    pub warnings: Vec<SplitWarning>,
}

/// Splits chip records (`faces/manifest.jsonl`); see [`split`].
pub fn split_chips(
    chips: &[ChipRecord],
    options: &SplitOptions,
) -> Result<SplitOutcome, SplitError> {
    let items: Vec<SplitItem> = chips.iter().map(SplitItem::from).collect();
    split(&items, options)
}

/// Splits items into train/val/test, stratified per tag, keeping groups whole.
///
/// Items of one source photo, and photos whose perceptual hashes are within
/// `near_distance`, form a group that goes to one split. Per tag, groups are put in a
/// seeded order and handed to the split furthest below its target (largest-remainder
/// targets), so counts are within one item of the ratios unless large groups forbid it.
/// The result depends only on the items (not their order), the seed and the ratios.
pub fn split(items: &[SplitItem], options: &SplitOptions) -> Result<SplitOutcome, SplitError> {
    check_ratios(options.ratios)?;
    let mut warnings = Vec::new();
    let items = dedupe(items, &mut warnings);
    if items.is_empty() {
        return Err(SplitError::NoItems);
    }
    let groups = group_items(&items, options.near_distance);

    // Each group is counted under its majority tag.
    let mut by_tag: BTreeMap<&str, Vec<&[usize]>> = BTreeMap::new();
    for g in &groups {
        let tag = majority_tag(&items, g);
        if g.iter().any(|&i| items[i].tag != tag) {
            warnings.push(SplitWarning::CrossTagGroup {
                ids: g.iter().map(|&i| items[i].id.clone()).collect(),
                placed_under: tag.to_string(),
            });
        }
        by_tag.entry(tag).or_default().push(g);
    }

    let needed = options.ratios.iter().filter(|&&r| r > 0).count();
    let too_small: Vec<TooSmall> = by_tag
        .iter()
        .filter(|(_, gs)| gs.len() < needed)
        .map(|(tag, gs)| TooSmall {
            tag: tag.to_string(),
            items: gs.iter().map(|g| g.len()).sum(),
            groups: gs.len(),
            needed,
        })
        .collect();
    if !too_small.is_empty() {
        return Err(SplitError::TagsTooSmall(too_small));
    }

    let mut parts: [Vec<String>; 3] = Default::default();
    let mut counts = BTreeMap::new();
    for (tag, gs) in &by_tag {
        let sizes: Vec<usize> = gs.iter().map(|g| g.len()).collect();
        let firsts: Vec<&str> = gs.iter().map(|g| items[g[0]].id.as_str()).collect();
        let placed = assign::assign(&sizes, &firsts, tag, options.seed, options.ratios);
        let mut count = [0usize; 3];
        for (g, &p) in gs.iter().zip(&placed) {
            count[p] += g.len();
            parts[p].extend(g.iter().map(|&i| items[i].id.clone()));
        }
        let total: usize = count.iter().sum();
        if total < MIN_ITEMS_PER_TAG {
            warnings.push(SplitWarning::FewItems {
                tag: tag.to_string(),
                items: total,
            });
        }
        counts.insert(tag.to_string(), count);
    }
    for p in &mut parts {
        p.sort();
    }
    let [train, val, test] = parts;
    let groups = groups
        .iter()
        .filter(|g| g.len() > 1)
        .map(|g| g.iter().map(|&i| items[i].id.clone()).collect())
        .collect();
    Ok(SplitOutcome {
        splits: Splits {
            seed: options.seed,
            ratios: options.ratios,
            near_distance: options.near_distance,
            train,
            val,
            test,
            groups,
        },
        counts,
        warnings,
    })
}

/// Parses `3:1:1` (train:val:test).
pub fn parse_ratios(text: &str) -> Result<[u32; 3], SplitError> {
    let bad = || SplitError::BadRatios(text.to_string());
    let parts: Vec<&str> = text.split(':').collect();
    if parts.len() != 3 {
        return Err(bad());
    }
    let mut out = [0u32; 3];
    for (o, p) in out.iter_mut().zip(parts) {
        *o = p.trim().parse().map_err(|_| bad())?;
    }
    check_ratios(out)?;
    Ok(out)
}

fn check_ratios(r: [u32; 3]) -> Result<(), SplitError> {
    // Overflow-free sums for the largest-remainder arithmetic need modest ratios.
    if r[0] == 0 || r.iter().any(|&x| x > 1_000_000) {
        return Err(SplitError::BadRatios(format!("{}:{}:{}", r[0], r[1], r[2])));
    }
    Ok(())
}

/// Sorted by id; a repeated id keeps its last record (manifests are append-only).
fn dedupe(items: &[SplitItem], warnings: &mut Vec<SplitWarning>) -> Vec<SplitItem> {
    let mut by_id: BTreeMap<&str, &SplitItem> = BTreeMap::new();
    for it in items {
        if by_id.insert(&it.id, it).is_some() {
            warnings.push(SplitWarning::DuplicateId { id: it.id.clone() });
        }
    }
    by_id.into_values().cloned().collect()
}

fn majority_tag<'a>(items: &'a [SplitItem], group: &[usize]) -> &'a str {
    let mut n: BTreeMap<&str, usize> = BTreeMap::new();
    for &i in group {
        *n.entry(&items[i].tag).or_default() += 1;
    }
    // Most items first; among equals the smallest tag name (BTreeMap order, first max).
    let best = n.values().copied().max().unwrap_or(0);
    n.into_iter()
        .find(|&(_, c)| c == best)
        .map(|(t, _)| t)
        .unwrap_or("")
}

#[cfg(test)]
mod tests;
