/// Why a split could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    #[error("no items to split")]
    NoItems,
    #[error(
        "bad ratios {0:?}: want three whole numbers train:val:test, train above 0 (e.g. 3:1:1)"
    )]
    BadRatios(String),
    #[error("{}", too_small_message(.0))]
    TagsTooSmall(Vec<TooSmall>),
}

/// A tag with fewer groups than splits to fill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooSmall {
    pub tag: String,
    pub items: usize,
    pub groups: usize,
    /// Splits with a non-zero ratio, each of which needs at least one item of every tag.
    pub needed: usize,
}

fn too_small_message(tags: &[TooSmall]) -> String {
    let each: Vec<String> = tags
        .iter()
        .map(|t| {
            format!(
                "tag {:?} has {} items in {} independent groups",
                t.tag, t.items, t.groups
            )
        })
        .collect();
    format!(
        "too few photos to put at least one in each of the {} splits: {} (add photos or drop the tag)",
        tags.first().map_or(0, |t| t.needed),
        each.join("; ")
    )
}
